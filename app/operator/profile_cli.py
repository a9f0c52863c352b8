"""`flask --app wsgi messenger profile apply|show|clear`: the page's Messenger Profile.

Thin on purpose: arguments in, a call into profile.py, lines out; errors as in cli.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from flask import current_app

from ..facebook import GraphError
from . import profile
from .cli import _echo, _fail, _graph, _graph_failed, _page, messenger, page_option


@messenger.group("profile")
def profile_group() -> None:
    """Messenger Profile: Get Started button, greeting, ice breakers, persistent menu."""


@profile_group.command("apply")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@page_option
def profile_apply(file: Path, page: str | None) -> None:
    """Check FILE against Meta's limits, then set its fields on the page."""
    try:
        wanted = profile.load(file)
    except profile.ProfileError as exc:
        count = len(exc.problems)
        _fail(f"{file}: {count} problem{'s' if count > 1 else ''}, nothing sent", exc.problems)
    page_id = _page(page)
    try:
        profile.apply(_graph(), wanted, page_id)
    except GraphError as exc:
        _graph_failed("could not set the profile", exc)
    fields = [field for field in profile.FIELDS if field in wanted]
    _echo(f"set {', '.join(fields)} from {file}" + (f" on page {page_id}" if page_id else ""))
    for note in profile.notes(wanted, current_app.config.get("GET_STARTED_PAYLOAD")):
        _echo(f"note: {note}")


@profile_group.command("show")
@page_option
def profile_show(page: str | None) -> None:
    """Print the page's current profile as JSON that `profile apply` accepts."""
    try:
        current = profile.show(_graph(), _page(page))
    except GraphError as exc:
        _graph_failed("cannot read the profile", exc)
    _echo(json.dumps(current, indent=2, ensure_ascii=False))
    if not current:
        _echo("note: none of " + ", ".join(profile.FIELDS) + " is set", err=True)


@profile_group.command("clear")
@click.option(
    "--field",
    "fields",
    multiple=True,
    type=click.Choice(profile.FIELDS),
    help="Clear only this field (repeatable). Default: all four.",
)
@page_option
def profile_clear(fields: tuple[str, ...], page: str | None) -> None:
    """Remove the Get Started button, greeting, ice breakers and persistent menu."""
    chosen = [field for field in profile.FIELDS if field in fields] or list(profile.FIELDS)
    try:
        profile.clear(_graph(), chosen, _page(page))
    except GraphError as exc:
        _graph_failed("could not clear the profile", exc)
    _echo(f"cleared {', '.join(chosen)}")

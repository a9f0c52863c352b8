"""`flask --app wsgi messenger profile apply|show|clear`: the page's Messenger Profile, and the
ice breakers of the Instagram accounts (the file's `instagram` section).

Thin on purpose: arguments in, a call into profile.py or profile_instagram.py, lines out;
errors as in cli.py. The Instagram accounts are every configured one (a Page's linked account,
an Instagram Login account), or the one `--instagram` names.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from flask import current_app

from ..facebook import GraphError
from . import doctor, instagram, profile
from . import profile_instagram as ig_profile
from .cli import (
    _echo,
    _fail,
    _fail_quietly,
    _graph,
    _graph_failed,
    _hint,
    _page,
    messenger,
    page_option,
)

INSTAGRAM_LOGIN_MESSAGING = "instagram_business_manage_messages"
instagram_option = click.option(
    "--instagram",
    "chosen",
    metavar="ACCOUNT_ID",
    help="The Instagram account whose ice breakers to work on (default: every configured one).",
)


@messenger.group("profile")
def profile_group() -> None:
    """Messenger Profile: Get Started button, greeting, ice breakers, persistent menu; and the
    Instagram accounts' ice breakers."""


@profile_group.command("apply")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@page_option
@instagram_option
def profile_apply(file: Path, page: str | None, chosen: str | None) -> None:
    """Check FILE against Meta's limits, then set its fields on the page, and its instagram
    section's ice breakers on each Instagram account."""
    try:
        wanted = profile.with_bot_items(profile.load(file), current_app.config)
        problems = profile.validate(wanted)  # the bot's items must fit Meta's limits too
        if problems:
            raise profile.ProfileError(problems)
    except profile.ProfileError as exc:
        count = len(exc.problems)
        _fail(f"{file}: {count} problem{'s' if count > 1 else ''}, nothing sent", exc.problems)
    fields = [field for field in profile.FIELDS if field in wanted]
    if fields and not instagram.has_pages(current_app.config):
        _fail(
            f"the file sets {', '.join(fields)}, but no page token is configured "
            "(FB_PAGE_ACCESS_TOKEN or FB_PAGE_TOKENS); nothing sent",
            [],
        )
    page_id = _page(page) if fields else None
    section = wanted.get(ig_profile.SECTION)
    if chosen and not section:
        _fail(f"--instagram: {file} has no instagram section; nothing sent", [])
    accounts = _accounts(chosen) if section else []
    if fields:
        try:
            profile.apply(_graph(), wanted, page_id)
        except GraphError as exc:
            _graph_failed("could not set the profile", exc)
        _echo(f"set {', '.join(fields)} from {file}" + (f" on page {page_id}" if page_id else ""))
        for note in profile.notes(wanted, current_app.config.get("GET_STARTED_PAYLOAD")):
            _echo(f"note: {note}")
    if section and not accounts:
        _echo(
            "note: the instagram section was not sent: no Instagram account is linked to the "
            "page or listed in INSTAGRAM_ACCOUNTS"
        )
        return
    done = _each(
        accounts,
        "set the ice breakers",
        lambda account: ig_profile.apply(_graph(), account, section),
        f"set ice_breakers from {file}",
    )
    if done:
        _echo(f"note: {ig_profile.DESKTOP_NOTE}")


@profile_group.command("show")
@page_option
@instagram_option
def profile_show(page: str | None, chosen: str | None) -> None:
    """Print the page's current profile, with the Instagram account's ice breakers, as JSON
    that `profile apply` accepts."""
    accounts = _accounts(chosen, needed=False)
    current: dict[str, Any] = {}
    if instagram.has_pages(current_app.config):
        try:
            current = profile.show(_graph(), _page(page))
        except GraphError as exc:
            _graph_failed("cannot read the profile", exc)
    if len(accounts) == 1:
        try:
            found = ig_profile.show(_graph(), accounts[0])
        except GraphError as exc:
            _graph_failed(f"cannot read the ice breakers of {accounts[0].label()}", exc)
        if found:
            current[ig_profile.SECTION] = found
    _echo(json.dumps(current, indent=2, ensure_ascii=False))
    if len(accounts) > 1:
        ids = ", ".join(account.id for account in accounts)
        _echo(
            f"note: {len(accounts)} Instagram accounts ({ids}): add --instagram ACCOUNT_ID to "
            "show one's ice breakers",
            err=True,
        )
    if not current:
        _echo("note: none of " + ", ".join(profile.SECTIONS) + " is set", err=True)


@profile_group.command("clear")
@click.option(
    "--field",
    "fields",
    multiple=True,
    type=click.Choice(profile.SECTIONS),
    help="Clear only this field (repeatable); instagram: the Instagram accounts' ice breakers. "
    "Default: the four Messenger fields.",
)
@page_option
@instagram_option
def profile_clear(fields: tuple[str, ...], page: str | None, chosen: str | None) -> None:
    """Remove the Get Started button, greeting, ice breakers and persistent menu (or the
    Instagram accounts' ice breakers, with --field instagram)."""
    if chosen and ig_profile.SECTION not in fields:
        _fail("--instagram works with --field instagram", [])
    picked = [field for field in profile.FIELDS if field in fields]
    if not fields:
        picked = list(profile.FIELDS)
    if picked and not instagram.has_pages(current_app.config):
        _fail(
            "no page token is configured (FB_PAGE_ACCESS_TOKEN or FB_PAGE_TOKENS): "
            "clear the Instagram ice breakers with --field instagram",
            [],
        )
    accounts = _accounts(chosen) if ig_profile.SECTION in fields else []
    if picked:
        try:
            profile.clear(_graph(), picked, _page(page))
        except GraphError as exc:
            _graph_failed("could not clear the profile", exc)
        _echo(f"cleared {', '.join(picked)}")
    clear = lambda account: ig_profile.clear(_graph(), account)  # noqa: E731
    _each(accounts, "clear the ice breakers", clear, "cleared ice_breakers")


def _accounts(chosen: str | None, *, needed: bool = True) -> list[instagram.Account]:
    """The Instagram accounts to work on: every configured one, or the one chosen. A single
    page token's linked account is asked of Graph: when it cannot be, `needed` stops the
    command; otherwise (show) a note says so and the command goes on without it."""
    try:
        found = instagram.accounts(_graph(), current_app.config)
    except GraphError as exc:
        if needed:
            _graph_failed("cannot learn the Instagram account linked to the page", exc)
        _echo(f"note: cannot learn the Instagram account linked to the page: {exc}", err=True)
        found = [instagram.Account(a) for a in current_app.config.get("INSTAGRAM_ACCOUNTS") or {}]
    if chosen is None:
        return found
    picked = [account for account in found if account.id == chosen]
    if not picked:
        listed = ", ".join(account.id for account in found) or "none"
        _fail(f"no Instagram account {chosen} (configured: {listed})", [])
    return picked


def _each(
    accounts: list[instagram.Account], what: str, act: Callable[[Any], Any], done: str
) -> int:
    """Do `act` on each account, one line each; a refusal is named with its fix and the others
    still done, then the command exits 1. Returns how many were done."""
    failed = 0
    for account in accounts:
        try:
            act(account)
        except GraphError as exc:
            failed += 1
            _echo(f"error: {account.label()}: could not {what}: {exc}", err=True)
            hint = _account_hint(exc, account)
            if hint:
                _echo(f"  {hint}", err=True)
            continue
        _echo(f"{account.label()}: {done}")
    if failed:
        _fail_quietly(f"{failed} of {len(accounts)} Instagram accounts not changed")
    return len(accounts)


def _account_hint(exc: GraphError, account: instagram.Account) -> str | None:
    """The likely fix: the token that answers for the account is its page's, or its own."""
    if exc.code == 190:
        return doctor.TOKEN_FIX if account.page else instagram.token_fix(account.id)
    if exc.code in doctor.PERMISSION_CODES:
        needed = (
            "instagram_manage_messages" if account.page else "instagram_business_manage_messages"
        )
        return f"the token lacks {needed}: grant it when generating the token"
    return _hint(exc)

"""`flask --app wsgi messenger pause|resume|status PSID`: steer the bot for one person.

They work on the service's own store (SQLite on this host, or Redis with REDIS_URL from any
host), so every worker sees the change at once. On Heroku every dyno has its own disk, so
without Redis a command run with `heroku run` would only change its own one-off dyno's file:
pause and resume refuse there, and status says what it shows.
"""

from __future__ import annotations

from datetime import datetime

import click
from flask import current_app

import config

from ..facebook import GraphError
from .cli import _echo, _fail, _graph, _graph_failed, _page, messenger, page_option

RECENT = 10  # messages `status` shows
SHARED_STORE = (
    "pause/resume need the shared store: on Heroku every dyno, one-off ones included, has its "
    "own disk; set REDIS_URL (Heroku Key-Value Store)"
)


def _own_disk_only() -> bool:
    """On a Heroku dyno with the SQLite store: nothing written here reaches the web dynos."""
    return config.dyno_without_redis(current_app.config)


def _conversation(psid: str, page: str | None) -> str:
    """The store's name for the page (or Instagram account) and person: the account from
    --page, FB_PAGE_TOKENS, or asked of Graph for a single token."""
    if not psid.isdigit():
        _fail(f"{psid!r} is not a page-scoped id (the digits Meta gives a person)", [])
    if page is not None and _graph().accounts.serves(page, None) and page not in _pages():
        return f"{page}:{psid}"  # an Instagram account we answer for
    chosen = _page(page)
    if chosen is None:
        try:
            chosen = _graph().api("GET", "/me", params={"fields": "id"})["id"]
        except GraphError as exc:
            _graph_failed("cannot learn the page of FB_PAGE_ACCESS_TOKEN (or give --page)", exc)
    return f"{chosen}:{psid}"


def _pages() -> list[str]:
    """The pages of FB_PAGE_TOKENS."""
    return list(current_app.config.get("FB_PAGE_TOKENS") or {})


def _store():
    """The service's store, guarded as in the pipeline."""
    return current_app.extensions["messenger"].ledger


def _when(epoch: float) -> str:
    """A time in the operator's local zone, to the minute."""
    return datetime.fromtimestamp(epoch).astimezone().strftime("%Y-%m-%d %H:%M %Z")


@messenger.command("pause")
@click.argument("psid")
@page_option
@click.option(
    "--minutes",
    type=click.FloatRange(min=1, max=60 * 24 * 30),
    help="How long the bot stays quiet (default: HUMAN_PAUSE_MINUTES, or 60).",
)
def pause(psid: str, page: str | None, minutes: float | None) -> None:
    """Keep the bot quiet for one person; their messages are still kept."""
    if _own_disk_only():
        _fail(SHARED_STORE, [])
    name = _conversation(psid, page)
    minutes = minutes or current_app.config["HUMAN_PAUSE_MINUTES"] or 60.0
    store = _store()
    store.resume(name)  # an operator's pause replaces any other, shorter or longer
    store.pause(name, minutes * 60)
    until = store.paused_until(name)
    if until is None:
        _fail("the store did not keep the pause (see the log)", [])
    _echo(f"paused for {psid} until {_when(until)}")


@messenger.command("resume")
@click.argument("psid")
@page_option
def resume(psid: str, page: str | None) -> None:
    """Let the bot answer one person again, now."""
    if _own_disk_only():
        _fail(SHARED_STORE, [])
    _store().resume(_conversation(psid, page))
    _echo(f"the bot answers {psid} again")


@messenger.command("status")
@click.argument("psid")
@page_option
def status(psid: str, page: str | None) -> None:
    """Paused until when, model calls used in this window, and the last messages kept."""
    name = _conversation(psid, page)
    settings = current_app.config
    if _own_disk_only():
        _echo(f"note: this dyno's own store is shown; {SHARED_STORE}", err=True)
    try:
        until = _store().paused_until(name)
        spent = _store().spent(name)
        kept = _store().transcript(name)
    except Exception as exc:  # the store itself failed: say so, without a traceback
        _fail(f"the store cannot be read: {type(exc).__name__}: {exc}", [])
    _echo(f"paused: {'until ' + _when(until) if until else 'no'}")
    window = settings["SPEND_WINDOW_MINUTES"]
    _echo(f"model calls in this {window:g}-minute window: {spent} of {settings['SPEND_LIMIT']}")
    if not kept.entries:
        _echo("messages kept: none")
        return
    _echo(f"last {min(RECENT, len(kept.entries))} of {len(kept.entries)} messages kept:")
    for entry in kept.entries[-RECENT:]:
        who = "page  " if entry.from_page else "person"
        text = " ".join(entry.text.split())
        _echo(f"  {_when(entry.at)}  {who}  {text[:100]}{'…' if len(text) > 100 else ''}")

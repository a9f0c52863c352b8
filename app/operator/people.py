"""`flask --app wsgi messenger forget|export PSID`: a person's rights over what the bot keeps —
erasure (GDPR Art. 17) and a copy (Art. 15) — answered from the service's own store.

With the SQLite store on Heroku they refuse, as pause and resume do: a one-off dyno has its
own disk, and an erasure there would erase nothing the web dynos keep.
"""

from __future__ import annotations

import json

import click

from .cli import _echo, _fail, messenger, page_option
from .control import SHARED_STORE, _conversation, _own_disk_only, _store


@messenger.command("forget")
@click.argument("psid")
@page_option
def forget(psid: str, page: str | None) -> None:
    """Erase everything kept about one person on one page or Instagram account: messages,
    events waiting for an answer, pause, spend count. Only the time of the erasure stays, so
    the conversation is never read back from Meta's inbox."""
    if _own_disk_only():
        _fail(SHARED_STORE, [])
    name = _conversation(psid, page)
    try:
        _store().erase(name)
    except Exception as exc:  # the store failed: nothing may be said erased
        _fail(f"nothing was erased: the store failed ({type(exc).__name__}: {exc})", [])
    _echo(f"erased what was kept of {psid}; their earlier messages will not be read back")


@messenger.command("export")
@click.argument("psid")
@page_option
def export(psid: str, page: str | None) -> None:
    """Print, as JSON, everything the bot keeps about one person (an access request)."""
    if _own_disk_only():
        _echo(f"note: this dyno's own store is shown; {SHARED_STORE}", err=True)
    name = _conversation(psid, page)
    try:
        kept = _store().export(name)
    except Exception as exc:
        _fail(f"the store cannot be read: {type(exc).__name__}: {exc}", [])
    account, _, person = name.partition(":")
    document = {"person": person, "account": account, **kept}
    _echo(json.dumps(document, ensure_ascii=False, indent=2, default=str))

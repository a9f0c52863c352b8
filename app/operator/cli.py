"""Operator commands: `flask --app wsgi messenger doctor` and `… subscribe`, and what every
command shares (the group, the page to work on, errors and output without a secret); the
profile commands are in profile_cli.py, pause/resume/status in control.py.

Thin on purpose: arguments in, a call into doctor.py or subscription.py, lines out. Exit
code 0 when all went well, 1 on a bad file, a Graph error or a failed check, with the reason on
stderr and never a traceback or a secret.
"""

from __future__ import annotations

import os
from typing import NoReturn

import click
from flask import current_app
from flask.cli import AppGroup

import config

from ..facebook import GraphClient, GraphError
from ..logs import mask
from . import doctor, instagram, subscription
from .checks import Check

messenger = AppGroup("messenger", help="Set up and check the page's Messenger connection.")

page_option = click.option(
    "--page",
    "page",
    metavar="PAGE_ID",
    help="With FB_PAGE_TOKENS: the page to work on (needed when several are configured).",
)


@messenger.command("doctor")
def doctor_command() -> None:
    """Check the tokens, app secret, permissions, webhooks, Instagram accounts, model and
    Graph version."""
    state = current_app.extensions["messenger"]
    settings = current_app.config
    pages = settings.get("FB_PAGE_TOKENS") or {}
    checks = doctor.run(
        state.graph,
        state.model,
        settings["FB_GRAPH_API_URL"],
        pages=list(pages) or ([None] if settings.get("FB_PAGE_ACCESS_TOKEN") else []),
        app_id=settings.get("FB_APP_ID") or "",
        linked={page: entry["instagram_id"] for page, entry in pages.items()},
        logins=list(settings.get("INSTAGRAM_ACCOUNTS") or {}),
    )
    checks += doctor.store_checks(os.environ.get("DYNO"), settings["REDIS_URL"])
    if settings["REDIS_URL"]:
        checks.append(_redis_clients(settings))
    checks += doctor.handover_checks(settings)
    for check in checks:
        _echo(check.line())
    failed = sum(check.failed for check in checks)
    if failed:
        _echo(f"{failed} of {len(checks)} checks failed", err=True)
        raise SystemExit(1)
    _echo("all checks passed")


NO_METADATA = (
    "the page token lacks pages_manage_metadata: grant it when generating the token "
    "(outside development mode it needs Advanced Access through App Review)"
)
NO_INSTAGRAM_MESSAGING = (
    "the Instagram token lacks instagram_business_manage_messages: grant it when generating the "
    "token (outside development mode it needs Advanced Access through App Review)"
)


@messenger.command("subscribe")
def subscribe_command() -> None:
    """Subscribe every configured page and Instagram Login account to the webhook fields the
    bot needs (again); a page's linked Instagram account rides on the page's subscription."""
    settings = current_app.config
    entries = settings.get("FB_PAGE_TOKENS") or {}
    linked = {page: entry["instagram_id"] for page, entry in entries.items()}
    if not entries and settings.get("FB_PAGE_ACCESS_TOKEN"):
        try:
            page, account = instagram.own_page(_graph())
        except GraphError as exc:
            _graph_failed("cannot learn the page of FB_PAGE_ACCESS_TOKEN", exc)
        linked = {page: account}
    logins = list(settings.get("INSTAGRAM_ACCOUNTS") or {})
    targets = [(page, subscription.FIELDS) for page in linked]
    targets += [(account, tuple(subscription.INSTAGRAM_FIELDS)) for account in logins]
    failed = 0
    for account, fields in targets:
        label = f"instagram {account}" if account in logins else f"page {account}"
        try:
            subscription.subscribe(_graph(), account, fields)
        except GraphError as exc:
            failed += 1
            _echo(f"error: {label}: could not subscribe: {exc}", err=True)
            _echo(f"  {_subscribe_hint(exc, account, account in logins)}", err=True)
            continue
        _echo(f"{label}: subscribed to {', '.join(fields)}")
        if linked.get(account):
            carried = "the page's subscription carries its messages"
            _echo(f"instagram {linked[account]}: linked to page {account}: {carried}")
    if failed:
        kind = "accounts" if logins else "pages"
        _fail_quietly(f"{failed} of {len(targets)} {kind} not subscribed")


def _redis_clients(settings) -> Check:
    """The Redis's client limit against this host's processes, counted as gunicorn starts
    them (WEB_CONCURRENCY, else cores + 1)."""
    from ..store.redis import client_limit  # only with REDIS_URL: redis-py is not needed else

    try:
        workers = config.serving()["WEB_CONCURRENCY"] or config.cores() + 1
    except config.ConfigError as exc:
        return Check("fail", "store clients", str(exc))
    limit = client_limit(settings["REDIS_URL"])
    return doctor.redis_clients_check(limit, workers, settings["REDIS_MAX_CONNECTIONS"])


def _subscribe_hint(exc: GraphError, account: str, login: bool) -> str:
    """The likely fix when Meta refuses a subscription: a page's, or an Instagram account's."""
    if exc.code in doctor.PERMISSION_CODES:
        return NO_INSTAGRAM_MESSAGING if login else NO_METADATA
    if login and exc.code == 190:
        return instagram.token_fix(account)
    if login and exc.code is None:
        return "check the network and INSTAGRAM_GRAPH_API_URL, then try again"
    return _hint(exc) or "try again in a minute"


def _graph() -> GraphClient:
    """The app's Graph client: page token in the header, appsecret_proof on every call."""
    return current_app.extensions["messenger"].graph


def _page(page: str | None) -> str | None:
    """The page to work on: --page, or the only one; refuse to guess among several."""
    pages = list(current_app.config.get("FB_PAGE_TOKENS") or {})
    if page is not None and pages and page not in pages:
        _fail(f"no token for page {page} in FB_PAGE_TOKENS (pages: {', '.join(pages)})", [])
    if page is None and len(pages) > 1:
        _fail(f"several pages configured ({', '.join(pages)}): choose one with --page", [])
    return page or (pages[0] if pages else None)


def _graph_failed(what: str, exc: GraphError) -> NoReturn:
    """Explain a Graph error with the likely fix, then exit 1."""
    hint = _hint(exc)
    _fail(f"{what}: {exc}", [hint] if hint else [])


def _hint(exc: GraphError) -> str | None:
    """The likely fix for a Graph error, when there is one to give."""
    hints = {
        190: doctor.TOKEN_FIX,
        100: "Meta refused a value, or FB_APP_SECRET does not match the token "
        "(`flask --app wsgi messenger doctor` tells which)",
        10: "the page token lacks pages_messaging",
    }
    if exc.code is None:
        return "check the network and FB_GRAPH_API_URL, then try again"
    return hints.get(exc.code)


def _fail(message: str, details: list[str]) -> NoReturn:
    """The error and its details on stderr, exit code 1."""
    _echo(f"error: {message}", err=True)
    for line in details:
        _echo(f"  {line}", err=True)
    raise SystemExit(1)


def _fail_quietly(summary: str) -> NoReturn:
    """The errors were shown one by one: a summary on stderr, exit code 1."""
    _echo(summary, err=True)
    raise SystemExit(1)


def _echo(text: str, *, err: bool = False) -> None:
    """Print with every configured secret masked, whatever the text came from."""
    click.echo(mask(text, config.secrets(current_app.config)), err=err)

"""Set-up checks: is every outside piece the bot depends on in place, and if not, what to do.

Each check calls the real service the way the bot will (the Graph client with its token header
and appsecret_proof, the openai SDK with its key) and turns the answer into one line with a fix.
No check ever shows a token, a secret or a key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import date
from typing import Any

from config import HEROKU_DISK

from ..escalation import ROUTING_FIX
from ..facebook import GraphClient, GraphError
from ..handover import PAGE_INBOX_APP_ID
from ..llm import ChatModel
from . import instagram
from .checks import PERMISSION_CODES, Check
from .model_checks import model_checks
from .subscription import check as subscription_check
from .subscription import path as subscription_path

GRAPH_SECONDS = 10.0
WARN_DAYS = 90
TOKEN_FIX = (
    "generate a new page token (Messenger → Messenger API settings → Generate token) "
    "and set FB_PAGE_ACCESS_TOKEN (or the page's entry in FB_PAGE_TOKENS)"
)

# Graph API versions and the last day each is available (Meta's changelog); None: current.
GRAPH_VERSIONS: dict[tuple[int, int], date | None] = {
    (18, 0): date(2026, 1, 26),
    (19, 0): date(2026, 5, 21),
    (20, 0): date(2026, 9, 24),
    (21, 0): date(2027, 1, 21),
    (22, 0): date(2027, 5, 20),
    (23, 0): date(2027, 10, 8),
    (24, 0): date(2028, 2, 18),
    (25, 0): date(2028, 7, 29),
    (26, 0): None,
}
CURRENT_VERSION = max(GRAPH_VERSIONS)


def run(
    graph: GraphClient,
    chat: ChatModel,
    graph_url: str,
    *,
    pages: Sequence[str | None] = (None,),
    app_id: str = "",
    linked: Mapping[str, str] | None = None,
    logins: Sequence[str] = (),
    today: date | None = None,
) -> list[Check]:
    """Every check in order: the Graph ones for each page token (and the Instagram account
    linked to it: `linked`, page → instagram_id; a single token's, as Graph names it), each
    Instagram Login account's, then the model and version."""
    checks = []
    linked = linked or {}
    for page in pages:
        found, page_id = page_checks(graph, page, app_id)
        if page_id and (page is None or linked.get(page)):
            found += instagram.linked_checks(graph, page_id, linked.get(page or "", ""), page)
        checks += _named(f"page {page}: " if page else "", found)
    for account in logins:
        checks += _named(f"instagram {account}: ", instagram.login_checks(graph, account))
    checks += model_checks(chat, today or date.today())
    checks.append(version_check(graph_url, today or date.today()))
    return checks


def _named(prefix: str, checks: list[Check]) -> list[Check]:
    """The checks of one page or account, each line saying which."""
    return [replace(c, name=prefix + c.name) for c in checks]


def page_checks(
    graph: GraphClient, page_id: str | None, app_id: str = ""
) -> tuple[list[Check], str | None]:
    """Token, app secret, app, permissions and webhook subscription of one page token; and
    the page's id once the token is proven to be that page's (None otherwise)."""

    def read(path: str, **params: Any) -> Any:
        return graph.api("GET", path, page_id=page_id, params=params, seconds=GRAPH_SECONDS)

    try:
        page = read("/me", fields="id,name")
    except GraphError as exc:
        return _dead_token(exc), None
    # The configured page's own subscription; for a single token, the page it belongs to.
    subscribed_to = page_id or str(page.get("id", "me") if isinstance(page, dict) else "me")
    token = token_check(page, page_id)
    checks = [
        token,
        Check("ok", "app secret", "appsecret_proof accepted: FB_APP_SECRET matches the token"),
    ]
    try:
        made_in = read("/app", fields="id,name")
    except GraphError as exc:
        checks.append(Check("skip", "app", f"not checked: cannot read the token's app ({exc})"))
        ours = app_id or None
    else:
        checks.append(app_check(made_in, app_id))
        found = made_in.get("id") if isinstance(made_in, dict) else None
        ours = str(found) if found else app_id or None
    try:
        apps = read(subscription_path(subscribed_to))
    except GraphError as exc:
        checks.append(_permission(exc, "pages_manage_metadata", "read the webhook subscription"))
        checks.append(Check("skip", "webhook subscription", "not checked: cannot be read"))
    else:
        checks.append(_allowed("pages_manage_metadata", "reading the webhook subscription"))
        checks.append(subscription_check(apps, ours))
    try:
        read("/me/conversations", platform="messenger", limit=1, fields="id")
    except GraphError as exc:
        checks.append(_permission(exc, "pages_messaging", "read conversations"))
    else:
        checks.append(_allowed("pages_messaging", "reading conversations"))
    return checks, (subscribed_to if token.status == "ok" else None)


def token_check(page: Any, page_id: str | None) -> Check:
    """The token works, and belongs to the page it is configured for."""
    page = page if isinstance(page, dict) else {}
    name, found = page.get("name", "?"), str(page.get("id", "?"))
    if page_id and found != page_id:
        detail = f"belongs to the page {name!r} (id {found}), not to {page_id}"
        fix = f"put the token of page {page_id} under its id in FB_PAGE_TOKENS"
        return Check("fail", "page token", detail, fix)
    return Check("ok", "page token", f"valid, for the page {name!r} (id {found})")


def app_check(made_in: Any, app_id: str) -> Check:
    """The app the token was generated in, and FB_APP_ID agreeing with it when set."""
    made_in = made_in if isinstance(made_in, dict) else {}
    name, found = made_in.get("name", "?"), str(made_in.get("id", "?"))
    if app_id and app_id != found:
        detail = f"FB_APP_ID is {app_id}, but the token was made in {name!r} (id {found})"
        fix = f"set FB_APP_ID={found}, or leave it empty to have it looked up"
        return Check("fail", "app", detail, fix)
    return Check("ok", "app", f"the token was made in {name!r} (id {found})")


def store_checks(dyno: str | None, redis_url: str | None) -> list[Check]:
    """On a Heroku dyno (DYNO set), whether the store is one every dyno shares; elsewhere a
    host keeps its disk and there is nothing to say. A failure, not a warning: the bot still
    answers, but what the store keeps is lost at every daily restart and `heroku run …
    messenger pause` cannot reach the web dynos."""
    if not dyno:
        return []
    if redis_url:
        return [Check("ok", "store", "Redis (REDIS_URL), shared by every dyno")]
    fix = "set REDIS_URL (heroku addons:create heroku-redis:mini sets it)"
    return [Check("fail", "store", f"SQLite on a Heroku dyno: {HEROKU_DISK}", fix)]


# Connections a one-off command (`heroku run flask --app wsgi messenger …`) opens beside the
# web processes: its store's, and this check's own.
ONE_OFF_CLIENTS = 2


def redis_clients_check(limit: int | None, workers: int, pool: int) -> Check:
    """Whether one host's processes fit the Redis's client limit. Past it the server refuses
    connections, and a message that cannot be claimed is answered 503: a failed delivery."""
    most = workers * (pool + 1)
    per = f"{workers} workers × ({pool} + 1 for the heartbeat)"
    if limit is None:
        fix = "keep hosts × that under your Redis plan's connection limit"
        return Check(
            "warn",
            "store clients",
            f"could not read this Redis's client limit; "
            f"each host opens up to {most} connections ({per})",
            fix,
        )
    fits = (limit - ONE_OFF_CLIENTS) // workers - 1
    fix = (
        f"set REDIS_MAX_CONNECTIONS={fits}"
        if fits >= 1
        else "run fewer workers (WEB_CONCURRENCY) or choose a plan with more connections"
    )
    detail = f"each host opens up to {most} connections ({per}); this Redis accepts {limit}"
    if most > limit:
        return Check("fail", "store clients", detail, fix)
    if most + ONE_OFF_CLIENTS > limit:
        return Check("warn", "store clients", detail + ": no room left for a one-off command", fix)
    hosts = (limit - ONE_OFF_CLIENTS) // most
    return Check("ok", "store clients", detail + f": room for {hosts} such host(s)")


def handover_checks(settings: Mapping[str, Any]) -> list[Check]:
    """What a hand-over to a person needs, said where it can be acted on: Meta offers no way
    to check Conversation Routing without a person's thread, so the line says what to set up
    and where a refused pass shows."""
    if not settings.get("HANDOVER_REPLY"):
        return []
    target = settings.get("HANDOVER_APP_ID") or f"the Page Inbox ({PAGE_INBOX_APP_ID})"
    detail = f"passes threads to {target} with Conversation Routing (not checkable here)"
    note = (
        f"{ROUTING_FIX}; a refused pass is logged as 'handover failed' with Meta's words and "
        "counted in messenger_handover_failures_total"
    )
    return [Check("skip", "hand-over to a person", detail, note)]


def version_check(graph_url: str, today: date) -> Check:
    """The Graph version in FB_GRAPH_API_URL is still served, and not about to stop."""
    name = "Graph API version"
    current = "v{}.{}".format(*CURRENT_VERSION)
    fix = f"set FB_GRAPH_API_URL to https://graph.facebook.com/{current}"
    found = re.search(r"/v(\d+)\.(\d+)(?:/|$)", graph_url)
    if not found:
        detail = "FB_GRAPH_API_URL has no version: Graph would use the oldest one available"
        return Check("fail", name, detail, fix)
    version = (int(found[1]), int(found[2]))
    label = "v{}.{}".format(*version)
    if version > CURRENT_VERSION:
        return Check("ok", name, f"{label}, newer than {current} known here")
    if version not in GRAPH_VERSIONS:
        return Check("fail", name, f"{label} is no longer available", fix)
    until = GRAPH_VERSIONS[version]
    if until is None:
        return Check("ok", name, f"{label} (current)")
    if today > until:
        return Check("fail", name, f"{label} stopped working on {until.isoformat()}", fix)
    left = (until - today).days
    if left <= WARN_DAYS:
        detail = f"{label} stops working on {until.isoformat()} ({left} days)"
        return Check("warn", name, detail, fix)
    return Check("ok", name, f"{label}, available until {until.isoformat()} ({left} days)")


def _dead_token(exc: GraphError) -> list[Check]:
    """The first read failed: say why, and skip what depends on it."""
    if exc.code == 100:
        secret = Check(
            "fail",
            "app secret",
            "Graph refused appsecret_proof (code 100): FB_APP_SECRET is not the secret of "
            "the app the page token was generated in",
            "copy App settings → Basic → App secret of that app into FB_APP_SECRET",
        )
        token = Check("skip", "page token", "not checked: the app secret must match first")
    elif exc.code == 190:
        token = Check("fail", "page token", f"invalid or expired ({_code(exc)})", TOKEN_FIX)
        secret = Check("skip", "app secret", "not checked: needs a valid page token")
    elif exc.code is None:
        fix = "check the network and FB_GRAPH_API_URL"
        token = Check("fail", "page token", f"not checked: {exc.meaning}", fix)
        secret = Check("skip", "app secret", "not checked: Graph unreachable")
    else:
        token = Check("fail", "page token", f"Graph refused it: {exc}", TOKEN_FIX)
        secret = Check("skip", "app secret", "not checked: needs a valid page token")
    return [token, secret, Check("skip", "other checks of this token", "not run")]


def _allowed(permission: str, what: str) -> Check:
    """A read that worked proves the token carries the permission."""
    return Check("ok", f"permission {permission}", f"granted ({what} works)")


def _permission(exc: GraphError, permission: str, what: str) -> Check:
    """A refused read: a missing permission, or something else worth showing as it is."""
    name = f"permission {permission}"
    if exc.code in PERMISSION_CODES:
        fix = (
            f"grant {permission} when generating the page token (outside development mode "
            "it needs Advanced Access through App Review)"
        )
        return Check("fail", name, f"missing: cannot {what} ({_code(exc)})", fix)
    fix = "try again in a minute; if it stays, look the code up in Meta's Graph error list"
    return Check("fail", name, f"cannot {what}: {exc}", fix)


def _code(exc: GraphError) -> str:
    """Meta's code/subcode, as in its documentation."""
    return f"code {exc.code}" + (f"/{exc.subcode}" if exc.subcode else "")

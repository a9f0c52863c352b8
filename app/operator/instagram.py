"""The Instagram accounts the operator commands work on, and the doctor's checks of them.

Two kinds (app/facebook/accounts.py): an account linked to a Page, reached with the Page's
token on graph.facebook.com (FB_PAGE_TOKENS "instagram_id", or with a single
FB_PAGE_ACCESS_TOKEN the one Graph names); and an Instagram Login account (INSTAGRAM_ACCOUNTS),
reached with its own token on INSTAGRAM_GRAPH_API_URL through its own id. Every call goes
through `GraphClient.api`, whose `page_id` picks the token and host of the account named.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..facebook import GraphClient, GraphError
from .checks import PERMISSION_CODES, Check
from .subscription import INSTAGRAM_FIELDS, SUBSCRIBE

SECONDS = 10.0
LINKED = "instagram account"
LINK_FIX = (
    "link the Instagram professional account to the Page in Meta Business Suite → Settings → "
    "Instagram accounts, or correct instagram_id in FB_PAGE_TOKENS"
)
PERMISSION_FIX = (
    "grant instagram_basic and instagram_manage_messages when generating the page token "
    "(outside development mode they need Advanced Access through App Review)"
)


def token_fix(account: str) -> str:
    """Where an Instagram Login token comes from, and where it goes."""
    return (
        "generate a new token (App Dashboard → Instagram → API setup with Instagram business "
        f"login → Generate token) and put it under {account} in INSTAGRAM_ACCOUNTS"
    )


@dataclass(frozen=True)
class Account:
    """One Instagram account: its id, and the Page it is linked to (None: Instagram Login)."""

    id: str
    page: str | None = None

    @property
    def via(self) -> str:
        """What `GraphClient.api(page_id=...)` needs to reach it: the Page whose token answers
        for a linked account; the account itself (its token, its host) for Instagram Login."""
        return self.page or self.id

    def label(self) -> str:
        """How the commands name it."""
        return f"instagram {self.id}"


def has_pages(settings: Mapping[str, Any]) -> bool:
    """Whether any Page token is configured (an Instagram Login deployment may have none)."""
    return bool(settings.get("FB_PAGE_TOKENS") or settings.get("FB_PAGE_ACCESS_TOKEN"))


def accounts(graph: GraphClient, settings: Mapping[str, Any]) -> list[Account]:
    """Every Instagram account of the settings; a single page token's linked account is asked
    of Graph (GraphError when it cannot be)."""
    pages = settings.get("FB_PAGE_TOKENS") or {}
    found = [Account(e["instagram_id"], page) for page, e in pages.items() if e["instagram_id"]]
    if not pages and settings.get("FB_PAGE_ACCESS_TOKEN"):
        page, linked = own_page(graph)
        if linked:
            found.append(Account(linked, page))
    return found + [Account(account) for account in settings.get("INSTAGRAM_ACCOUNTS") or {}]


def own_page(graph: GraphClient) -> tuple[str, str]:
    """The single page token's page and the Instagram account linked to it ("" for none), as
    the service learns them (GraphError when Graph cannot say)."""
    fields = {"fields": "id,instagram_business_account"}
    me = graph.api("GET", "/me", params=fields, seconds=SECONDS)
    try:
        return str(me["id"]), _linked_id(me)
    except (KeyError, TypeError):
        raise GraphError("Graph named no page for the token", sent=None) from None


def linked_checks(
    graph: GraphClient, page_id: str, expected: str, token_of: str | None
) -> list[Check]:
    """Whether the page is linked to the Instagram account configured for it (`expected`);
    with a single token (`expected` empty) the account Graph names is shown, and a page with
    none means Instagram is not in use: nothing to say."""
    try:
        body = graph.api(
            "GET",
            f"/{page_id}",
            page_id=token_of,
            params={"fields": "instagram_business_account"},
            seconds=SECONDS,
        )
    except GraphError as exc:
        detail = f"cannot read the page's Instagram account ({exc})"
        if not expected:
            return [Check("skip", LINKED, f"not checked: {detail}")]
        fix = PERMISSION_FIX if exc.code in PERMISSION_CODES else LINK_FIX
        return [Check("fail", LINKED, detail, fix)]
    linked = _linked_id(body)
    if linked and linked == (expected or linked):
        detail = f"{linked} is linked to the page {page_id} (its messages are answered with the "
        return [Check("ok", LINKED, detail + "page's token)")]
    if not expected:
        return []
    if linked:
        detail = f"the page is linked to {linked}, not to {expected} (instagram_id)"
    else:
        detail = f"no Instagram account is linked to the page (instagram_id is {expected})"
    return [Check("fail", LINKED, detail, LINK_FIX)]


def login_checks(graph: GraphClient, account: str) -> list[Check]:
    """An Instagram Login account's token (it answers for that account) and its webhook
    subscription, both read on the Instagram host with that token."""
    skipped = Check("skip", "webhook subscription", "not checked: needs a valid token")
    try:
        me = graph.api(
            "GET", "/me", page_id=account, params={"fields": "user_id,username"}, seconds=SECONDS
        )
    except GraphError as exc:
        return [_dead_token(exc, account), skipped]
    me = me if isinstance(me, dict) else {}
    found, name = str(me.get("user_id", "?")), me.get("username", "?")
    if found != account:
        detail = f"belongs to @{name} (id {found}), not to {account}"
        fix = f"put the token of {account} under its id in INSTAGRAM_ACCOUNTS"
        return [Check("fail", "token", detail, fix), skipped]
    checks = [Check("ok", "token", f"valid, for @{name} (id {account})")]
    try:
        apps = graph.api("GET", f"/{account}/subscribed_apps", page_id=account, seconds=SECONDS)
    except GraphError as exc:
        fix = f"try again in a minute; if it stays, {token_fix(account)}"
        checks.append(Check("fail", "webhook subscription", f"cannot be read: {exc}", fix))
        return checks
    checks.append(subscription_check(apps))
    return checks


def subscription_check(body: Any) -> Check:
    """The account must send us `messages`; the other fields we subscribe to are a note."""
    name, fix = "webhook subscription", f"run {SUBSCRIBE}"
    apps = body.get("data") if isinstance(body, dict) else None
    apps = [a for a in apps if isinstance(a, dict)] if isinstance(apps, list) else []
    listed = [set(a.get("subscribed_fields") or []) for a in apps]
    receiving = [fields for fields in listed if "messages" in fields]
    if not receiving:
        seen = ", ".join(sorted(set().union(*listed))) or "nothing"
        return Check("fail", name, f"messages is missing (subscribed: {seen})", fix)
    fields = receiving[0]
    missing = [f"{f} ({why})" for f, why in INSTAGRAM_FIELDS.items() if f not in fields]
    note = f"not subscribed to {', '.join(missing)}: {fix}" if missing else ""
    return Check("ok", name, f"receives {', '.join(sorted(fields))}", note)


def _dead_token(exc: GraphError, account: str) -> Check:
    """The token's first read failed: expired, refused, or Graph unreachable."""
    if exc.code == 190:
        code = f"code 190/{exc.subcode}" if exc.subcode else "code 190"
        return Check("fail", "token", f"invalid or expired ({code})", token_fix(account))
    if exc.code is None:
        fix = "check the network and INSTAGRAM_GRAPH_API_URL"
        return Check("fail", "token", f"not checked: {exc.meaning}", fix)
    return Check("fail", "token", f"Graph refused it: {exc}", token_fix(account))


def _linked_id(body: Any) -> str:
    """The id in Graph's `instagram_business_account`, or "" for none."""
    linked = body.get("instagram_business_account") if isinstance(body, dict) else None
    return str(linked.get("id") or "") if isinstance(linked, dict) else ""

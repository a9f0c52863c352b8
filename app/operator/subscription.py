"""A page's webhook subscription: the fields the bot needs, the doctor's reading of
`GET /{page-id}/subscribed_apps`, and `messenger subscribe`'s `POST` of the same (and of an
Instagram Login account's, `/{ig-id}/subscribed_apps` on the Instagram host).

Meta unsubscribes an app from a page after an hour of failed webhook deliveries; the doctor
names what is missing and `flask --app wsgi messenger subscribe` puts it back.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..facebook import GraphClient, GraphError
from .checks import Check

SUBSCRIBE = "flask --app wsgi messenger subscribe"
NEEDED_FIELDS = ("messages",)
RECOMMENDED_FIELDS = {
    "messaging_postbacks": "Get Started, menu and ice breaker taps",
    "message_echoes": "replies your team types in the Page inbox",
    "messaging_handovers": "the Page Inbox taking a thread or passing it back",
    "standby": "messages while the Page Inbox owns the thread",
    "message_edits": "a person's edited messages",
}
#: What `messenger subscribe` asks for, in this order.
FIELDS = (*NEEDED_FIELDS, *RECOMMENDED_FIELDS)
#: What `messenger subscribe` asks of an Instagram Login account, in this order, and what each
#: brings: the names of the Instagram Login column of Meta's webhook fields. `message_edit` is
#: left out: Meta lists edits for Messenger only, though its Instagram Login examples show one.
INSTAGRAM_FIELDS = {
    "messages": "what people write",
    "messaging_postbacks": "ice breaker and button taps",
    "messaging_seen": "read receipts",
    "message_reactions": "reactions to messages",
    "messaging_referral": "people arriving from ads and ig.me links",
    "messaging_handover": "Conversation Routing: the Instagram Inbox taking a thread or giving it",
    "standby": "messages while another app owns the thread",
    # Instagram Login lists echoes as a field of their own: the team's replies pause the bot.
    "message_echoes": "replies your team types in the Instagram app",
}
SECONDS = 10.0


def path(page_id: str) -> str:
    """The page's subscription, read and written with that page's token."""
    return f"/{page_id}/subscribed_apps"


def subscribe(graph: GraphClient, page_id: str, fields: Iterable[str] = FIELDS) -> None:
    """(Re)subscribe our app to the account's `fields` (a page's by default; an Instagram Login
    account's on its own host, as `page_id` routes it); GraphError when Meta refuses."""
    answer = graph.api(
        "POST",
        path(page_id),
        page_id=page_id,
        params={"subscribed_fields": ",".join(fields)},
        seconds=SECONDS,
    )
    if not (isinstance(answer, dict) and answer.get("success") is True):
        raise GraphError("Graph answered without success", sent=None)


def check(body: Any, app_id: str | None = None) -> Check:
    """Our app must get the page's `messages`; the other fields are recommended (a note)."""
    name = "webhook subscription"
    apps = body.get("data") if isinstance(body, dict) else None
    apps = [a for a in apps if isinstance(a, dict)] if isinstance(apps, list) else []
    fix = f"run {SUBSCRIBE}"
    if app_id is not None:
        others = [str(a.get("name") or a.get("id")) for a in apps if str(a.get("id")) != app_id]
        apps = [a for a in apps if str(a.get("id")) == app_id]
        if not apps:
            also = f" (subscribed: {', '.join(others)})" if others else ""
            return Check("fail", name, f"this app is not subscribed to the page{also}", fix)
    if not apps:
        return Check("fail", name, "no app is subscribed to the page", fix)
    listed = [
        (str(a.get("name") or a.get("id") or "?"), set(a.get("subscribed_fields") or []))
        for a in apps
    ]
    receiving = [(app, fields) for app, fields in listed if set(NEEDED_FIELDS) <= fields]
    if not receiving:
        seen = "; ".join(f"{a}: {', '.join(sorted(f)) or 'nothing'}" for a, f in listed)
        return Check("fail", name, f"messages is missing ({seen})", fix)
    app, fields = receiving[0]
    detail = f"{app} receives {', '.join(sorted(fields))}"
    if app_id is None and len(listed) > 1:
        detail += f" ({len(listed)} apps subscribed; check {app} is this one)"
    missing = [f"{f} ({why})" for f, why in RECOMMENDED_FIELDS.items() if f not in fields]
    note = f"not subscribed to {', '.join(missing)}: {fix}" if missing else ""
    return Check("ok", name, detail, note)

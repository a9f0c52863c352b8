"""Meta's webhook payload → small typed events, for Messenger (`object: "page"`) and Instagram
Direct (`object: "instagram"`) alike.

Everything the service does not answer is classified here, once: echoes, deliveries, reads,
reactions, edits, unsends, standby and handover events, Instagram's Dashboard test (`changes`),
and anything of a shape we do not know. Ids arrive as strings or, in older payloads, as JSON
numbers; they are strings from here on. An event's `page_id` is the account it was sent to: a
Page, or an Instagram professional account.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any

TEXT = "text"  # a person wrote text (quick-reply taps included)
POSTBACK = "postback"  # a person tapped a button
ATTACHMENT = "attachment"  # a person sent only attachments or a sticker
ECHO = "echo"  # a message the page sent
OTHER = "other"  # delivery, read, reaction, standby, handover, unknown: never answered

ANSWERED_KINDS = frozenset({TEXT, POSTBACK, ATTACHMENT})
# What people send that gets a reply (the model's or a fixed one); any other attachment type
# (Instagram's "unsupported_type", types Meta adds later) is logged and left unanswered.
KNOWN_ATTACHMENTS = frozenset(
    {"image", "audio", "video", "file", "location", "fallback", "template", "sticker"}
    | {"like_heart", "share", "ig_post", "ig_reel", "reel", "story_mention", "ephemeral"}
)
MESSENGER, INSTAGRAM = "messenger", "instagram"
CHANNELS = {"page": MESSENGER, "instagram": INSTAGRAM}  # the body's `object` → the channel
EDIT, UNSENT = "edit", "unsent"  # details of OTHER events that change the kept conversation
# Meta's thumbs-up "like" sticker; since Jun 1, 2026 stickers come as attachments of type
# "sticker" too, and after Aug 30, 2026 only so.
LIKE_STICKER_ID = "369239263222822"


@dataclass(frozen=True)
class Event:
    """One entry of `entry[].messaging[]`, reduced to what the pipeline needs."""

    kind: str
    page_id: str
    person_id: str
    mid: str | None = None
    timestamp: int = 0
    text: str = ""
    payload: str | None = None
    app_id: str | None = None  # an echo's sending app; a thread's new owner app
    attachments: tuple[dict[str, Any], ...] = field(default=(), repr=False)
    detail: str = ""
    sticker: bool = False
    standby: bool = False  # another app owns the thread: we listen, never answer
    channel: str = MESSENGER
    story: bool = False  # a reply to the business's Instagram story (the story itself: context)

    @property
    def from_person(self) -> bool:
        """A person's own message: text, a button or an attachment."""
        return self.kind in ANSWERED_KINDS and bool(self.person_id)

    @property
    def answerable(self) -> bool:
        """Only a person's own message, outside standby, gets a reply."""
        return self.from_person and not self.standby

    @property
    def images(self) -> list[str]:
        """URLs of the photos the person sent (stickers are not photos)."""
        if self.sticker:
            return []
        return [
            a["payload"]["url"]
            for a in self.attachments
            if a.get("type") == "image"
            and isinstance(a.get("payload"), dict)
            and isinstance(a["payload"].get("url"), str)
            and not _is_sticker(a)
        ]

    @property
    def conversation(self) -> str:
        """One conversation, as the store names it: a page and a person."""
        return f"{self.page_id}:{self.person_id}"

    @property
    def key(self) -> str:
        """The id a redelivery repeats: the mid, or sender and time when there is none. On
        Instagram it names the account and the person too: the same mid for three people is
        three messages."""
        if self.mid and self.channel == INSTAGRAM:
            return f"{self.page_id}:{self.person_id}:{self.mid}"
        return self.mid or f"{self.page_id}:{self.person_id}:{self.timestamp}"

    @property
    def log_id(self) -> str:
        """The key as a log line may show it: never a whole person id."""
        if self.mid:
            return self.mid
        return f"{self.page_id}:…{self.person_id[-4:]}:{self.timestamp}"

    def dump(self) -> str:
        """The whole event as JSON: what recovery needs to answer it without Meta. Field by
        field, not `asdict`: that deep-copies every attachment dict only to serialise it, four
        times the cost, on the request's path before the 200."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return json.dumps(values, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def load(cls, raw: str) -> Event:
        """An event dump()ed before."""
        values = json.loads(raw)
        values["attachments"] = tuple(values.get("attachments") or ())
        return cls(**values)


def _id(value: Any) -> str:
    """Ids come as strings or numbers; anything else is no id."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return ""
    return str(value)


def _party(value: Any) -> str:
    """The id inside a `{"id": ...}` object, or empty."""
    return _id(value.get("id")) if isinstance(value, dict) else ""


MAX_TIMESTAMP = 253_402_300_799_999  # the last millisecond of year 9999


def _int(value: Any) -> int:
    """Timestamps are integers in milliseconds; anything else, or out of range, counts as 0."""
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TIMESTAMP:
        return value
    return 0


def parse(body: Any) -> Iterator[Event]:
    """Yield every event of every entry in a webhook body, in the order Meta sent them."""
    kind = body.get("object") if isinstance(body, dict) else None
    channel = CHANNELS.get(kind) if isinstance(kind, str) else None
    if channel is None:
        return
    entries = body.get("entry")
    if not isinstance(entries, list):
        return
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        page_id = _id(entry.get("id"))
        for field_name in ("messaging", "standby"):
            items = entry.get(field_name)
            if not isinstance(items, list):
                continue
            for item in items:
                if isinstance(item, dict):
                    event = replace(_event(item, page_id), channel=channel)
                    if field_name == "standby":
                        event = replace(event, standby=True, detail=event.detail or "standby")
                    yield event


def _event(item: dict[str, Any], entry_page_id: str) -> Event:
    """Classify one messaging item."""
    sender = _party(item.get("sender"))
    recipient = _party(item.get("recipient"))
    message = item.get("message")
    echo = isinstance(message, dict) and message.get("is_echo") is True
    page_id = entry_page_id or (sender if echo else recipient)  # an echo is sent by the page
    timestamp = _int(item.get("timestamp"))
    if isinstance(message, dict):
        return _message(message, page_id, sender, recipient, timestamp)
    postback = item.get("postback")
    if isinstance(postback, dict):
        return Event(
            POSTBACK,
            page_id,
            sender,
            _id(postback.get("mid")) or None,
            timestamp,
            text=postback.get("title") if isinstance(postback.get("title"), str) else "",
            payload=postback.get("payload") if isinstance(postback.get("payload"), str) else None,
        )
    edit = item.get("message_edit")
    if isinstance(edit, dict):  # the person edited an earlier message: it is kept edited
        said = edit.get("text") if isinstance(edit.get("text"), str) else ""
        return Event(
            OTHER, page_id, sender, _id(edit.get("mid")) or None, timestamp, said, detail=EDIT
        )
    known = ("delivery", "read", "reaction", "referral", "optin", "account_linking")
    detail = next((name for name in known if name in item), "")
    if detail:
        return Event(OTHER, page_id, sender, None, timestamp, detail=detail)
    control = next((k for k in item if k.endswith("thread_control")), "")
    if control:  # Conversation Routing: which app now owns the thread
        change = item[control] if isinstance(item[control], dict) else {}
        owner = _id(change.get("new_owner_app_id")) or None
        return Event(OTHER, page_id, sender, None, timestamp, app_id=owner, detail=control)
    return Event(OTHER, page_id, sender, None, timestamp, detail="unknown")


def _message(
    message: dict[str, Any], page_id: str, sender: str, recipient: str, timestamp: int
) -> Event:
    """Classify a `message` item: echo, text, attachment-only, or something we cannot read."""
    mid = _id(message.get("mid")) or None
    listed = message.get("attachments")
    attachments = (
        tuple(a for a in listed if isinstance(a, dict)) if isinstance(listed, list) else ()
    )
    if message.get("is_deleted") is True:  # Instagram: the person unsent it
        return Event(OTHER, page_id, sender, mid, timestamp, detail=UNSENT)
    if message.get("is_echo") is True:
        app_id = _id(message.get("app_id")) or None
        said = message.get("text") if isinstance(message.get("text"), str) else ""
        return Event(
            ECHO, page_id, recipient, mid, timestamp, text=said, app_id=app_id, detail="echo"
        )
    if not sender:
        return Event(OTHER, page_id, sender, mid, timestamp, detail="no sender id")
    if message.get("is_unsupported") is True:
        return Event(OTHER, page_id, sender, mid, timestamp, detail="unsupported message")
    text = message.get("text")
    quick_reply = message.get("quick_reply")
    payload = quick_reply.get("payload") if isinstance(quick_reply, dict) else None
    if not (isinstance(text, str) and text.strip()) and isinstance(payload, str) and payload:
        text = payload  # Instagram sends a quick-reply tap without its title
    reply_to = message.get("reply_to")
    story = isinstance(reply_to, dict) and isinstance(reply_to.get("story"), dict)
    if isinstance(text, str) and text.strip():
        return Event(
            TEXT,
            page_id,
            sender,
            mid,
            timestamp,
            text=text,
            payload=payload if isinstance(payload, str) else None,
            attachments=attachments,
            story=story,
        )
    sticker = "sticker_id" in message or any(_is_sticker(a) for a in attachments)
    if (
        attachments
        and not sticker
        and not any(a.get("type") in KNOWN_ATTACHMENTS for a in attachments)
    ):
        kinds = ",".join(sorted({str(a.get("type"))[:30] for a in attachments}))
        return Event(OTHER, page_id, sender, mid, timestamp, detail=f"unknown attachment {kinds}")
    if attachments or sticker:
        kinds = ",".join(sorted({str(a.get("type")) for a in attachments})) or "sticker"
        return Event(
            ATTACHMENT,
            page_id,
            sender,
            mid,
            timestamp,
            attachments=attachments,
            detail="sticker" if sticker else kinds,
            sticker=sticker,
        )
    return Event(OTHER, page_id, sender, mid, timestamp, detail="message without text")


def _is_sticker(attachment: dict[str, Any]) -> bool:
    """A sticker in any of Meta's forms: an attachment of type "sticker" (since 2026), an
    image whose payload names a sticker_id (the older form, the thumbs-up among them), or
    Instagram's heart."""
    payload = attachment.get("payload")
    return attachment.get("type") in ("sticker", "like_heart") or (
        isinstance(payload, dict) and "sticker_id" in payload
    )

"""The fixed replies: what the model is never asked about (a sticker, an attachment it cannot
read, a share of someone else's post, an Instagram story mention, the Get Started welcome
when one is set)."""

from __future__ import annotations

from .events import ATTACHMENT, POSTBACK, Event
from .settings import Settings


def is_get_started(event: Event, settings: Settings) -> bool:
    """The Get Started button: the first tap of a new conversation."""
    return event.kind == POSTBACK and event.payload == settings.get_started_payload


def is_forget(event: Event, settings: Settings) -> bool:
    """The "Delete my data" button: erase what is kept of the person, then say so."""
    return event.kind == POSTBACK and event.payload == settings.forget_payload


def fixed_reply(event: Event, settings: Settings) -> str | None:
    """The configured reply for what the model is not asked about ("" when that reply is
    turned off); None for the model."""
    if is_forget(event, settings):
        return settings.forget_reply
    if (
        settings.handover_reply
        and event.kind == POSTBACK
        and (event.payload == settings.handover_payload)
    ):
        return settings.handover_reply  # the "Talk to a person" button (app/escalation.py)
    if is_get_started(event, settings) and settings.welcome_message:
        return settings.welcome_message
    if event.kind != ATTACHMENT:
        return None
    if event.sticker:
        return settings.sticker_reply
    if any(a.get("type") == "story_mention" for a in event.attachments):
        return settings.story_mention_reply  # its media is never stored nor shown the model
    if event.images:
        return None if settings.model_accepts_images else settings.image_reply
    # Audio, video, files, locations; shared posts and reels, whose captions are someone
    # else's words and never the person's message to the model.
    return settings.attachment_reply

"""The fixed replies: what the model is never asked about (a sticker, an attachment it cannot
read, the Get Started welcome when one is set)."""

from __future__ import annotations

from .events import ATTACHMENT, POSTBACK, Event
from .settings import Settings


def is_get_started(event: Event, settings: Settings) -> bool:
    """The Get Started button: the first tap of a new conversation."""
    return event.kind == POSTBACK and event.payload == settings.get_started_payload


def fixed_reply(event: Event, settings: Settings) -> str | None:
    """The configured reply for what the model is not asked about ("" when that reply is
    turned off); None for the model."""
    if is_get_started(event, settings) and settings.welcome_message:
        return settings.welcome_message
    if event.kind != ATTACHMENT:
        return None
    if event.sticker:
        return settings.sticker_reply
    if event.images:
        return None if settings.model_accepts_images else settings.image_reply
    return settings.attachment_reply

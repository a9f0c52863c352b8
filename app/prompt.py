"""Chat messages for the model: system prompt and knowledge, earlier messages, the current
message last."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from .events import POSTBACK, Event
from .store import Entry


def build(
    event: Event,
    history: Sequence[Entry],
    *,
    system_prompt: str,
    knowledge: str = "",
    limit: int,
    max_age_hours: float,
    now: datetime,
    note: str = "",
    images: bool = False,
) -> list[dict[str, Any]]:
    """The messages the model sees, oldest first, the current message exactly once and last."""
    oldest = now - timedelta(hours=max_age_hours)
    recent = [m for m in history if m.created >= oldest]
    ids = [m.id for m in recent]
    if event.key in ids:
        # The person's later messages get their own turn; the page's replies are context.
        at = ids.index(event.key)
        earlier = recent[:at] + [m for m in recent[at + 1 :] if m.from_page]
    else:
        # Not listed yet (or under another id): Graph times have whole seconds, so keep what
        # the person wrote up to this message's second, and every reply of the page.
        sent_at = (
            datetime.fromtimestamp(event.timestamp / 1000, tz=now.tzinfo)
            if event.timestamp
            else now
        )
        second = sent_at.replace(microsecond=0)
        earlier = [m for m in recent if m.from_page or m.created <= second]
        if earlier and not earlier[-1].from_page and earlier[-1].text == said(event):
            earlier.pop()  # the current message, listed under an id we could not match
    earlier = earlier[-limit:] if limit else []
    # What never changes comes first, so OpenAI's automatic prompt caching (an exact prefix of
    # 1024 tokens or more) covers the instructions and the knowledge; the note varies.
    facts = f"{KNOWLEDGE_HEADER}\n\n{knowledge}" if knowledge else ""
    instructions = "\n\n".join(part for part in (system_prompt, facts, note) if part)
    messages: list[dict[str, Any]] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    messages += [
        {"role": "assistant" if m.from_page else "user", "content": m.text} for m in earlier
    ]
    messages.append({"role": "user", "content": _content(event, images)})
    return messages


KNOWLEDGE_HEADER = (
    "What you know about this business (use it to answer; say so when it does not cover "
    "the question):"
)


def said(event: Event) -> str:
    """What the person said, in words: their text, or the title of the button they tapped."""
    if event.kind == POSTBACK:
        return (event.text or event.payload or "").strip()
    return event.text.strip()


def note(event: Event, *, welcome: bool = False) -> str:
    """What the model should know beyond the words: the button or quick reply behind them."""
    if welcome:
        return (
            "The person has just opened the conversation with the Get Started button. "
            "Greet them briefly and say what you can help with."
        )
    if event.kind == POSTBACK:
        return f'The person tapped the button "{said(event)}" (payload: {event.payload or "-"}).'
    if event.story:
        return "The person wrote this in reply to the business's Instagram story."
    if event.payload:
        return f'The person tapped the quick reply "{said(event)}" (payload: {event.payload}).'
    return ""


def _content(event: Event, images: bool) -> str | list[dict[str, Any]]:
    """Text alone, or text and photos as parts for a model that reads images."""
    text = said(event)
    if not (images and event.images):
        return text
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    parts += [{"type": "image_url", "image_url": {"url": url}} for url in event.images]
    return parts

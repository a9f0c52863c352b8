"""Chat messages for the model: system prompt, earlier messages, the current message last."""

from __future__ import annotations

from datetime import datetime, timedelta

from .events import Event
from .facebook import HistoryMessage


def build(
    event: Event,
    history: list[HistoryMessage],
    *,
    system_prompt: str,
    limit: int,
    max_age_hours: float,
    now: datetime,
) -> list[dict[str, str]]:
    """The messages the model sees, oldest first, the current message exactly once and last."""
    sent_at = (
        datetime.fromtimestamp(event.timestamp / 1000, tz=now.tzinfo) if event.timestamp else now
    )
    oldest = now - timedelta(hours=max_age_hours)
    earlier = [
        m
        for m in history
        if m.id != event.mid
        and oldest <= m.created
        # Graph times have whole seconds: anything later than the current message's second
        # was written after it and is not context for this reply.
        and m.created <= sent_at.replace(microsecond=0)
    ]
    if earlier and not earlier[-1].from_page and earlier[-1].text == event.text.strip():
        earlier.pop()  # the current message, listed under an id we could not match
    earlier = earlier[-limit:] if limit else []
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages += [
        {"role": "assistant" if m.from_page else "user", "content": m.text} for m in earlier
    ]
    messages.append({"role": "user", "content": event.text})
    return messages

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
    oldest = now - timedelta(hours=max_age_hours)
    recent = [m for m in history if m.created >= oldest]
    ids = [m.id for m in recent]
    if event.mid in ids:
        # The person's later messages get their own turn; the page's replies are context.
        at = ids.index(event.mid)
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
        if earlier and not earlier[-1].from_page and earlier[-1].text == event.text.strip():
            earlier.pop()  # the current message, listed under an id we could not match
    earlier = earlier[-limit:] if limit else []
    messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
    messages += [
        {"role": "assistant" if m.from_page else "user", "content": m.text} for m in earlier
    ]
    messages.append({"role": "user", "content": event.text})
    return messages

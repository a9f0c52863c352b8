"""What the people received, compared message by message with what they sent."""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from .driver import message_text

# The model stand-in's answer: "[offline model] N earlier messages; you said: TEXT".
# The first reply of a conversation may start with the AI disclosure, a paragraph of its own.
MODEL_REPLY = re.compile(
    r"(?:.*\n\n)?\[offline model\] (\d+) earlier messages; you said: (.*)\Z", re.S
)


# Later replies that saw the whole conversation so far: in every row, faults included (a
# reply made without an earlier message is a wrong answer, even when nothing was lost).
TARGET_FIDELITY_PCT = 99.0


@dataclass
class Tally:
    """Replies counted against messages: lost, duplicated, fallbacks, context checks."""

    sent: int = 0
    replies: int = 0
    lost: int = 0
    duplicated: int = 0
    fallbacks: int = 0
    unknown: int = 0  # replies neither the model's nor the fallback text
    wrong_context: int = 0  # model replies that saw a different number of earlier messages
    later_replies: int = 0  # model replies to a person's 2nd or later message
    faithful: int = 0  # ... of which saw exactly the conversation so far (up to the limit)

    @property
    def fidelity_pct(self) -> float | None:
        """Share of later replies that saw the whole conversation so far; None with none."""
        return 100.0 * self.faithful / self.later_replies if self.later_replies else None

    @property
    def faithful_enough(self) -> bool:
        """A row passes only when nearly every later reply saw the conversation so far."""
        return self.fidelity_pct is None or self.fidelity_pct >= TARGET_FIDELITY_PCT


def tally(
    replies: dict[str, list[str]],
    people: list[str],
    messages: int,
    fallback: str,
    history_limit: int,
) -> Tally:
    """Per person: a model reply names its message; a fallback covers any unanswered one."""
    out = Tally()
    for who in people:
        texts = {message_text(who, k): k for k in range(messages)}
        per_message: Counter = Counter()
        covers = 0  # fallbacks and unknown replies: each answers some message, we can't say which
        for reply in replies.get(who, []):
            out.replies += 1
            found = MODEL_REPLY.match(reply)
            if found and found.group(2) in texts:
                k = texts[found.group(2)]
                per_message[k] += 1
                # Message k (from 0) follows k earlier messages and k replies.
                right = int(found.group(1)) == min(2 * k, history_limit)
                out.wrong_context += not right
                if k >= 1:
                    out.later_replies += 1
                    out.faithful += right
            elif reply == fallback or reply.endswith("\n\n" + fallback):  # disclosed first
                out.fallbacks += 1
                covers += 1
            else:
                out.unknown += 1
                covers += 1
        unanswered = sum(1 for k in range(messages) if per_message[k] == 0)
        out.sent += messages
        out.lost += max(0, unanswered - covers)
        out.duplicated += sum(n - 1 for n in per_message.values() if n > 1)
        out.duplicated += max(0, covers - unanswered)
    return out


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN when there are no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]

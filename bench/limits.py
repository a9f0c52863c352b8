"""Meta's documented Graph limits, enforced by the Graph stand-in so rows measure the real platform.

- Conversations API: at most `per_second` calls per page in any sliding 1 s window (Meta: 2);
  a call over it gets HTTP 400, error 613 and an `X-Business-Use-Case-Usage` header, and
  still counts toward the window ("Calls made while throttled still count").
- Send API: text over 2000 characters is refused with error 100, subcode 2018047.
"""

from __future__ import annotations

import bisect
import json
import secrets
import threading
import time
from collections import defaultdict

CONVERSATIONS_PER_SECOND = 2  # Meta's "Messenger Platform rate limits"
SEND_TEXT_LIMIT = 2000


def fbtrace_id() -> str:
    """An opaque trace id like the ones Meta puts in every error body."""
    return "A" + secrets.token_urlsafe(16)


def throttled_error() -> dict:
    """The body Meta answers (HTTP 400) for a Conversations API call over the rate limit."""
    return {
        "error": {
            "message": "(#613) Calls to this api have exceeded the rate limit.",
            "type": "OAuthException",
            "code": 613,
            "fbtrace_id": fbtrace_id(),
        }
    }


def usage_header(page: str) -> dict[str, str]:
    """Business Use Case usage at 100 %, as sent with a throttled answer."""
    usage = {
        "type": "messenger",
        "call_count": 100,
        "total_cputime": 1,
        "total_time": 1,
        "estimated_time_to_regain_access": 0,
    }
    return {"X-Business-Use-Case-Usage": json.dumps({page: [usage]})}


def too_long_error() -> dict:
    """The body Meta answers (HTTP 400) for message text over 2000 characters."""
    return {
        "error": {
            "message": "(#100) Length of param message[text] must be less than or equal to 2000",
            "type": "OAuthException",
            "code": 100,
            "error_subcode": 2018047,
            "fbtrace_id": fbtrace_id(),
        }
    }


def text_too_long(text: str) -> bool:
    """Over Meta's limit, counted in code points (Meta does not document the unit)."""
    return len(text) > SEND_TEXT_LIMIT


def peak(times: list[float], window: float = 1.0) -> int:
    """The most timestamps (sorted) that fall in any half-open window of `window` seconds."""
    best, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= window:
            first += 1
        best = max(best, last - first + 1)
    return best


class ConversationsLimit:
    """Every Conversations API call per page, timestamped, and whether it was over the cap."""

    def __init__(self, per_second: int = CONVERSATIONS_PER_SECOND) -> None:
        """per_second 0 means no cap (a platform that does not exist, for comparison)."""
        self.per_second = per_second
        self.lock = threading.Lock()
        self.calls: dict[str, list[float]] = defaultdict(list)
        self.throttled: dict[str, list[float]] = defaultdict(list)
        self.mark = 0.0

    def admit(self, page: str) -> bool:
        """Record one call now; False when it is over the cap (it still counts)."""
        with self.lock:
            now = time.monotonic()
            calls = self.calls[page]
            recent = len(calls) - bisect.bisect_right(calls, now - 1.0)
            calls.append(now)
            over = self.per_second > 0 and recent >= self.per_second
            if over:
                self.throttled[page].append(now)
            return not over

    def start_measuring(self) -> None:
        """From now on, stats() counts only calls made after this moment (not the warm-up)."""
        with self.lock:
            self.mark = time.monotonic()

    def stats(self) -> dict:
        """Calls, throttled calls and the peak calls in any 1 s window, per page and in all."""
        with self.lock:
            calls = {p: [t for t in ts if t >= self.mark] for p, ts in self.calls.items()}
            throttled = {p: sum(t >= self.mark for t in ts) for p, ts in self.throttled.items()}
        peaks = {p: peak(ts) for p, ts in calls.items() if ts}
        return {
            "cap_per_second": self.per_second,
            "calls": sum(len(ts) for ts in calls.values()),
            "throttled": sum(throttled.values()),
            "peak_per_second": max(peaks.values(), default=0),
            "pages": {
                p: {"calls": len(ts), "throttled": throttled.get(p, 0), "peak": peaks.get(p, 0)}
                for p, ts in calls.items()
                if ts
            },
        }

"""Graph API errors: Meta's error codes and what each means for the pipeline."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

# Graph error code (or code/subcode) -> what it means for us.
MEANINGS = {
    1: "transient Graph error",
    2: "Graph service temporarily unavailable",
    4: "throttled: application request limit reached",
    10: "permission denied",
    (10, 2018278): "outside the 24-hour messaging window",
    17: "throttled: user request limit reached",
    32: "throttled: page request limit reached",
    100: "invalid parameter",
    (100, 2018001): "no matching person for this page",
    190: "access token invalid or expired",
    551: "this person is not available right now",
    613: "throttled: rate limit exceeded",
    80006: "throttled: Messenger rate limit",
}
THROTTLING_CODES = frozenset({4, 17, 32, 613, 80006})
TRANSIENT_CODES = frozenset({1, 2}) | THROTTLING_CODES


class GraphError(Exception):
    """A failed Graph call, with Meta's error code and its meaning."""

    def __init__(
        self,
        meaning: str,
        *,
        status: int | None = None,
        code: int | None = None,
        subcode: int | None = None,
        fbtrace_id: str | None = None,
        sent: bool | None = None,
        timed_out: bool = False,
        retry_after: float | None = None,
        words: str = "",
    ) -> None:
        super().__init__(meaning)
        self.meaning = meaning
        self.words = words  # Meta's own message, for the operator
        self.status = status
        self.code = code
        self.subcode = subcode
        self.fbtrace_id = fbtrace_id
        self.sent = sent  # for sends: False when the message provably did not go out
        self.timed_out = timed_out  # no answer within the call's time
        self.retry_after = retry_after  # seconds, when Meta said how long a throttle lasts

    @property
    def throttled(self) -> bool:
        """Meta's rate limits: back off, never repeat at once."""
        return self.code in THROTTLING_CODES

    @property
    def transient(self) -> bool:
        """Worth another try: throttling, a Graph hiccup, or no answer at all."""
        return self.code in TRANSIENT_CODES or (
            self.code is None and (self.status is None or self.status >= 500)
        )

    def __str__(self) -> str:
        parts = [self.meaning + (f' (Meta: "{self.words}")' if self.words else "")]
        if self.code is not None:
            parts.append(f"code={self.code}" + (f"/{self.subcode}" if self.subcode else ""))
        if self.status is not None:
            parts.append(f"http={self.status}")
        if self.fbtrace_id:
            parts.append(f"fbtrace_id={self.fbtrace_id}")
        return " ".join(parts)


def error_from(status: int, body: Any, headers: Mapping[str, str] | None = None) -> GraphError:
    """Turn Meta's error body into a GraphError with its meaning."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return GraphError("Graph answered without a readable body", status=status, sent=None)
    code = error.get("code") if isinstance(error.get("code"), int) else None
    subcode = error.get("error_subcode") if isinstance(error.get("error_subcode"), int) else None
    meaning = MEANINGS.get((code, subcode)) or MEANINGS.get(code) or "Graph error"
    # Meta answered with an error body: the message was refused, not delivered.
    return GraphError(
        meaning,
        status=status,
        code=code,
        subcode=subcode,
        fbtrace_id=error.get("fbtrace_id"),
        sent=False,
        retry_after=regain_seconds(headers or {}),
        words=str(error.get("message") or "")[:200],
    )


def regain_seconds(headers: Mapping[str, str]) -> float | None:
    """How long Meta says a throttle lasts: the largest `estimated_time_to_regain_access`
    (minutes) in X-Business-Use-Case-Usage, in seconds; None when it says nothing."""
    try:
        usage = json.loads(headers.get("X-Business-Use-Case-Usage") or "{}")
        minutes = [
            float(item.get("estimated_time_to_regain_access") or 0)
            for items in usage.values()
            for item in items
        ]
    except (ValueError, TypeError, AttributeError):
        return None
    longest = max(minutes, default=0.0)
    return longest * 60 if longest > 0 else None

"""What became of one event, as a value: its kind, the parts sent and a detail. The log line,
the metrics and the emulator all read this value, so rewording a log line breaks nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from . import metrics
from .events import Event
from .logs import short_id

log = logging.getLogger(__name__)

# The kinds (a closed set: they are the `outcome` label of messenger_events_total).
MODEL = "model"  # the model's reply went out
FALLBACK = "fallback"  # FALLBACK_REPLY went out instead
CANNED = "canned"  # a fixed reply went out (a sticker's, the welcome…)
OVER_LIMIT = "over_limit"  # the spend notice, or silence past it
PAUSED = "paused"  # someone from the page is talking to the person
DUPLICATE = "duplicate"  # answered already, or a live process is answering it
IGNORED = "ignored"  # nothing to answer (echoes, reads, other pages…)
SEND_FAILED = "send_failed"  # Graph refused the reply for good
DEFERRED = "deferred"  # not answered now: recovery (or Meta's redelivery) will
FAILED = "failed"  # a bug; the claim was given back for recovery
HANDOVER = "handover"  # HANDOVER_REPLY went out and the thread was passed to the team
KINDS = (
    MODEL,
    FALLBACK,
    CANNED,
    OVER_LIMIT,
    PAUSED,
    DUPLICATE,
    IGNORED,
    SEND_FAILED,
    DEFERRED,
    FAILED,
    HANDOVER,
)
REPLIED = frozenset({MODEL, FALLBACK, CANNED, OVER_LIMIT, HANDOVER})


@dataclass(frozen=True)
class Outcome:
    """One event's end: its kind, a few words of detail, and for a reply what went out."""

    kind: str
    detail: str = ""
    parts: int = 0
    # For a reply: where its history came from and how many earlier messages it had, the
    # tokens it cost, and whether it told the person they talk to an AI.
    history: int | None = None
    history_from: str = ""
    usage: str = ""
    disclosed: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    # Words for the emulator only, never a log line (a hand-over's reason speaks of the person).
    note: str = ""

    def line(self) -> str:
        """The outcome as the event's log line shows it."""
        words = self.kind
        if self.detail:
            words += f" ({self.detail})"
        if self.parts:
            words += f" parts={self.parts}"
        if self.disclosed:
            words += " disclosed=yes"
        if self.history is not None:
            words += f" history={self.history} history_from={self.history_from}"
        for name, value in self.extra.items():
            words += f" {name}={value}"
        if self.usage:
            words += f" {self.usage}"
        return words


def ignored(detail: str) -> Outcome:
    """Nothing to answer, and why."""
    return Outcome(IGNORED, detail)


class Recorder:
    """Writes each event's one log line and its metrics; tells listeners (the emulator)."""

    def __init__(self, page_label: Callable[[str], str]) -> None:
        """`page_label`: the page as a metric label (pages we do not serve are one value)."""
        self.page_label = page_label
        self.listeners: list[Callable[[Event, Outcome], None]] = []

    def __call__(
        self, event: Event, outcome: Outcome, took: float, reply_seconds: float | None = None
    ) -> None:
        """The event's log line and its metrics, once."""
        fields = {
            "mid": event.log_id,
            "person": short_id(event.person_id),
            "kind": event.kind,
            "outcome": outcome.line(),
            "ms": int(took * 1000),
        }
        log.info(
            "event mid=%s person=%s kind=%s outcome=%s ms=%d",
            *fields.values(),
            extra={"event": fields},
        )
        page = self.page_label(event.page_id)
        metrics.EVENTS.labels(page, event.channel, event.kind, outcome.kind).inc()
        if reply_seconds is not None and outcome.kind in REPLIED and outcome.parts:
            metrics.REPLY_SECONDS.labels(page).observe(reply_seconds)
        for listener in self.listeners:
            listener(event, outcome)

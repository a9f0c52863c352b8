"""A webhook body's events: each person's in order, different people in parallel, as many at
once as a worker has threads. What cannot be settled now is asked for again: the webhook
answers 503 and Meta delivers the body again, where what was answered dedups.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .deadline import Deadline
from .events import Event

log = logging.getLogger(__name__)


class Redeliver(Exception):
    """The event cannot be settled now (a live worker is still on it, the store is busy, no
    time is left to start it, nothing could be sent): it stays unanswered here, and the
    webhook answers 503 so that Meta delivers it again."""


def settle_all(
    received: list[Event],
    handle: Callable[[Event, Deadline], str],
    skipped: Callable[[Event], None],
    deadline: Deadline,
    needed: float,
    people: ThreadPoolExecutor,
) -> bool:
    """True when every event was settled. An event that cannot start with `needed` seconds
    left is not claimed, and a person's later events wait for their earlier ones."""
    by_person: dict[tuple[str, str], list[Event]] = {}
    for event in received:
        by_person.setdefault((event.page_id, event.person_id), []).append(event)
    groups = list(by_person.values())

    def settle(events: list[Event]) -> bool:
        for i, event in enumerate(events):
            if deadline.remaining() < needed:
                log.warning("no time left to answer mid=%s: asking Meta again", event.mid or "-")
                for left in events[i:]:
                    skipped(left)
                return False
            try:
                handle(event, deadline)
            except Redeliver:
                for left in events[i + 1 :]:
                    skipped(left)
                return False
            except Exception:  # never let one event's bug cost the others or give Meta a 500
                log.exception("event failed mid=%s", event.mid or "-")
        return True

    if len(groups) == 1:
        return settle(groups[0])
    return all(people.map(settle, groups))

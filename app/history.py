"""History: the conversation's earlier messages, for the prompt.

The store keeps every conversation as it happens — the person's messages as they arrive,
every reply part we send, the team's replies from echoes — so a reply needs no Graph call for
its context. Graph's Conversations API is read only to fill a conversation the store does not
know (the first message since a deploy, or since the conversation expired), and only within
Meta's allowance of GRAPH_CONVERSATIONS_PER_SECOND calls per page, counted in the store for
every worker and host; a read holds its place from its start until a moment after it ended,
as Meta may count it anywhere in between. A read that is not allowed now is skipped, not
queued: the reply is made from what the store has, and the conversation is filled on a later
message. A throttled read holds that page's reads for as long as Meta says (or HOLD_SECONDS).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from . import metrics
from .deadline import Deadline
from .events import ATTACHMENT, EDIT, POSTBACK, Event
from .facebook import GraphClient, GraphError
from .store import Entry, Ledger, Transcript

log = logging.getLogger(__name__)

HOLD_SECONDS = 60.0
SPENT_FOR_SECONDS = 0.25  # a refused allowance is not asked for again this soon, per process
SAME_MESSAGE_SECONDS = 120.0  # Graph's copy of a message we keep, under another id
GRAPH_MOST = 20  # Meta returns details of the 20 latest messages only
MARKERS = {
    "image": "[photo]",
    "audio": "[audio]",
    "video": "[video]",
    "file": "[file]",
    "location": "[location]",
    "sticker": "[sticker]",
    "reel": "[reel]",
    "ig_reel": "[reel]",
    "share": "[shared post]",
    "ig_post": "[shared post]",
    "story_mention": "[story mention]",
}

STORE, GRAPH, NONE = "store", "graph", "none"


def words(event: Event) -> str:
    """What the person said, as the transcript keeps it: their text, a button's title, or a
    short marker for what has no words ("[photo]", "[sticker]")."""
    if event.kind == POSTBACK:
        return (event.text or event.payload or "").strip() or "[button]"
    if event.sticker:
        return "[sticker]"
    kinds = [str(a.get("type")) for a in event.attachments]
    marks = " ".join(dict.fromkeys(MARKERS.get(kind, "[attachment]") for kind in kinds))
    if event.kind == ATTACHMENT:
        return marks or "[attachment]"
    photos = " ".join(MARKERS["image"] for kind in kinds if kind == "image")
    return f"{event.text.strip()} {photos}".strip()


class History:
    """Keeps conversations in the store and reads Graph only to fill one it does not know."""

    def __init__(self, graph: GraphClient, store: Ledger, *, limit: int, clock=time.time):
        self.graph = graph
        self.store = store
        self.limit = limit
        self.clock = clock
        # When the store last said a page's allowance was spent, this process does not ask
        # again for a moment: a burst of new conversations would queue on the store's writes.
        self._spent_until: dict[str, float] = {}

    def heard(self, event: Event) -> None:
        """Keep a person's message that is not answered (the answered ones are kept as they
        are claimed: the store's arrive())."""
        self.store.remember(event.conversation, [self.entry(event)])

    def entry(self, event: Event) -> Entry:
        """A person's message as the transcript keeps it."""
        return Entry(event.key, words(event), False, self._written(event))

    def replies(self, event: Event, sent: Sequence[tuple[str, str]]) -> list[Entry]:
        """The reply parts that went out, as the transcript keeps them (the store's settle()
        writes them): under Meta's message ids, each after the message it answers, even when
        our clock is behind Meta's."""
        start = max(self.clock(), event.timestamp / 1000 if event.timestamp else 0.0)
        return [
            Entry(mid or f"{event.key}:reply:{i + 1}", text, True, start + i * 0.001)
            for i, (mid, text) in enumerate(sent)
        ]

    def team(self, event: Event) -> None:
        """Keep a reply someone from the page's team sent (seen through its echo)."""
        if event.person_id and event.text.strip():
            entry = Entry(event.key, event.text.strip(), True, self._written(event))
            self.store.remember(event.conversation, [entry])

    def change(self, event: Event) -> str:
        """The person edited or unsent an earlier message: the kept conversation follows (the
        edited words reach the model from now on; an unsent message never again)."""
        if event.detail == EDIT:
            found = self.store.edit(event.conversation, event.key, event.text.strip())
            return "edited" if found else "edit of a message not kept"
        found = self.store.unsend(event.conversation, event.key)
        return "unsent, dropped from the conversation" if found else "unsent, not kept"

    def _written(self, event: Event) -> float:
        """When a message was written: Meta's timestamp, or now when it has none."""
        return event.timestamp / 1000 if event.timestamp else self.clock()

    def _may_read(self, page: str, deadline: Deadline) -> str | None:
        """A ticket for one of the page's Conversations API calls, unless this process learned
        a moment ago that there is none to take."""
        now = self.clock()
        if now < self._spent_until.get(page, 0.0):
            return None
        ticket = self.store.allow_read(page, deadline.remaining())
        if ticket is None:
            self._spent_until[page] = now + SPENT_FOR_SECONDS
        return ticket

    def recall(
        self, event: Event, deadline: Deadline, kept: Transcript | None = None
    ) -> tuple[list[Entry], str]:
        """The conversation as we know it, and where it came from: store, graph or none.
        `kept`: the transcript as the arrival brought it (no read of the store then)."""
        entries, source = self._recall(event, deadline, kept)
        metrics.HISTORY.labels(source).inc()
        return entries, source

    def _recall(
        self, event: Event, deadline: Deadline, kept: Transcript | None
    ) -> tuple[list[Entry], str]:
        """What recall() returns, before it is counted."""
        if not self.limit:
            return [], NONE
        if kept is None:
            kept = self.store.transcript(event.conversation)
        earlier = any(e.id != event.key for e in kept.entries)
        partial = STORE if earlier else NONE
        if kept.known:
            return kept.entries, STORE
        ticket = self._may_read(event.page_id, deadline)
        if ticket is None:
            return kept.entries, partial
        try:
            # One more than needed: the current message is often listed already.
            limit = min(self.limit + 1, GRAPH_MOST)
            listed = self.graph.history(event.page_id, event.person_id, limit, deadline)
        except GraphError as exc:
            if exc.throttled:
                self.store.hold_reads(event.page_id, exc.retry_after or HOLD_SECONDS)
            log.warning("history not read mid=%s: %s", event.mid, exc)
            return kept.entries, partial
        finally:
            self.store.read_done(event.page_id, ticket)
        # What the person had erased stays erased: Meta's inbox still holds it.
        erased = self.store.erased_at(event.conversation) or 0.0
        seeded = [
            Entry(m.id, m.text, m.from_page, m.created.timestamp())
            for m in _before(event, listed)
            if m.created.timestamp() > erased
            and not _kept_already(m.id, m.text, m.from_page, m.created.timestamp(), kept.entries)
        ]
        self.store.remember(event.conversation, seeded, known=True)
        merged = sorted([*kept.entries, *seeded], key=lambda e: e.at)
        return merged, GRAPH


def _before(event: Event, listed: list) -> list:
    """What Graph lists before this message: the person's later messages get their own turn
    (and are kept when they arrive, with precise times; Graph's have whole seconds)."""
    ids = [m.id for m in listed]
    if event.key in ids:
        return listed[: ids.index(event.key)]
    if not event.timestamp:
        return listed
    sent = event.timestamp / 1000
    return [m for m in listed if m.from_page or m.created.timestamp() <= sent]


def _kept_already(mid: str, text: str, from_page: bool, at: float, kept: list[Entry]) -> bool:
    """Graph lists what we keep too: the same id, or the same words from the same side within
    SAME_MESSAGE_SECONDS (Graph's times have whole seconds, and its ids may differ)."""
    return any(
        e.id == mid
        or (e.from_page == from_page and e.text == text and abs(e.at - at) <= SAME_MESSAGE_SECONDS)
        for e in kept
    )

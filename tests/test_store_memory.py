"""The conversation transcript and Meta's read allowance, the same in both stores."""

import pytest

from app.store import Entry, Guarded
from app.store.base import READ_WINDOW_SECONDS
from tests.conftest import Clock

C = "page:person"


def entry(mid, at, text=None, page=False):
    return Entry(mid, text or mid, page, at)


def test_entries_come_back_oldest_first_each_id_once(make):
    store = make()
    store.remember(C, [entry("m_2", 2.0), entry("m_1", 1.0)])
    store.remember(C, [entry("m_1", 1.0, "again"), entry("r_1", 1.5, "reply", page=True)])
    kept = store.transcript(C)
    assert [(e.id, e.text, e.from_page) for e in kept.entries] == [
        ("m_1", "m_1", False),
        ("r_1", "reply", True),
        ("m_2", "m_2", False),
    ]
    assert not kept.known
    assert make().transcript(C).entries == kept.entries  # another worker sees the same


def test_a_conversation_is_unknown_until_filled_and_stays_known(make):
    store = make()
    assert store.transcript(C).entries == [] and not store.transcript(C).known
    store.remember(C, [], known=True)  # Graph said: nothing earlier
    store.remember(C, [entry("m_1", 1.0)])
    assert store.transcript(C).known


def test_only_the_newest_entries_are_kept(make):
    store = make(keep=3)
    store.remember(C, [entry(f"m_{i}", float(i)) for i in range(5)])
    store.remember(C, [entry("m_5", 5.0)])
    assert [e.id for e in store.transcript(C).entries] == ["m_3", "m_4", "m_5"]


def test_a_forgotten_conversation_is_unknown_and_empty(make):
    store = make()
    store.remember(C, [entry("m_1", 1.0)], known=True)
    store.remember("page:other", [entry("m_9", 1.0)])
    make().forget(C)
    assert store.transcript(C).entries == [] and not store.transcript(C).known
    assert [e.id for e in store.transcript("page:other").entries] == ["m_9"]


def test_conversations_are_apart(make):
    store = make()
    store.remember(C, [entry("m_1", 1.0)])
    assert store.transcript("page:other").entries == []


def test_a_quiet_conversation_is_forgotten_after_the_max_age(tmp_path):
    from app.store import SQLiteLedger
    from tests.conftest import OPTIONS

    clock = Clock()
    store = SQLiteLedger(str(tmp_path / "s.sqlite3"), **OPTIONS, max_age=3600, clock=clock)
    store.remember(C, [entry("m_1", clock())], known=True)
    clock.advance(3599)
    assert store.transcript(C).known
    store.remember(C, [entry("m_2", clock())])  # a write keeps it another max age
    clock.advance(3599)
    assert [e.id for e in store.transcript(C).entries] == ["m_1", "m_2"]
    clock.advance(2)
    assert store.transcript(C).entries == [] and not store.transcript(C).known
    store.remember(C, [entry("m_3", clock())])
    kept = store.transcript(C)
    assert [e.id for e in kept.entries] == ["m_3"] and not kept.known


def test_redis_keys_expire_with_the_max_age(make, request):
    if request.node.callspec.params["make"] != "redis":
        pytest.skip("Redis only")
    store = make(max_age=120)
    store.remember(C, [entry("m_1", 1.0)], known=True)
    for key in store._conversation_keys(C)[:3]:  # told: only once the AI was disclosed
        assert 0 < store.redis.pttl(key) <= 120_000


def read(store, page="p1"):
    """One Conversations call that ends at once: whether it was allowed."""
    ticket = store.allow_read(page, 5.0)
    if ticket is not None:
        store.read_done(page, ticket)
    return ticket is not None


def test_reads_are_allowed_per_page_within_a_sliding_window(make):
    clock = Clock()
    store, other_worker = make(clock=clock), make(clock=clock)
    assert read(store) and read(other_worker)
    assert not read(store) and not read(other_worker)
    assert read(store, "p2")  # another page has its own allowance
    clock.advance(0.5)
    assert not read(store)  # refused calls do not count
    clock.advance(READ_WINDOW_SECONDS - 0.5 + 0.01)
    assert read(store) and read(store) and not read(store)


def test_a_read_under_way_holds_its_place_until_a_window_after_it_ends(make):
    """Meta sees a call somewhere between its start and its end: counting it from its start
    only would let a slow call and the next second's two land in one of Meta's seconds."""
    clock = Clock()
    store = make(clock=clock)
    slow = store.allow_read("p1", 10.0)
    assert slow is not None and read(store)
    clock.advance(3.0)  # the slow call is still under way; the quick one ended long ago
    assert read(store) and not read(store)
    store.read_done("p1", slow)
    clock.advance(READ_WINDOW_SECONDS - 0.01)
    assert not read(store)  # the slow one ended less than a window ago
    clock.advance(0.02)
    assert read(store)


def test_a_read_never_said_done_frees_its_place_after_its_longest_time(make):
    clock = Clock()
    store = make(clock=clock, reads_per_second=1)
    assert store.allow_read("p1", 2.0) is not None  # its worker died mid-call
    clock.advance(2.0 + READ_WINDOW_SECONDS - 0.01)
    assert not read(store)
    clock.advance(0.02)
    assert read(store)


def test_a_hold_stops_reads_until_it_ends(make):
    clock = Clock()
    store = make(clock=clock)
    store.hold_reads("p1", 60)
    store.hold_reads("p1", 5)  # a shorter hold does not cut it short
    clock.advance(59)
    assert not read(store) and read(store, "p2")
    clock.advance(2)
    assert read(store)


def test_no_allowance_means_no_reads(make):
    assert make(reads_per_second=0).allow_read("p1", 5.0) is None


def test_a_broken_store_forgets_and_reads_nothing():
    class Down:
        def every_beat(self, work):
            pass

        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise ConnectionError("store down")

            return fail

    store = Guarded(Down())
    store.remember(C, [entry("m_1", 1.0)])
    assert store.transcript(C).entries == [] and not store.transcript(C).known
    assert store.allow_read("p1", 5.0) is None
    store.read_done("p1", "1")  # best effort, no error

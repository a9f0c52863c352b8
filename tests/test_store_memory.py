"""The conversation transcript and Meta's read allowance, the same in both stores."""

import pytest

from app.store import Entry, Guarded
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
    for key in store._conversation_keys(C):
        assert 0 < store.redis.pttl(key) <= 120_000


def test_reads_are_allowed_per_page_within_a_sliding_second(make):
    clock = Clock()
    store, other_worker = make(clock=clock), make(clock=clock)
    assert store.allow_read("p1") and other_worker.allow_read("p1")
    assert not store.allow_read("p1") and not other_worker.allow_read("p1")
    assert store.allow_read("p2")  # another page has its own allowance
    clock.advance(0.5)
    assert not store.allow_read("p1")  # refused calls do not count
    clock.advance(0.6)
    assert store.allow_read("p1") and store.allow_read("p1") and not store.allow_read("p1")


def test_a_hold_stops_reads_until_it_ends(make):
    clock = Clock()
    store = make(clock=clock)
    store.hold_reads("p1", 60)
    store.hold_reads("p1", 5)  # a shorter hold does not cut it short
    clock.advance(59)
    assert not store.allow_read("p1") and store.allow_read("p2")
    clock.advance(2)
    assert store.allow_read("p1")


def test_no_allowance_means_no_reads(make):
    assert not make(reads_per_second=0).allow_read("p1")


def test_a_broken_store_forgets_and_reads_nothing():
    class Down:
        def __getattr__(self, name):
            def fail(*args, **kwargs):
                raise ConnectionError("store down")

            return fail

    store = Guarded(Down())
    store.remember(C, [entry("m_1", 1.0)])
    assert store.transcript(C).entries == [] and not store.transcript(C).known
    assert store.allow_read("p1") is False

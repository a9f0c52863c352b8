"""Both stores, same behaviour: SQLite always, Redis against a real redis-server."""

import threading
import time

import pytest
import redis

from app.store import (
    ANSWERED,
    BUSY,
    TAKEN,
    Arrival,
    Entry,
    Guarded,
    SQLiteLedger,
    StoreUnavailable,
)
from app.store.base import OWNER_TTL_SECONDS
from tests.conftest import OPTIONS, Clock, free_port


def test_second_delivery_of_a_claimed_id_finds_it_busy(make):
    ledger = make()
    assert ledger.claim("m_1") == TAKEN
    assert ledger.claim("m_1") == BUSY
    assert make().claim("m_1") == BUSY  # another worker, same store
    assert ledger.claim("m_2") == TAKEN


def test_an_answered_id_is_never_taken_again(make):
    clock = Clock()
    ledger = make(clock=clock)
    ledger.claim("m_1")
    ledger.answered("m_1")
    ledger.stop_heartbeat()
    clock.advance(OPTIONS["ttl"] - 1)  # the time to live; a dead owner changes nothing
    assert make(clock=clock).claim("m_1") == ANSWERED


def test_the_claim_of_a_dead_worker_is_taken_over_within_seconds(make):
    clock = Clock()
    dead, alive = make(clock=clock), make(clock=clock)
    assert dead.claim("m_1") == TAKEN
    clock.advance(OWNER_TTL_SECONDS - 0.5)
    alive.claim("m_other")  # beats for the living worker
    dead._beat(dead._owner())  # a beat just before it died
    dead.stop_heartbeat()
    assert alive.claim("m_1") == BUSY
    clock.advance(OWNER_TTL_SECONDS + 0.1)
    alive._beat(alive._owner())
    assert alive.claim("m_1") == TAKEN  # its owner went silent: take it over
    assert make(clock=clock).claim("m_1") == BUSY


def test_concurrent_claims_have_exactly_one_winner(make):
    ledgers = [make() for _ in range(4)]
    wins = []
    barrier = threading.Barrier(16)

    def race(ledger):
        barrier.wait()
        wins.append(ledger.claim("m_race") == TAKEN)

    threads = [threading.Thread(target=race, args=(ledgers[i % 4],)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(wins) == [False] * 15 + [True]


def test_ledger_survives_a_restart(tmp_path):
    path = str(tmp_path / "ledger.sqlite3")
    first = SQLiteLedger(path, **OPTIONS)
    first.claim("m_1")
    first.answered("m_1")
    assert SQLiteLedger(path, **OPTIONS).claim("m_1") == ANSWERED


def spend(ledger, person):
    """One model-bound message of `person` arrives; its count in the window."""
    key = f"m_{person}_{time.monotonic_ns()}"
    return ledger.arrive(key, person, Entry(key, "hi", False, 1.0), True).spent


def test_spend_counts_per_person_per_window(make):
    ledger = make(window=3600)
    assert [spend(ledger, "p:1") for _ in range(3)] == [1, 2, 3]
    assert spend(ledger, "p:2") == 1 and ledger.spent("p:1") == 3


def test_arrival_keeps_claims_and_counts_in_one_call(make):
    """What every message needs first: kept, claimed, and its model call counted once."""
    ledger, other = make(window=3600), make(window=3600)
    heard = Entry("m_1", "hi", False, 1.0)
    first = ledger.arrive("m_1", "p:1", heard, True)
    assert (first.state, first.paused, first.spent, first.turn) == (TAKEN, False, 1, True)
    assert [e.id for e in first.transcript.entries] == ["m_1"]  # it came with the turn
    assert other.arrive("m_1", "p:1", heard, True) == Arrival(BUSY)  # nothing counted again
    assert [e.id for e in other.transcript("p:1").entries] == ["m_1"]  # kept once
    assert ledger.arrive("m_2", "p:1", Entry("m_2", "2", False, 2.0), True).spent == 2
    assert ledger.arrive("m_3", "p:1", Entry("m_3", "[sticker]", False, 3.0), False).spent == 0
    assert ledger.spent("p:1") == 2
    ledger.answered("m_1")
    assert other.arrive("m_1", "p:1", heard, True) == Arrival(ANSWERED)


def test_arrival_in_a_paused_conversation_is_taken_quiet_and_not_counted(make):
    ledger = make(window=3600)
    ledger.pause("p:1", 60)
    arrival = ledger.arrive("m_1", "p:1", Entry("m_1", "hi", False, 1.0), True)
    assert arrival == Arrival(TAKEN, paused=True)
    assert ledger.spent("p:1") == 0 and ledger.transcript("p:1").entries[0].id == "m_1"


def test_spend_starts_again_in_a_new_window(make):
    clock = Clock()
    ledger = make(window=60, clock=clock)
    spend(ledger, "p:1")
    spend(ledger, "p:1")
    clock.advance(60)
    assert spend(ledger, "p:1") == 1


def test_pause_lasts_its_time_for_that_person_only(make):
    clock = Clock()
    ledger = make(clock=clock)
    assert ledger.paused_until("p:1") is None
    ledger.pause("p:1", 30)
    assert ledger.paused_until("p:1") == clock() + 30 and ledger.paused_until("p:2") is None
    clock.advance(29)
    assert ledger.paused_until("p:1")
    ledger.pause("p:1", 0.5)  # a shorter pause does not cut a longer one short
    clock.advance(2)
    assert ledger.paused_until("p:1") is None


class Broken:
    def claim(self, *args):
        raise ConnectionError("store down")

    def every_beat(self, work):
        pass

    answered = pause = arrive = claim

    def turn(self, *args):
        raise ConnectionError("store down")


def test_a_broken_store_promises_nothing_and_everything_else_goes_on(caplog):
    ledger = Guarded(Broken())
    with pytest.raises(StoreUnavailable):  # no claim, no 200: Meta delivers it again
        ledger.claim("m_1")
    with pytest.raises(StoreUnavailable):
        ledger.arrive("m_2", "p", Entry("m_2", "hi", False, 1.0), True)
    ledger.answered("m_1")
    ledger.pause("p", 5)
    with ledger.turn("p", "m_1", 1, 1) as got:
        assert not got
    assert "store unavailable" in caplog.text


def test_a_failed_store_is_left_alone_for_a_while():
    calls = []

    class Down(Broken):
        def claim(self, key):
            calls.append(key)
            raise ConnectionError("store down")

    ledger = Guarded(Down())
    for key in ("m_1", "m_2", "m_3"):
        with pytest.raises(StoreUnavailable):
            ledger.claim(key)
    assert calls == ["m_1"]  # one timeout, not one per call


def test_an_unreachable_redis_promises_nothing():
    from app.store.redis import RedisLedger

    ledger = Guarded(RedisLedger(f"redis://127.0.0.1:{free_port()}/0", **OPTIONS))
    with pytest.raises(StoreUnavailable):
        ledger.claim("m_1")


def test_a_released_claim_is_taken_at_once_but_an_answered_one_is_not(make):
    ledger, other = make(), make()
    assert ledger.claim("m_1") == TAKEN
    ledger.release("m_1")
    assert other.claim("m_1") == TAKEN
    other.answered("m_1")
    other.release("m_1")
    assert ledger.claim("m_1") == ANSWERED


def test_a_message_costs_two_transactions_or_round_trips(make, monkeypatch):
    """arrive (kept, claimed, turn granted) and settle: every message pays these around its
    model call, and under a burst each extra round trip queues behind every other request of
    the worker (docs/benchmark-cost.md)."""
    import redis

    ledger = make()

    def answer(key, ts):
        arrival = ledger.arrive(key, "p:1", Entry(key, "hi", False, ts), True, "", ts)
        with ledger.turn("p:1", key, ts, wait=1, held=arrival.turn) as turn:
            ledger.settle(key, turn, "p:1", [Entry(f"r_{key}", "hello", True, ts + 0.5)])

    answer("m_0", 1)  # a process's first calls beat its heartbeat and load the scripts
    trips = []
    if isinstance(ledger, SQLiteLedger):
        db, write = ledger._db, ledger._write
        monkeypatch.setattr(ledger, "_db", lambda: trips.append("transaction") or db())
        monkeypatch.setattr(ledger, "_write", lambda *a: trips.append("write") or write(*a))
    else:
        command, execute = ledger.redis.execute_command, redis.client.Pipeline.execute
        monkeypatch.setattr(
            ledger.redis, "execute_command", lambda *a, **k: trips.append(a[0]) or command(*a, **k)
        )
        monkeypatch.setattr(
            redis.client.Pipeline,
            "execute",
            lambda pipe, *a, **k: trips.append("pipeline") or execute(pipe, *a, **k),
        )
    answer("m_1", 2)
    one = "transaction" if isinstance(ledger, SQLiteLedger) else "EVALSHA"
    assert trips == [one] * 2


def test_settling_keeps_the_reply_leaves_the_turn_and_marks_answered_at_once(make):
    ledger, other = make(), make()
    ledger.arrive("m_1", "p:1", Entry("m_1", "hi", False, 1.0), True)
    left = []
    with ledger.turn("p:1", "m_1", 1, wait=1) as turn:
        leave = ledger._leave_turn
        ledger._leave_turn = lambda *a: left.append(a) or leave(*a)
        ledger.settle("m_1", turn, "p:1", [Entry("r_1", "hello", True, 2.0)])
        assert turn.left and other.claim("m_1") == ANSWERED
        with other.turn("p:1", "m_2", 2, wait=0) as next_one:
            assert next_one  # the next message goes at once, not after the with
            other.settle("m_2", next_one, "p:1", [])
    assert left == []  # settled: nothing left to leave
    assert [e.id for e in other.transcript("p:1").entries] == ["m_1", "r_1"]


def test_settling_without_a_reply_keeps_no_conversation(make):
    ledger = make()
    ledger.claim("m_1")
    with ledger.turn("p:9", "m_1", 1, wait=1) as turn:
        ledger.settle("m_1", turn, "p:9", [])
    assert ledger.claim("m_1") == ANSWERED and not ledger.transcript("p:9").known


def test_a_settle_that_meets_a_full_store_is_tried_again_and_lands(make):
    # Under a burst every connection of the pool can be in use for a moment. A settle given
    # up then kept the turn (the person's next message waited for it, then was answered out of
    # turn) and lost the reply (that next message was answered without it).
    store = make()
    ledger = Guarded(store)
    real, full = store.settle, [redis.ConnectionError("No connection available.")]

    def busy_once(*args):
        if full:
            raise full.pop()
        return real(*args)

    store.claim("m_1")
    store.settle = busy_once
    with ledger.turn("p:1", "m_1", 1, wait=1) as turn:
        ledger.settle("m_1", turn, "p:1", [Entry("r_1", "hello", True, 2.0)])
    assert turn.left and not full
    assert [e.id for e in store.transcript("p:1").entries] == ["r_1"]  # the reply was kept
    assert store.claim("m_1") == ANSWERED  # in the store, not only in this process


def test_a_failed_settle_is_marked_later_and_the_turn_still_left(make):
    store = make()
    ledger = Guarded(store)
    real = store.settle

    def broken(*args):
        raise RuntimeError("a bug in the store")

    store.claim("m_1")
    store.settle = broken
    with ledger.turn("p:1", "m_1", 1, wait=1) as turn:
        ledger.settle("m_1", turn, "p:1", [Entry("r_1", "hello", True, 2.0)])
    store.settle = real
    assert ledger.claim("m_1") == ANSWERED  # this process knows, the store not yet
    ledger.mark_unmarked()  # after the next heartbeat, off the request path
    assert store.claim("m_1") == ANSWERED
    with store.turn("p:1", "m_3", 3, wait=0) as after:
        assert after  # the failed settle's turn was left on the way out

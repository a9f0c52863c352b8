"""Claims as recovery needs them, on both stores: the event kept with its claim, a claim given
back or left by a dead owner found again, a call counted once per message, a heartbeat no
request can hold back, and a full Redis that is busy, never down."""

import json
import sqlite3

import pytest
import redis

from app.store import ANSWERED, BUSY, TAKEN, Entry, Guarded, StoreUnavailable
from app.store.base import MAX_TRIES, OWNER_TTL_SECONDS
from tests.conftest import OPTIONS, Clock, free_port, start_redis


def arrive(ledger, key, *, event=None, spend=True, conversation="p:1"):
    """A person's message arriving, its whole event kept with the claim."""
    event = event if event is not None else json.dumps({"mid": key})
    return ledger.arrive(key, conversation, Entry(key, "hi", False, 1.0), spend, event)


def test_a_redelivered_or_taken_over_message_counts_its_model_call_once(make):
    clock = Clock()
    first, second = make(clock=clock), make(clock=clock)
    assert arrive(first, "m_1").spent == 1
    first.release("m_1")  # nothing could be sent: given back
    again = arrive(second, "m_1")
    assert again.state == TAKEN and again.spent == 1  # the same call, not a second one
    second.stop_heartbeat()  # that process dies holding it
    clock.advance(OWNER_TTL_SECONDS + 1)
    third = make(clock=clock)
    assert arrive(third, "m_1").spent == 1
    assert third.spent("p:1") == 1


def test_a_claim_given_back_is_an_orphan_with_its_event_and_a_live_ones_is_not(make):
    ledger, other = make(), make()
    arrive(ledger, "m_1", event='{"mid": "m_1", "text": "hi"}')
    arrive(ledger, "m_2")
    assert other.orphans(100, 0.0) == ([], [])  # both held by a live process
    ledger.release("m_1")
    found, given_up = other.orphans(100, 0.0)
    assert found == ['{"mid": "m_1", "text": "hi"}'] and given_up == []
    assert arrive(other, "m_1").state == TAKEN  # taken through arrive(), like a redelivery
    assert other.orphans(100, 0.0) == ([], [])


def test_a_dead_owners_unanswered_claim_is_an_orphan_an_answered_one_is_not(make):
    clock = Clock()
    dead, alive = make(clock=clock), make(clock=clock)
    arrive(dead, "m_1")
    arrive(dead, "m_2")
    dead.answered("m_2")
    dead.stop_heartbeat()
    clock.advance(OWNER_TTL_SECONDS + 1)
    alive._beat(alive._owner())
    found, _ = alive.orphans(100, 0.0)
    assert [json.loads(e)["mid"] for e in found] == ["m_1"]


def test_one_scan_tells_a_dead_owners_claims_from_a_live_ones(make):
    """The scan looks each owner up once: claims of both, in turn, keep their own owner's fate."""
    clock = Clock()
    dead, alive = make(clock=clock), make(clock=clock)
    for mid in ("m_1", "m_3"):
        arrive(dead, mid, event=json.dumps({"mid": mid}))
    for mid in ("m_2", "m_4"):
        arrive(alive, mid, event=json.dumps({"mid": mid}))
    dead.stop_heartbeat()
    clock.advance(OWNER_TTL_SECONDS + 1)
    alive._beat(alive._owner())
    found, given_up = alive.orphans(100, 0.0)
    assert sorted(json.loads(e)["mid"] for e in found) == ["m_1", "m_3"] and given_up == []


def test_an_orphan_too_old_or_tried_too_often_is_given_up_and_never_answered_twice(make):
    clock = Clock()
    ledger = make(clock=clock)
    arrive(ledger, "m_old")
    ledger.release("m_old")
    clock.advance(60)
    arrive(ledger, "m_tried")
    for _ in range(MAX_TRIES):
        ledger.release("m_tried")
        arrive(ledger, "m_tried")
    ledger.release("m_tried")
    found, given_up = ledger.orphans(100, clock() - 30)
    assert found == [] and sorted(given_up) == ["m_old", "m_tried"]
    assert arrive(ledger, "m_old").state == ANSWERED
    assert ledger.orphans(100, 0.0) == ([], [])


def test_the_told_mark_is_kept_with_the_conversation_and_read_on_arrival(make):
    clock = Clock()
    ledger = make(clock=clock, max_age=3600)
    assert not arrive(ledger, "m_1").told and not ledger.transcript("p:1").told
    with ledger.turn("p:1", "m_1", 1, wait=1) as turn:
        ledger.settle("m_1", turn, "p:1", [Entry("r_1", "Hi, I'm an AI", True, 2.0)], told=True)
    assert ledger.transcript("p:1").told  # and read with the conversation, when a turn comes late
    assert arrive(ledger, "m_2").told
    if hasattr(ledger, "redis"):  # Redis forgets by its own clock: the mark expires with it
        assert 0 < ledger.redis.pttl(ledger._conversation_keys("p:1")[3]) <= 3_600_000
        return
    clock.advance(3601)  # the conversation was forgotten: tell again
    assert not arrive(ledger, "m_3").told


def test_the_sqlite_store_sweeps_turns_whose_lease_ran_out(tmp_path):
    from app.store import SQLiteLedger

    clock = Clock()
    ledger = SQLiteLedger(str(tmp_path / "l.sqlite3"), **{**OPTIONS, "clock": clock})
    ledger._try_turn("p:1", "m_1", 1)  # a turn taken and never left (a process died)
    clock.advance(OPTIONS["lease"] + 1)
    ledger._sweep()
    assert ledger._one("SELECT count(*) FROM turns", ()) == (0,)


def test_a_sqlite_heartbeat_is_never_held_back_by_a_request_holding_the_write_lock(tmp_path):
    from app.store import SQLiteLedger

    path = str(tmp_path / "l.sqlite3")
    ledger = SQLiteLedger(path, **OPTIONS)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a writer that stalls, as a slow disk or sweep may
    try:
        ledger._beat("host:1:beat")  # would wait 3 s, then fail, on the main file
        assert ledger._alive({"host:1:beat"}, ledger.clock()) == {"host:1:beat"}
    finally:
        holder.execute("ROLLBACK")


def test_a_redis_heartbeat_has_its_own_connection_when_the_pool_is_full(redis_url):
    from app.store.redis import RedisLedger

    ledger = RedisLedger(redis_url, prefix=f"beat-{free_port()}:", max_connections=1, **OPTIONS)
    held = ledger.redis.connection_pool.get_connection()  # every request connection in use
    try:
        ledger._beat("host:1:beat")
        assert ledger._beats.get(ledger.prefix + "owner:host:1:beat") is not None
    finally:
        ledger.redis.connection_pool.release(held)


def test_a_full_redis_pool_is_busy_never_down(redis_url):
    from app.store import redis as store_module

    ledger = store_module.RedisLedger(
        redis_url, prefix=f"pool-{free_port()}:", max_connections=1, **OPTIONS
    )
    guarded = Guarded(ledger)
    ledger.redis.connection_pool.timeout = 0.05
    held = ledger.redis.connection_pool.get_connection()
    try:
        with pytest.raises(StoreUnavailable):
            arrive(guarded, "m_1")
        with pytest.raises(StoreUnavailable):  # no breaker opened: never "taken" unguarded
            arrive(guarded, "m_1")
    finally:
        ledger.redis.connection_pool.release(held)
    assert arrive(guarded, "m_1").state == TAKEN
    assert arrive(guarded, "m_1").state == BUSY


@pytest.fixture
def small_redis(tmp_path):
    """A redis-server that takes only a handful of clients, as small hosted plans do."""
    server, url = start_redis("redis-server", "--maxclients", "3")
    yield url
    server.terminate()
    server.wait(5)


def test_a_redis_at_its_client_limit_is_busy_never_down(small_redis):
    from app.store.redis import RedisLedger

    clients = [redis.Redis.from_url(small_redis) for _ in range(3)]
    for client in clients:
        client.ping()  # the server's every client slot taken
    guarded = Guarded(RedisLedger(small_redis, **OPTIONS))
    with pytest.raises(StoreUnavailable):
        arrive(guarded, "m_1")
    for client in clients:
        client.close()
    assert arrive(guarded, "m_1").state == TAKEN
    guarded.store.stop_heartbeat()  # its server goes with the test


def test_marks_left_by_an_outage_are_written_after_heartbeats_in_bounded_batches(make):
    from app.store.guard import UNMARKED_BATCH

    store = make()
    guarded = Guarded(store)
    calls = []
    real = store.answered
    for i in range(1000):  # replies sent while the store could not take their marks
        guarded._keep_unmarked(f"m_{i}")
    store.answered = lambda key: calls.append(key) or real(key)
    for i in range(8):  # requests after the store came back pay nothing for the backlog
        arrive(guarded, f"m_new_{i}")
    assert calls == []
    guarded.mark_unmarked()  # the heartbeat's chore, off the request path
    assert len(calls) == UNMARKED_BATCH
    assert arrive(guarded, "m_999").state == ANSWERED  # still known here until marked


def test_the_turn_comes_with_the_arrival_and_a_later_message_queues_behind_it(make):
    ledger = make()
    first = ledger.arrive("m_1", "p:1", Entry("m_1", "a", False, 1.0), True, "{}", 1000)
    second = ledger.arrive("m_2", "p:1", Entry("m_2", "b", False, 2.0), True, "{}", 2000)
    assert first.turn and not second.turn  # the second waits for the first
    with ledger.turn("p:1", "m_1", 1000, wait=0, held=True) as turn:
        ledger.settle("m_1", turn, "p:1", [])
    with ledger.turn("p:1", "m_2", 2000, wait=1) as turn:
        assert turn  # and gets it once the first was settled
    ledger.pause("p:2", 60)
    assert not arrive(ledger, "m_3", conversation="p:2").turn  # quiet: no turn to hold


def test_one_hosts_writers_take_turns_on_the_lock_file_not_in_sqlites_busy_sleeps(tmp_path):
    # SQLite's busy handler lets a waiting process sleep in steps of up to 100 ms while the
    # lock is free most of that time; the lock file wakes the next writer as soon as it is.
    import fcntl
    import os

    from app.store import SQLiteLedger

    path = str(tmp_path / "l.sqlite3")
    writing = SQLiteLedger(path, **OPTIONS)
    other = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT)  # as another worker opens it
    try:
        with writing._db(), pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free once the transaction ends
        fcntl.flock(other, fcntl.LOCK_UN)
    finally:
        os.close(other)


def test_a_processs_threads_share_one_connection_to_each_sqlite_file(tmp_path, monkeypatch):
    # A fresh connection compiles every statement again (about 1.2 ms more per message): a
    # worker's hundred-odd threads, each with its own, paid that for their first messages.
    import threading

    from app.store import SQLiteLedger

    opened, connect = [], sqlite3.connect
    monkeypatch.setattr(
        sqlite3, "connect", lambda path, **kw: opened.append(path) or connect(path, **kw)
    )
    ledger = SQLiteLedger(str(tmp_path / "l.sqlite3"), **OPTIONS)
    threads = [
        threading.Thread(target=arrive, args=(ledger, f"m_{i}"), kwargs={"conversation": f"p:{i}"})
        for i in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(opened) == sorted([ledger.path, ledger.owners_path])
    assert all(ledger.claim(f"m_{i}") != "taken" for i in range(4))  # each was kept and claimed


def test_a_message_taken_over_from_a_dead_owner_holds_its_turn_against_the_next(make):
    # Its queue entry still named the dead owner: the next message dropped it as gone and was
    # answered beside it, without its reply.
    clock = Clock()
    dead, alive, third = make(clock=clock), make(clock=clock), make(clock=clock)
    assert dead.arrive("m_1", "p:1", Entry("m_1", "a", False, 1.0), True, "{}", 1000).turn
    dead.stop_heartbeat()
    clock.advance(OWNER_TTL_SECONDS + 1)
    alive._beat(alive._owner())
    third._beat(third._owner())
    assert alive.arrive("m_1", "p:1", Entry("m_1", "a", False, 1.0), True, "{}", 1000).turn
    second = third.arrive("m_2", "p:1", Entry("m_2", "b", False, 2.0), True, "{}", 2000)
    assert second.state == TAKEN and not second.turn


def test_a_sqlite_arrival_asks_nothing_one_of_its_statements_already_told(tmp_path):
    # Each statement is one more wait for the GIL while the host's other writers wait for the
    # lock file: an arrival in a known conversation took 18, the turn's queue and owners
    # included, when 13 tell everything.
    from app.store import SQLiteLedger

    ledger = SQLiteLedger(str(tmp_path / "l.sqlite3"), **OPTIONS)
    ledger.arrive("m_0", "p:1", Entry("m_0", "a", False, 1.0), True, "{}", 1000)
    with ledger.turn("p:1", "m_0", 1000, wait=0, held=True) as turn:
        ledger.settle("m_0", turn, "p:1", [Entry("r_0", "b", True, 1.5)], told=True)
    statements: list[str] = []
    ledger._file(ledger.path).set_trace_callback(statements.append)
    ledger._file(ledger.owners_path).set_trace_callback(statements.append)
    arrival = ledger.arrive("m_1", "p:1", Entry("m_1", "c", False, 2.0), True, "{}", 2000)
    assert arrival.turn and arrival.told and arrival.spent == 2
    assert [e.id for e in arrival.transcript.entries] == ["m_0", "r_0", "m_1"]
    assert len(statements) == 13, statements


def test_a_message_given_back_to_wait_for_an_earlier_one_is_never_given_up_for_it(make):
    # Given back each time its wait for the turn ran out behind a slow reply, it would have been
    # given up after MAX_TRIES: a message acknowledged and never answered.
    ledger, other = make(), make()
    arrive(ledger, "m_1")
    for _ in range(MAX_TRIES + 1):
        ledger.release("m_1", tried=False)
        assert other.orphans(100, 0.0) == (['{"mid": "m_1"}'], [])
        assert arrive(ledger, "m_1").state == TAKEN

"""A busy store (a full pool, a full server, a slow answer) under a burst: what is asked again,
for how long, and what is never asked again. Both stores where both apply."""

import pytest
import redis

from app.store import ANSWERED, TAKEN, Entry, Guarded, StoreUnavailable
from app.store import guard as guard_module
from tests.test_claims import arrive

FULL = "No connection available."


@pytest.fixture(autouse=True)
def no_pause(monkeypatch):
    """The pause between tries only spaces them out; it is not what a test is about."""
    monkeypatch.setattr(guard_module, "BUSY_PAUSE_SECONDS", 0.0)


def busy_for(real, times: int, error: Exception):
    """`real`, failing `times` times first with `error`; the calls it got, in `calls`."""
    calls = []

    def call(*args):
        calls.append(args)
        if len(calls) <= times:
            raise error
        return real(*args)

    call.calls = calls
    return call


def test_a_settle_busy_more_often_than_other_calls_are_tried_still_lands_within_its_lease(make):
    # Under 500 × 2 on a slow host, a process's every connection was in use for seconds: a
    # settle given up after BUSY_TRIES left its reply out of the conversation, and the person's
    # next message was answered without it.
    store = make()  # lease 1 s: the settle may try for that long
    ledger = Guarded(store)
    store.claim("m_1")
    store.settle = busy_for(store.settle, guard_module.BUSY_TRIES + 2, redis.ConnectionError(FULL))
    with ledger.turn("p:1", "m_1", 1, wait=1) as turn:
        ledger.settle("m_1", turn, "p:1", [Entry("r_1", "hello", True, 2.0)])
    assert len(store.settle.calls) == guard_module.BUSY_TRIES + 3
    assert turn.left
    assert [e.id for e in store.transcript("p:1").entries] == ["r_1"]
    assert store.claim("m_1") == ANSWERED


def test_a_settle_gives_up_on_a_store_busy_past_its_turns_lease(make, caplog):
    store = make(lease=0.0)  # the turn has lapsed already: the next message went on
    ledger = Guarded(store)
    store.claim("m_1")
    store.settle = busy_for(store.settle, 1000, redis.ConnectionError(FULL))
    with ledger.turn("p:1", "m_1", 1, wait=1) as turn:
        ledger.settle("m_1", turn, "p:1", [Entry("r_1", "hello", True, 2.0)])
    assert len(store.settle.calls) == guard_module.BUSY_TRIES
    assert "store busy (settle), going on without it" in caplog.text
    assert ledger.claim("m_1") == ANSWERED  # marked here, and in the store after a beat


def test_a_claim_that_found_no_free_connection_asks_once_more(make):
    # Nothing was sent: the id cannot have been claimed by the first try.
    store = make()
    ledger = Guarded(store)
    store.arrive = busy_for(store.arrive, 1, redis.ConnectionError(FULL))
    assert arrive(ledger, "m_1").state == TAKEN
    assert len(store.arrive.calls) == 2


def test_a_claim_without_a_connection_twice_is_answered_503(make):
    store = make()
    ledger = Guarded(store)
    store.arrive = busy_for(store.arrive, 2, redis.ConnectionError(FULL))
    with pytest.raises(StoreUnavailable):
        arrive(ledger, "m_1")
    assert len(store.arrive.calls) == 2


@pytest.mark.parametrize(
    "error", [redis.TimeoutError("Timeout reading from socket"), redis.ConnectionError("gone")]
)
def test_a_claim_that_may_have_reached_the_store_is_never_asked_again(make, error):
    # A script that timed out may have claimed the id for this process: asked again, it would
    # find it "busy" (a live owner) and the message would be answered by nobody. 503: Meta
    # delivers it again, and by then the store says.
    store = make()
    ledger = Guarded(store)
    store.arrive = busy_for(store.arrive, 1, error)
    with pytest.raises(StoreUnavailable):
        arrive(ledger, "m_1")
    assert len(store.arrive.calls) == 1

"""Turns, both stores: one person's messages one at a time, in timestamp order."""

import threading
import time
from types import SimpleNamespace

from app.store import turns


def test_turns_go_in_timestamp_order(make):
    ledger = make(lease=5.0)
    order = []
    queued = {"m_2": threading.Event(), "m_3": threading.Event()}

    def answer(key, ts):
        waiter = make(lease=5.0)
        tries = waiter._try_turn

        def told(*args):  # the first try puts the message in the queue
            got = tries(*args)
            queued[key].set()
            return got

        waiter._try_turn = told
        with waiter.turn("p:1", key, ts, wait=5) as got:
            assert got
            order.append(key)

    with ledger.turn("p:1", "m_1", 1, wait=1) as got:
        assert got
        # m_3 starts waiting before m_2 does; m_2 is older and must still go first.
        late = threading.Thread(target=answer, args=("m_3", 3))
        late.start()
        assert queued["m_3"].wait(5)
        early = threading.Thread(target=answer, args=("m_2", 2))
        early.start()
        assert queued["m_2"].wait(5)
        order.append("m_1")
    late.join()
    early.join()
    assert order == ["m_1", "m_2", "m_3"]


def test_turn_wait_is_bounded(make):
    ledger = make(lease=5.0)
    with ledger.turn("p:1", "m_1", 1, wait=1) as first:
        started = time.monotonic()
        with make(lease=5.0).turn("p:1", "m_2", 2, wait=0.2) as second:
            assert first and not second
        assert time.monotonic() - started < 1.0


def test_turn_of_a_dead_holder_expires_after_the_lease(make):
    ledger = make(lease=0.3)
    holder = ledger.turn("p:1", "m_1", 1, wait=1)
    assert holder.__enter__()  # never released: the worker died
    with make(lease=0.3).turn("p:1", "m_2", 2, wait=2) as got:
        assert got


def test_different_people_do_not_wait_for_each_other(make):
    ledger = make()
    with ledger.turn("p:1", "m_1", 1, wait=1) as one, ledger.turn("p:2", "m_2", 2, wait=0) as two:
        assert one and two


def test_a_waiter_sleeps_until_a_thread_of_this_process_leaves_the_turn_it_waits_for(
    make, monkeypatch
):
    # A person's next message on the worker that is answering the last one: no store round
    # trip every POLL_SECONDS while that reply is made, and the turn the moment it is left.
    waiting = threading.Event()

    class Watched(threading.Condition):
        def wait(self, timeout=None):
            waiting.set()  # under the lock: nobody can leave the turn before the wait begins
            return super().wait(timeout)

    local = SimpleNamespace(Lock=threading.Lock, Condition=Watched)
    monkeypatch.setattr(turns, "threading", local)
    ledger = make(lease=30.0)
    tries = []
    try_turn = ledger._try_turn
    ledger._try_turn = lambda *args: tries.append(args) or try_turn(*args)
    got = []

    def second():
        with ledger.turn("p:1", "m_2", 2, wait=20) as turn:
            got.append(bool(turn))

    with ledger.turn("p:1", "m_1", 1, wait=1) as first:
        assert first
        waiter = threading.Thread(target=second)
        waiter.start()
        assert waiting.wait(5), "the waiter polled the store instead of sleeping"
    waiter.join(5)
    assert got == [True]
    assert len(tries) == 3  # the first's, the second's try on arrival, and once woken


def test_a_dead_owners_unanswered_message_keeps_its_turn_until_it_is_answered(make):
    # The message its process died answering is recovered (Meta will not send it again); the
    # person's next one, answered first, would be made without it, and it after its successor.
    from app.store import Entry
    from app.store.base import OWNER_TTL_SECONDS
    from tests.conftest import Clock

    def arrive(ledger, key, ts):
        return ledger.arrive(key, "p:1", Entry(key, key, False, ts / 1000), True, "{}", ts)

    clock = Clock()
    dead, recovering, next_ = (make(clock=clock, lease=60.0) for _ in range(3))
    assert arrive(dead, "m_1", 1000).turn
    dead.stop_heartbeat()
    clock.advance(OWNER_TTL_SECONDS + 1)
    for live in (recovering, next_):
        live._beat(live._owner())
    assert not arrive(next_, "m_2", 2000).turn
    assert not next_._try_turn("p:1", "m_2", 2000)  # its owner is dead, its reply not sent
    with next_.turn("p:1", "m_2", 2000, wait=0) as waited:
        assert not waited and waited.behind  # to be given back and follow it
    recovered = arrive(recovering, "m_1", 1000)  # recovery takes it over, with its turn
    assert recovered.turn and [e.id for e in recovered.transcript.entries] == ["m_1", "m_2"]
    with next_.turn("p:1", "m_2", 2000, wait=0) as waited:
        assert not waited and waited.behind  # a live holder, slow: followed all the same
    with recovering.turn("p:1", "m_1", 1000, wait=0, held=True) as turn:
        recovering.settle("m_1", turn, "p:1", [Entry("r_1", "r", True, 1.5)])
    assert next_._try_turn("p:1", "m_2", 2000)


def test_a_dead_owners_message_given_up_leaves_the_turn(make):
    from app.store import Entry
    from app.store.base import OWNER_TTL_SECONDS
    from tests.conftest import Clock

    clock = Clock()
    dead, live = make(clock=clock, lease=60.0), make(clock=clock, lease=60.0)
    dead.arrive("m_1", "p:1", Entry("m_1", "a", False, 1.0), True, "{}", 1000)
    dead.stop_heartbeat()
    clock.advance(OWNER_TTL_SECONDS + 1)
    live._beat(live._owner())
    assert not live._try_turn("p:1", "m_2", 2000)
    assert live.orphans(100, clock() + 1) == ([], ["m_1"])  # too old to answer: given up
    assert live._try_turn("p:1", "m_2", 2000)

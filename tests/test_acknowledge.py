"""Acknowledge: the 200 within ACK_SECONDS, whatever the model does, and nothing promised that
is not kept (app/acknowledge.py)."""

import threading

from tests.conftest import (
    NOW_MS,
    body_of,
    build_app,
    graph_ok,
    post_signed,
    sent_texts,
    text_event,
    until,
)


def held(model, text: str) -> threading.Event:
    """A model that answers only once the test sets the event it returns (slower than any
    ACK_SECONDS the test sets, with no sleep)."""
    release = threading.Event()

    def answer(body):
        release.wait(30)
        return model.answer(text)

    model.handler = answer
    return release


def test_a_slow_reply_is_acknowledged_in_time_and_sent_once_after_the_200(settings, model, graph):
    graph_ok(graph)
    release = held(model, "late but once")
    app = build_app(dict(settings, ACK_SECONDS="0.5"), openai_client=model.client())
    assert post_signed(app, body_of(text_event("hi", mid="m_slow"))).status_code == 200
    assert sent_texts(graph) == []  # acknowledged before the reply was ready
    assert post_signed(app, body_of(text_event("hi", mid="m_slow"))).status_code == 200
    release.set()
    until(lambda: sent_texts(graph) == ["late but once"])
    assert len(model.requests) == 1


def test_a_batch_larger_than_the_threads_is_acknowledged_and_everyone_answered(
    settings, model, graph
):
    graph_ok(graph)
    release = held(model, "Hello there!")
    values = dict(settings, WEB_THREADS="1", ACK_SECONDS="0.5")
    app = build_app(values, openai_client=model.client())
    people = [text_event("hi", f"m_{i}", person=f"30000{i}") for i in range(3)]
    assert post_signed(app, body_of(*people)).status_code == 200  # no 503 for its size
    release.set()
    until(lambda: len(sent_texts(graph)) == 3)  # nobody queued was dropped
    assert sent_texts(graph) == ["Hello there!"] * 3 and len(model.requests) == 3


def test_one_persons_messages_of_one_body_are_answered_in_the_order_written(post, graph, model):
    graph_ok(graph)
    model.handler = lambda body: model.answer("re " + body["messages"][-1]["content"])
    later, earlier = (
        text_event(t, f"m_{t}", ts=NOW_MS + ms) for t, ms in (("2nd", 900), ("1st", 0))
    )
    assert post(body_of(later, earlier)).status_code == 200  # Meta listed them out of order
    assert sent_texts(graph) == ["re 1st", "re 2nd"]
    second = model.requests[1]["messages"]
    assert [m["content"] for m in second] == ["1st", "re 1st", "2nd"]


def test_different_people_in_one_batch_are_answered_in_parallel(post, graph, model):
    import threading

    graph_ok(graph)
    both_waiting = threading.Barrier(2, timeout=5)

    def answer(body):
        both_waiting.wait()  # only passes when two model calls are in flight at once
        return model.answer("together")

    model.handler = answer
    post(body_of(text_event("a", "m_pa", "p1"), text_event("b", "m_pb", "p2")))
    assert sent_texts(graph) == ["together", "together"]


def test_a_bug_while_keeping_a_message_is_a_503_never_a_500(app, post, graph, monkeypatch):
    graph_ok(graph)
    pipeline = app.extensions["messenger"]

    def broken(*args, **kwargs):
        raise KeyError("bug")

    monkeypatch.setattr(pipeline.history, "entry", broken)
    assert post(body_of(text_event("hi", mid="m_keepbug"))).status_code == 503
    monkeypatch.undo()
    assert post(body_of(text_event("hi", mid="m_keepbug"))).status_code == 200
    assert sent_texts(graph) == ["Hello there!"]


def deliver(app, mid: str, person: str, answered: list | None = None) -> threading.Thread:
    """A delivery on a thread of its own, as gunicorn gives each one."""
    body = body_of(text_event("hi", mid, person=person))
    statuses = [] if answered is None else answered
    thread = threading.Thread(target=lambda: statuses.append(post_signed(app, body).status_code))
    thread.start()
    return thread


def worker_with(threads: int, settings, model, graph):
    """A worker of `threads` request threads whose model answers once released."""
    graph_ok(graph)
    release = held(model, "Hello there!")
    values = dict(settings, WEB_THREADS=str(threads), ACK_SECONDS="5")
    app = build_app(values, openai_client=model.client())
    return app, app.extensions["messenger"].acknowledger, release


def test_beyond_half_the_request_threads_waiting_a_delivery_gets_its_200_once_kept(
    settings, model, graph
):
    # With every request thread waiting on a reply, the next delivery would queue in gunicorn
    # for a thread and, under a burst, get its 200 after Meta's five seconds.
    app, acknowledger, release = worker_with(4, settings, model, graph)
    holding = [deliver(app, "m_a", "300001"), deliver(app, "m_b", "300002")]
    until(lambda: acknowledger._waiting == 2)  # two of the four request threads hold their 200
    answered: list[int] = []
    deliver(app, "m_c", "300003", answered).join(timeout=4)  # else it waits until ACK_SECONDS
    assert answered == [200], "the third delivery waited for its reply"
    assert all(t.is_alive() for t in holding)  # the first two still wait for their replies
    assert sent_texts(graph) == []  # acknowledged, kept, the reply still to come
    release.set()
    until(lambda: len(sent_texts(graph)) == 3)
    assert len(model.requests) == 3


def test_a_delivery_that_takes_the_last_request_thread_frees_the_waiting_ones(
    settings, model, graph
):
    # Under a burst the threads that do not wait fill too, with deliveries being kept; the one
    # after them would queue in gunicorn and get its thread seconds later, too late.
    app, acknowledger, release = worker_with(2, settings, model, graph)
    answered: list[int] = []
    first = deliver(app, "m_a", "300001", answered)
    until(lambda: acknowledger._waiting == 1)  # it holds its 200 for its reply
    deliver(app, "m_b", "300002", answered).join(timeout=4)  # the worker's last thread
    first.join(timeout=4)  # else it holds its thread until ACK_SECONDS (5 s)
    assert answered == [200, 200] and sent_texts(graph) == []
    release.set()
    until(lambda: sent_texts(graph) == ["Hello there!"] * 2)
    assert len(model.requests) == 2


def test_a_message_behind_one_a_dead_process_held_is_given_back_to_follow_it(
    settings, model, graph, caplog
):
    # The dead process's message is answered by recovery (Meta will not send it again). The
    # person's next one, answered out of turn when its wait ran out, went first, without it.
    graph_ok(graph)
    release = held(model, "Hello there!")
    values = dict(settings, REQUEST_BUDGET_SECONDS="4", ACK_SECONDS="0.5")
    dead, live = (build_app(values, openai_client=model.client()) for _ in range(2))
    first = threading.Thread(target=post_signed, args=(dead, body_of(text_event("a", "m_1"))))
    first.start()
    until(lambda: len(model.requests) == 1)  # m_1 holds its person's turn, in the model
    gone = dead.extensions["messenger"].ledger.store
    gone.stop_heartbeat()  # SIGKILLed, as far as the store can tell
    with gone._owners() as db:
        db.execute("UPDATE owners SET alive_until = 0")
    store = live.extensions["messenger"].ledger.store
    store._every_beat = []  # recovery comes later (or from another process)
    store._beat(store._owner())
    body = body_of(text_event("b", "m_2", ts=NOW_MS + 1000))
    assert post_signed(live, body).status_code == 200
    until(lambda: len(store.orphans(10, 0.0)[0]) == 2)  # m_2 given back, after m_1
    assert len(model.requests) == 1 and "answering out of turn" not in caplog.text
    release.set()
    first.join()
    # The dead app's reply thread ends before the test does (sent, or given back).
    settled = "SELECT 1 FROM claims WHERE key = 'm_1' AND (answered_at > 0 OR owner IS NULL)"
    until(lambda: store._one(settled, ()) is not None)

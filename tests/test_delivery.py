"""Exactly one reply per message: redelivery, concurrency, order, budget, spend limit, recovery."""

import json
import threading
import time
from datetime import UTC, datetime

import httpx2
import responses

from tests.conftest import (
    GRAPH,
    PAGE,
    PERSON,
    Clock,
    body_of,
    build_app,
    graph_ok,
    post_signed,
    sent_texts,
    text_event,
    until,
)


class Conversation:
    """A Graph stand-in that remembers messages, so replies show up in later history."""

    def __init__(self, mock) -> None:
        self.lock = threading.Lock()
        self.messages = []
        mock.add_callback(responses.GET, f"{GRAPH}/{PAGE}/conversations", self.history)
        mock.add_callback(responses.POST, f"{GRAPH}/{PAGE}/messages", self.send)

    def inbound(self, mid, text):
        self._store(mid, text, PERSON)

    def _store(self, mid, text, sender):
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
        with self.lock:
            self.messages.append(
                {"id": mid, "message": text, "from": {"id": sender}, "created_time": stamp}
            )

    def history(self, request):
        with self.lock:
            listed = list(reversed(self.messages))
        return 200, {}, json.dumps({"data": [{"messages": {"data": listed}}]})

    def send(self, request):
        body = json.loads(request.body)
        mid = f"m_out_{len(self.messages)}"
        if "message" in body:
            self._store(mid, body["message"]["text"], PAGE)
        return 200, {}, json.dumps({"message_id": mid})

    def replies(self):
        return [m["message"] for m in self.messages if m["from"]["id"] == PAGE]


def test_sequential_redelivery_gets_one_reply(post, graph, model):
    graph_ok(graph)
    body = body_of(text_event("hi", mid="m_dup"))
    assert post(body).status_code == 200
    assert post(body).status_code == 200
    assert sent_texts(graph) == ["Hello there!"] and len(model.requests) == 1


def test_same_mid_twice_in_one_batch_gets_one_reply(post, graph, model):
    graph_ok(graph)
    body = {
        "object": "page",
        "entry": [
            {"id": PAGE, "messaging": [text_event("hi", mid="m_same")]},
            {"id": PAGE, "messaging": [text_event("hi", mid="m_same")]},
        ],
    }
    post(body)
    assert sent_texts(graph) == ["Hello there!"]


def test_concurrent_redelivery_on_two_workers_gets_one_reply(settings, model, graph):
    graph_ok(graph)
    in_model, release = threading.Event(), threading.Event()

    def answer(body):
        in_model.set()
        release.wait(5)  # the reply is in flight while the other deliveries arrive
        return model.answer("only once")

    model.handler = answer
    workers = [build_app(settings, openai_client=model.client()) for _ in range(2)]
    raw = json.dumps(body_of(text_event("hi", mid="m_race"))).encode()
    from app.signature import sign

    headers = {"X-Hub-Signature-256": sign(raw, settings["FB_APP_SECRET"])}
    statuses = []
    together = threading.Barrier(6)

    def deliver(app):
        together.wait(5)
        statuses.append(app.test_client().post("/webhook", data=raw, headers=headers).status_code)

    threads = [threading.Thread(target=deliver, args=(workers[i % 2],)) for i in range(6)]
    for thread in threads:
        thread.start()
    assert in_model.wait(5)
    release.set()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 6
    assert sent_texts(graph) == ["only once"] and len(model.requests) == 1


def test_a_dead_workers_message_is_taken_over_and_answered_on_redelivery(app, post, graph):
    from app.store import SQLiteLedger
    from app.store.base import OWNER_TTL_SECONDS

    graph_ok(graph)
    store = app.extensions["messenger"].ledger.store
    clock = store.clock = Clock()
    dead = SQLiteLedger(store.path, lease=store.lease, ttl=store.ttl, window=60, clock=clock)
    dead.claim("m_orphan")  # another worker claimed it, then was SIGKILLed
    dead.stop_heartbeat()
    clock.advance(OWNER_TTL_SECONDS + 0.1)
    assert post(body_of(text_event("hi", mid="m_orphan"))).status_code == 200
    assert sent_texts(graph) == ["Hello there!"]


def test_a_redelivery_of_a_message_a_live_process_is_answering_gets_200_at_once(
    settings, model, graph
):
    graph_ok(graph)
    in_model, release = threading.Event(), threading.Event()

    def answer(body):
        in_model.set()
        release.wait(5)
        return model.answer("only once")

    model.handler = answer
    first, second = (build_app(settings, openai_client=model.client()) for _ in range(2))
    body = body_of(text_event("hi", mid="m_wait"))
    owner = threading.Thread(target=post_signed, args=(first, body))
    owner.start()
    assert in_model.wait(5)
    # The first is still waiting on the model: the redelivery neither waits nor answers.
    assert post_signed(second, body).status_code == 200
    assert sent_texts(graph) == [] and len(model.requests) == 1
    release.set()
    owner.join()
    assert sent_texts(graph) == ["only once"]


def test_a_busy_store_never_grants_a_claim_and_asks_meta_again(app, post, graph, model):
    import sqlite3

    graph_ok(graph)
    store = app.extensions["messenger"].ledger.store

    def locked(*args):
        raise sqlite3.OperationalError("database is locked")

    real, store.arrive = store.arrive, locked
    assert post(body_of(text_event("hi", mid="m_busy"))).status_code == 503
    assert sent_texts(graph) == [] and model.requests == []
    store.arrive = real  # busy is not down: no breaker, the redelivery is answered
    assert post(body_of(text_event("hi", mid="m_busy"))).status_code == 200
    assert sent_texts(graph) == ["Hello there!"]


def test_a_single_token_answers_its_own_page_only(post, graph, model, caplog):
    caplog.set_level("INFO", "app")
    graph_ok(graph)
    other = body_of(text_event("hi", mid="m_other"), page="5555")
    other["entry"][0]["messaging"][0]["recipient"]["id"] = "5555"
    assert post(other).status_code == 200
    assert post(body_of(text_event("hi", mid="m_ours"))).status_code == 200
    assert sent_texts(graph) == ["Hello there!"] and len(model.requests) == 1
    assert sum(1 for c in graph.calls if c.request.url.startswith(f"{GRAPH}/me")) == 1
    assert "not our page 5555" in caplog.text


def test_burst_of_three_is_answered_in_order_with_earlier_replies_in_history(app, graph, model):
    chat = Conversation(graph)
    first_in_model, release_first = threading.Event(), threading.Event()

    def answer(body):
        said = body["messages"][-1]["content"]
        if said == "msg 0":
            first_in_model.set()
            release_first.wait(5)  # the others queue up while the first is answered
        return model.answer(f"reply to {said} after {len(body['messages'])}")

    model.handler = answer
    store = app.extensions["messenger"].ledger.store
    queued = {f"m_{i}": threading.Event() for i in range(3)}
    tries = store._try_turn

    def told(name, key, ts):
        got = tries(name, key, ts)
        queued[key].set()
        return got

    store._try_turn = told
    from app.signature import sign

    secret = app.config["FB_APP_SECRET"]
    now = int(time.time() * 1000)
    bodies = []
    for i in range(3):
        chat.inbound(f"m_{i}", f"msg {i}")
        bodies.append(json.dumps(body_of(text_event(f"msg {i}", f"m_{i}", ts=now + i))).encode())

    def deliver(raw):
        app.test_client().post(
            "/webhook", data=raw, headers={"X-Hub-Signature-256": sign(raw, secret)}
        )

    threads = [threading.Thread(target=deliver, args=(raw,)) for raw in bodies]
    threads[0].start()
    assert first_in_model.wait(5)
    # The last message starts waiting before the second; it must still be answered last.
    threads[2].start()
    assert queued["m_2"].wait(5)
    threads[1].start()
    assert queued["m_1"].wait(5)
    release_first.set()
    for thread in threads:
        thread.join()
    until(lambda: len(chat.replies()) == 3)  # the later ones may finish after their 200
    assert chat.replies() == [
        "reply to msg 0 after 1",
        "reply to msg 1 after 3",
        "reply to msg 2 after 5",
    ]


def test_model_slower_than_budget_gets_fallback_in_time(app, post, graph, model):
    graph_ok(graph)
    seen = []

    def too_slow(request):
        seen.append(request.extensions["timeout"]["read"])
        raise httpx2.ReadTimeout("model took too long")

    model._transport = too_slow
    app.extensions["messenger"].model.client = model.client()
    started = time.monotonic()
    post(body_of(text_event("hi")))
    budget, reserve = app.config["REQUEST_BUDGET_SECONDS"], app.config["SEND_RESERVE_SECONDS"]
    assert seen and seen[0] <= budget - reserve
    assert sent_texts(graph) == [app.config["FALLBACK_REPLY"]]
    assert time.monotonic() - started < budget


def test_spend_limit_sends_one_notice_then_nothing(settings, model, graph):
    app = build_app(dict(settings, SPEND_LIMIT="2"), openai_client=model.client())
    graph_ok(graph)
    client = app.test_client()
    from app.signature import sign

    for i in range(4):
        raw = json.dumps(body_of(text_event(f"m{i}", mid=f"m_{i}"))).encode()
        sig = sign(raw, settings["FB_APP_SECRET"])
        assert (
            client.post("/webhook", data=raw, headers={"X-Hub-Signature-256": sig}).status_code
            == 200
        )
    assert sent_texts(graph) == ["Hello there!", "Hello there!", app.config["SPEND_LIMIT_REPLY"]]
    assert len(model.requests) == 2


def test_a_bug_in_the_pipeline_still_gets_the_fallback(app, post, graph, model, monkeypatch):
    graph_ok(graph)
    pipeline = app.extensions["messenger"]

    def broken(*args, **kwargs):
        raise KeyError("bug")

    monkeypatch.setattr(pipeline.history, "recall", broken)
    assert post(body_of(text_event("hi", mid="m_bug"))).status_code == 200
    assert sent_texts(graph) == [app.config["FALLBACK_REPLY"]]


def test_a_bug_before_anything_went_out_gives_the_claim_back_and_counts_failed(
    app, post, graph, model, monkeypatch
):
    from app import text
    from app.metrics import EVENTS

    graph_ok(graph)
    pipeline = app.extensions["messenger"]
    failed = EVENTS.labels(PAGE, "messenger", "text", "failed")
    before = failed._value.get()

    def broken(*args, **kwargs):
        raise KeyError("bug in splitting")  # the fallback cannot be sent either

    monkeypatch.setattr(text, "split", broken)
    assert post(body_of(text_event("hi", mid="m_bug2"))).status_code == 200
    assert sent_texts(graph) == [] and failed._value.get() == before + 1
    found, _ = pipeline.ledger.orphans(100, 0.0)  # not held for a day: recovery finds it
    assert [json.loads(e)["mid"] for e in found] == ["m_bug2"]
    monkeypatch.undo()
    assert pipeline.recovery.scan() == 1
    until(lambda: sent_texts(graph) == ["Hello there!"])


def test_a_reply_that_renders_to_nothing_sends_the_fallback(app, post, graph, model):
    from app.metrics import EVENTS

    graph_ok(graph)
    model.reply_with("```\n```")
    fallback = EVENTS.labels(PAGE, "messenger", "text", "fallback")
    before = fallback._value.get()
    assert post(body_of(text_event("hi", mid="m_empty"))).status_code == 200
    assert sent_texts(graph) == [app.config["FALLBACK_REPLY"]]
    assert fallback._value.get() == before + 1


def test_typing_and_history_never_use_the_send_reserve(app, post, graph, model, typing_at_once):
    from app.indicator import TYPING_SECONDS

    graph_ok(graph)
    app.extensions["messenger"].graph.timeout = 60  # longer than the whole budget
    post(body_of(text_event("hi", mid="m_reserve")))
    budget, reserve = app.config["REQUEST_BUDGET_SECONDS"], app.config["SEND_RESERVE_SECONDS"]
    (typing,) = [c for c in graph.calls if b"typing_on" in (c.request.body or b"")]
    (history,) = [c for c in graph.calls if "conversations" in c.request.url]
    assert typing.request.req_kwargs["timeout"][1] <= TYPING_SECONDS
    connect, read = history.request.req_kwargs["timeout"]
    assert read <= budget - reserve and connect <= read
    assert sent_texts(graph) == ["Hello there!"]


def test_a_reply_that_provably_did_not_go_out_is_recovered_once_graph_is_back(
    app, post, graph, model
):
    graph.add(
        responses.POST,
        f"{GRAPH}/{PAGE}/messages",
        json={"error": {"code": 2, "message": "Service temporarily unavailable"}},
        status=500,
    )
    graph.add(responses.GET, f"{GRAPH}/me", json={"id": PAGE})
    graph.add(responses.GET, f"{GRAPH}/{PAGE}/conversations", json={"data": []})
    # Kept and claimed: a 200, then the claim is given back for recovery (no 503 to Meta).
    assert post(body_of(text_event("hi", mid="m_down"))).status_code == 200
    graph.replace(responses.POST, f"{GRAPH}/{PAGE}/messages", json={"message_id": "m_out_9"})
    assert app.extensions["messenger"].recovery.scan() == 1

    def delivered():  # sends Graph took (the refused tries carried the same words)
        return [
            c
            for c in graph.calls
            if c.request.url.startswith(f"{GRAPH}/{PAGE}/messages")
            and b'"message"' in (c.request.body or b"")
            and c.response is not None
            and c.response.status_code == 200
        ]

    until(lambda: len(delivered()) == 1)
    assert post(body_of(text_event("hi", mid="m_down"))).status_code == 200  # Meta, again
    until(lambda: app.extensions["messenger"].ledger.claim("m_down") == "answered")
    assert len(delivered()) == 1  # answered once: nothing more


def test_a_reply_refused_for_good_is_not_asked_for_again(post, graph, model):
    graph.add(
        responses.POST,
        f"{GRAPH}/{PAGE}/messages",
        json={"error": {"code": 10, "error_subcode": 2018278, "message": "outside the window"}},
        status=400,
    )
    graph.add(responses.GET, f"{GRAPH}/me", json={"id": PAGE})
    graph.add(responses.GET, f"{GRAPH}/{PAGE}/conversations", json={"data": []})
    assert post(body_of(text_event("hi", mid="m_late"))).status_code == 200

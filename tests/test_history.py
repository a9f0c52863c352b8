"""The conversation is kept by us; Graph is read only to fill one we do not know, within
Meta's allowance of Conversations API calls per page."""

import json
import threading
import time
from datetime import UTC, datetime

import responses

from tests.conftest import (
    GRAPH,
    PAGE,
    PERSON,
    Clock,
    body_of,
    build_app,
    graph_ok,
    sent_texts,
    text_event,
)
from tests.test_people import attachment, echo

T0 = int(time.time() * 1000) - 600_000  # ten minutes ago: inside the history's age limit


def graph_time(ms: int) -> str:
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def listed(mid: str, text: str, sender: str, ms: int) -> dict:
    return {"id": mid, "message": text, "from": {"id": sender}, "created_time": graph_time(ms)}


def now_ms() -> int:
    """Meta's timestamp of a message written now (whole milliseconds, after our last reply)."""
    return int(time.time() * 1000) + 1


def reads(graph) -> int:
    return sum(1 for c in graph.calls if "/conversations" in c.request.url)


def earlier_of(request: dict) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in request["messages"][:-1] if m["role"] != "system"]


def outcome_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if "outcome=" in r.getMessage()]


def test_later_messages_are_answered_from_the_store_without_a_graph_read(post, graph, model):
    graph_ok(graph)
    post(body_of(text_event("hi", "m_1", ts=now_ms())))
    post(body_of(text_event("and then?", "m_2", ts=now_ms())))
    post(body_of(text_event("thanks", "m_3", ts=now_ms())))
    assert reads(graph) == 1  # the first message since the store knew nothing
    assert earlier_of(model.requests[2]) == [
        ("user", "hi"),
        ("assistant", "Hello there!"),
        ("user", "and then?"),
        ("assistant", "Hello there!"),
    ]


def test_graph_fills_the_first_message_since_a_deploy_and_a_restart_keeps_it(
    settings, model, graph, post_to
):
    graph_ok(
        graph,
        history=[listed("m_1", "hi", PERSON, T0), listed("m_0", "Welcome!", PAGE, T0 - 60_000)],
    )
    first = build_app(settings, openai_client=model.client())
    post_to(first, body_of(text_event("hi", "m_1", ts=T0)))
    restarted = build_app(settings, openai_client=model.client())
    post_to(restarted, body_of(text_event("more", "m_2", ts=now_ms())))
    assert reads(graph) == 1
    assert earlier_of(model.requests[1]) == [
        ("assistant", "Welcome!"),
        ("user", "hi"),
        ("assistant", "Hello there!"),
    ]


def test_a_read_over_the_allowance_is_skipped_and_the_reply_still_goes_out(
    settings, model, graph, post_to, caplog
):
    values = dict(settings, GRAPH_CONVERSATIONS_PER_SECOND="1")
    app = build_app(values, openai_client=model.client())
    app.extensions["messenger"].ledger.store.clock = Clock()  # all within one second
    graph_ok(graph)
    graph.add(responses.POST, f"{GRAPH}/{PAGE}/messages", json={"message_id": "m_x"})
    caplog.set_level("INFO", "app")
    post_to(app, body_of(text_event("hi", "m_a", person=PERSON)))
    post_to(app, body_of(text_event("hello", "m_b", person="2000003")))
    assert reads(graph) == 1
    lines = outcome_lines(caplog)
    assert "history_from=graph" in lines[0] and "history_from=none" in lines[1]
    assert "outcome=model" in lines[1]


def test_throttling_is_never_retried_and_holds_the_pages_reads_as_long_as_meta_says(
    app, post, graph, model
):
    store = app.extensions["messenger"].ledger.store
    clock = store.clock = Clock()
    usage = {PAGE: [{"type": "messenger", "call_count": 100, "estimated_time_to_regain_access": 2}]}
    graph.add(
        responses.GET,
        f"{GRAPH}/{PAGE}/conversations",
        json={
            "error": {
                "code": 613,
                "message": "(#613) Calls to this api have exceeded the rate limit.",
            }
        },
        status=400,
        headers={"X-Business-Use-Case-Usage": json.dumps(usage)},
    )
    graph_ok(graph)
    post(body_of(text_event("hi", "m_1")))
    post(body_of(text_event("hi", "m_2", person="2000003")))
    assert reads(graph) == 1 and sent_texts(graph) == ["Hello there!"] * 2
    clock.advance(119)
    assert store.allow_read(PAGE, 5.0) is None
    clock.advance(2)
    assert store.allow_read(PAGE, 5.0) is not None


def test_messages_never_answered_are_kept_too(settings, model, graph, post_to):
    app = build_app(settings, openai_client=model.client())
    graph_ok(graph)
    post_to(app, body_of(echo(mid="m_team") | {"timestamp": T0}))  # the team replied: pause
    post_to(app, body_of(text_event("are you a person?", "m_q", ts=T0 + 1000)))
    standby = {
        "object": "page",
        "entry": [{"id": PAGE, "standby": [text_event("ok", "m_s", ts=T0 + 2000)]}],
    }
    post_to(app, standby)
    kept = app.extensions["messenger"].ledger.transcript(f"{PAGE}:{PERSON}").entries
    assert [(e.id, e.text, e.from_page) for e in kept] == [
        ("m_team", "a reply from the page", True),
        ("m_q", "are you a person?", False),
        ("m_s", "ok", False),
    ]
    assert model.requests == []


def test_our_replies_are_kept_under_metas_ids_and_their_echoes_not_twice(app, post, graph, model):
    graph_ok(graph)
    post(body_of(text_event("hi", "m_1", ts=T0)))
    (reply,) = [c for c in graph.calls if b'"message"' in (c.request.body or b"")]
    mid = json.loads(reply.response.text)["message_id"]  # Meta's id for our reply
    post(body_of(echo(app_id=777000, mid=mid)))  # its echo
    kept = app.extensions["messenger"].ledger.transcript(f"{PAGE}:{PERSON}").entries
    assert [(e.id, e.from_page) for e in kept] == [("m_1", False), (mid, True)]


def test_a_photo_alone_reaches_the_model_once_and_later_as_a_marker(post, graph, model):
    graph_ok(graph)
    photo = attachment("image", url="https://cdn.test/cat.jpg", mid="m_p") | {"timestamp": T0}
    post(body_of(photo))
    first = model.requests[0]["messages"]
    assert earlier_of(model.requests[0]) == []
    assert first[-1]["content"] == [
        {"type": "image_url", "image_url": {"url": "https://cdn.test/cat.jpg"}}
    ]
    post(body_of(text_event("what breed?", "m_q", ts=now_ms())))
    assert earlier_of(model.requests[1]) == [("user", "[photo]"), ("assistant", "Hello there!")]


def test_the_typing_indicator_does_not_hold_up_the_model(app, post, graph, model):
    app.extensions["messenger"].conversation.typing.after = 0.0  # beside the model call
    model_called, typing_shown = threading.Event(), threading.Event()

    def typing_or_send(request):
        if b"typing_on" in request.body:
            assert model_called.wait(5), "the model waited for the typing indicator"
            typing_shown.set()
        return 200, {}, json.dumps({"message_id": "m_out_1"})

    graph.add_callback(responses.POST, f"{GRAPH}/{PAGE}/messages", typing_or_send)
    graph_ok(graph)

    def answer(body):
        model_called.set()
        # Both at once: the model is still thinking while the indicator goes out.
        assert typing_shown.wait(5), "no typing indicator while the model was thinking"
        return model.answer("done")

    model.handler = answer
    post(body_of(text_event("hi")))
    calls = [json.loads(c.request.body) for c in graph.calls if c.request.method == "POST"]
    assert [c.get("sender_action") or c["message"]["text"] for c in calls] == ["typing_on", "done"]


def test_a_spent_allowance_is_not_asked_of_the_store_again_for_a_moment(app, post, graph):
    from app.history import SPENT_FOR_SECONDS

    graph_ok(graph)
    responder = app.extensions["messenger"]
    clock = responder.history.clock = Clock()
    asked = []
    allow = responder.ledger.allow_read

    def counted(page, longest):
        asked.append(page)
        return None  # Meta's two calls of this second are taken

    responder.ledger.allow_read = counted
    for i in range(3):
        post(body_of(text_event("hi", f"m_{i}", person=f"300000{i}")))
    assert asked == [PAGE] and reads(graph) == 0
    clock.advance(SPENT_FOR_SECONDS)
    responder.ledger.allow_read = allow
    post(body_of(text_event("hi", "m_9", person="3000009")))
    assert reads(graph) == 1


def test_the_typing_clock_starts_with_the_model_call_not_with_the_history_read(
    app, post, graph, model
):
    # Under a burst our own queueing (the store, the history read) can take seconds; the
    # indicator is for the model's wait, so its clock starts only once the model is asked.
    conversation = app.extensions["messenger"].conversation
    started_after = []
    real_start = conversation.typing.start

    def start(event):
        reads = [c for c in graph.calls if "/conversations" in c.request.url]
        started_after.append((len(reads), len(model.requests)))
        return real_start(event)

    conversation.typing.start = start
    graph_ok(graph)
    post(body_of(text_event("hi", mid="m_clock")))
    assert started_after == [(1, 0)]  # after the history read, before the model's request

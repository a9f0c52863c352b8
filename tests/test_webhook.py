import json
import logging
import time
from datetime import UTC, datetime, timedelta

import httpx2
import requests
import responses

from tests.conftest import (
    GRAPH,
    NOW_MS,
    PAGE,
    PERSON,
    SETTINGS,
    body_of,
    build_app,
    graph_ok,
    sent_texts,
    text_event,
)

VERIFY = SETTINGS["FB_VERIFY_TOKEN"]
SETTINGS_FALLBACK = "Sorry, I can't answer right now. Please try again in a moment."


def graph_paths(mock):
    return [(c.request.method, c.request.url.split("?")[0].removeprefix(GRAPH)) for c in mock.calls]


# --- GET /webhook -----------------------------------------------------------------------------


def test_verification_echoes_challenge(client):
    answer = client.get(f"/webhook?hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=123")
    assert answer.status_code == 200 and answer.data == b"123"


def test_verification_with_wrong_token_or_mode_is_403(client):
    assert (
        client.get("/webhook?hub.mode=subscribe&hub.verify_token=no&hub.challenge=1").status_code
        == 403
    )
    assert client.get(f"/webhook?hub.mode=other&hub.verify_token={VERIFY}").status_code == 403
    assert client.get("/webhook").status_code == 403


# --- bad input --------------------------------------------------------------------------------


def test_missing_signature_is_403_and_nothing_happens(post, graph, model):
    answer = post(body_of(text_event("hi")), secret=None)
    assert answer.status_code == 403
    assert not graph.calls and not model.requests


def test_wrong_signature_is_403(post, graph, model):
    assert post(body_of(text_event("hi")), secret="not-the-secret").status_code == 403
    assert not graph.calls and not model.requests


def test_sha1_only_signature_is_403(post):
    answer = post(body_of(text_event("hi")), secret=None, headers={"X-Hub-Signature": "sha1=00"})
    assert answer.status_code == 403


def test_malformed_json_is_400(post):
    answer = post(b'{"object": "page", ')
    assert answer.status_code == 400 and b"JSON" in answer.data


def test_non_utf8_body_is_400(post):
    assert post(b"\xff\xfe\x00garbage").status_code == 400


def test_oversized_body_is_413(post, graph):
    answer = post(b"{" + b" " * (1 << 20) + b"}")
    assert answer.status_code == 413 and not graph.calls


def test_unknown_shapes_are_200_and_logged(post, graph, caplog):
    caplog.set_level(logging.INFO)
    for body in ({"object": "instagram", "entry": []}, [1, 2], {"object": "page", "entry": [7]}):
        assert post(body).status_code == 200
    assert not graph.calls
    assert "no events we handle" in caplog.text


# --- the pipeline -----------------------------------------------------------------------------


def test_text_message_gets_typing_history_and_one_reply_last(post, graph, model, typing_at_once):
    graph_ok(graph)
    assert post(body_of(text_event("hello bot", mid="m_1"))).status_code == 200
    calls = [c for c in graph.calls if not c.request.url.startswith(f"{GRAPH}/me")]
    # The typing indicator goes out beside the model call; the reply comes last.
    assert sorted(graph_paths(graph)[-3:]) == [
        ("GET", f"/{PAGE}/conversations"),
        ("POST", f"/{PAGE}/messages"),
        ("POST", f"/{PAGE}/messages"),
    ]
    posts = [json.loads(c.request.body) for c in calls if c.request.method == "POST"]
    assert posts[0] == {"recipient": {"id": PERSON}, "sender_action": "typing_on"}
    assert sent_texts(graph) == ["Hello there!"]
    assert model.requests[0]["messages"][-1] == {"role": "user", "content": "hello bot"}


def iso(seconds_ago: float) -> str:
    when = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return when.strftime("%Y-%m-%dT%H:%M:%S+0000")


def now_ms() -> int:
    return int(time.time() * 1000)


def test_history_reaches_the_model_oldest_first_with_roles(post, graph, model):
    graph_ok(
        graph,
        history=[
            {"id": "m_1", "message": "hello bot", "from": {"id": PERSON}, "created_time": iso(0)},
            {"id": "m_0", "message": "Welcome!", "from": {"id": PAGE}, "created_time": iso(20)},
            {"id": "m_x", "message": "Hi", "from": {"id": PERSON}, "created_time": iso(30)},
            {
                "id": "m_old",
                "message": "ancient",
                "from": {"id": PERSON},
                "created_time": iso(90000),
            },
        ],
    )
    post(body_of(text_event("hello bot", mid="m_1", ts=now_ms())))
    assert model.requests[0]["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Welcome!"},
        {"role": "user", "content": "hello bot"},
    ]


def test_system_prompt_comes_first(settings, post_to, graph, model):
    app = build_app(
        dict(settings, SYSTEM_PROMPT="You are the page's assistant."), openai_client=model.client()
    )
    graph_ok(graph)
    post_to(app, body_of(text_event("hi")))
    assert model.requests[0]["messages"][0] == {
        "role": "system",
        "content": "You are the page's assistant.",
    }


def test_history_failure_still_answers_from_the_current_message(post, graph, model):
    graph.add(responses.POST, f"{GRAPH}/{PAGE}/messages", json={"message_id": "m_out"})
    graph.add(
        responses.GET,
        f"{GRAPH}/{PAGE}/conversations",
        json={"error": {"code": 190, "message": "bad token"}},
        status=400,
    )
    assert post(body_of(text_event("still there?"))).status_code == 200
    assert model.requests[0]["messages"] == [{"role": "user", "content": "still there?"}]
    assert sent_texts(graph) == ["Hello there!"]


def test_model_failure_sends_the_fallback_once(post, graph, model, caplog):
    graph_ok(graph)
    model.handler = lambda body: httpx2.Response(500, headers={"x-request-id": "req_boom"}, json={})
    assert post(body_of(text_event("hi"))).status_code == 200
    assert sent_texts(graph) == [SETTINGS_FALLBACK]
    assert "req_boom" in caplog.text


def test_reply_cut_off_ends_with_ellipsis(post, graph, model):
    graph_ok(graph)
    model.reply_with("It all began", finish_reason="length")
    post(body_of(text_event("tell me a story")))
    assert sent_texts(graph) == ["It all began…"]


def test_long_reply_is_sent_in_ordered_parts(post, graph, model):
    graph_ok(graph)
    reply = "\n\n".join(f"Part {i}. " + "text " * 180 for i in range(5))[:4500]
    assert len(reply) == 4500
    model.reply_with(reply)
    post(body_of(text_event("long please")))
    parts = sent_texts(graph)
    assert len(parts) == 3 and all(len(p) <= 2000 for p in parts)
    assert " ".join(parts).split() == reply.split()


def test_batch_of_two_entries_with_two_events_each_gets_four_replies(post, graph, model):
    graph_ok(graph)
    model.handler = lambda body: model.answer("re " + body["messages"][-1]["content"])
    body = {
        "object": "page",
        "entry": [
            {"id": PAGE, "messaging": [text_event("a", "m_a", "p1"), text_event("b", "m_b", "p2")]},
            {"id": PAGE, "messaging": [text_event("c", "m_c", "p1"), text_event("d", "m_d", "p2")]},
        ],
    }
    assert post(body).status_code == 200
    assert sorted(sent_texts(graph)) == ["re a", "re b", "re c", "re d"]
    by_person = {}
    for call in graph.calls:
        data = json.loads(call.request.body) if call.request.body else {}
        if "message" in data:
            by_person.setdefault(data["recipient"]["id"], []).append(data["message"]["text"])
    assert by_person == {"p1": ["re a", "re c"], "p2": ["re b", "re d"]}


def test_echo_never_reaches_the_model(post, graph, model):
    echo = {
        "sender": {"id": PAGE},
        "recipient": {"id": PERSON},
        "timestamp": NOW_MS,
        "message": {"is_echo": True, "app_id": 777000, "mid": "m_e", "text": "Hello there!"},
    }
    graph_ok(graph)
    assert post(body_of(echo)).status_code == 200
    assert not model.requests and graph_paths(graph) == [("GET", "/me")]  # is the page ours?


def test_delivery_read_and_reaction_get_no_reply(post, graph, model):
    items = [
        {
            "sender": {"id": PERSON},
            "recipient": {"id": PAGE},
            "timestamp": 1,
            "delivery": {"mids": ["m"]},
        },
        {
            "sender": {"id": PERSON},
            "recipient": {"id": PAGE},
            "timestamp": 1,
            "read": {"watermark": 1},
        },
        {
            "sender": {"id": PERSON},
            "recipient": {"id": PAGE},
            "timestamp": 1,
            "reaction": {"mid": "m", "action": "react", "emoji": "x"},
        },
    ]
    assert post(body_of(*items)).status_code == 200
    assert not model.requests and not graph.calls


def test_non_ascii_body_escaped_as_meta_sends_it(post, graph, model):
    graph_ok(graph)
    # json.dumps escapes non-ASCII as \\uXXXX with lowercase hex, as Meta does.
    raw = json.dumps(body_of(text_event("grüße 😀 てすと", mid="m_u"))).encode()
    assert b"\\u00fc\\u00dfe \\ud83d\\ude00 \\u3066" in raw
    assert post(raw).status_code == 200
    assert model.requests[0]["messages"][-1]["content"] == "grüße 😀 てすと"


def test_send_failure_is_logged_and_still_200(post, graph, model, caplog):
    graph.add(responses.GET, f"{GRAPH}/{PAGE}/conversations", json={"data": []})
    graph.add(
        responses.POST,
        f"{GRAPH}/{PAGE}/messages",
        json={"error": {"code": 551, "message": "unavailable"}},
        status=400,
    )
    assert post(body_of(text_event("hi", mid="m_551"))).status_code == 200
    assert "this person is not available right now" in caplog.text
    assert "m_551" in caplog.text


def test_one_line_per_event_with_mid_and_short_person_id(post, graph, caplog):
    caplog.set_level(logging.INFO, logger="app")
    graph_ok(graph)
    post(body_of(text_event("hi", mid="m_logged")))
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("event ")]
    assert len(lines) == 1
    assert "mid=m_logged" in lines[0] and "person=…0002" in lines[0] and PERSON not in lines[0]


def test_no_secret_in_logs(post, graph, model, client, caplog):
    caplog.set_level(logging.DEBUG)
    graph_ok(graph)
    post(body_of(text_event("hi")))
    model.handler = lambda body: httpx2.Response(401, json={"error": {"message": "bad key"}})
    post(body_of(text_event("again", mid="m_2")))
    graph.replace(
        responses.GET, f"{GRAPH}/{PAGE}/conversations", body=requests.ConnectionError("x")
    )
    post(body_of(text_event("third", mid="m_3")))
    post(body_of(text_event("bad")), secret="wrong")
    client.get(f"/webhook?hub.mode=subscribe&hub.verify_token={VERIFY}&hub.challenge=1")
    client.get("/webhook?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1")
    assert caplog.records
    for name in ("FB_APP_SECRET", "FB_VERIFY_TOKEN", "FB_PAGE_ACCESS_TOKEN", "OPENAI_API_KEY"):
        assert SETTINGS[name] not in caplog.text


def test_healthz(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200 and answer.json == {"status": "ok"}


def test_a_reply_ready_at_once_needs_no_typing_indicator(post, graph, model):
    graph_ok(graph)
    post(body_of(text_event("quick one", mid="m_fast")))
    assert not [c for c in graph.calls if b"typing_on" in (c.request.body or b"")]
    assert sent_texts(graph) == ["Hello there!"]


def test_the_typing_indicator_waits_as_long_as_the_operator_says(settings, model):
    """TYPING_AFTER_SECONDS: a host that meets bursts may want fewer indicators, a page with a
    slow model one sooner."""
    default = build_app(settings, openai_client=model.client())
    assert default.extensions["messenger"].conversation.typing.after == 1.5
    later = build_app(dict(settings, TYPING_AFTER_SECONDS="3"), openai_client=model.client())
    assert later.extensions["messenger"].conversation.typing.after == 3.0


def test_a_reply_that_takes_a_while_shows_the_typing_indicator_first(app, post, graph, model):
    import threading

    app.extensions["messenger"].conversation.typing.after = 0.05
    graph.add(responses.GET, f"{GRAPH}/me", json={"id": PAGE})
    graph.add(responses.GET, f"{GRAPH}/{PAGE}/conversations", json={"data": []})
    seen = threading.Event()
    graph.add_callback(
        responses.POST,
        f"{GRAPH}/{PAGE}/messages",
        lambda request: (
            (seen.set() if b"typing_on" in request.body else None)
            or (200, {}, json.dumps({"message_id": "m_out_9"}))
        ),
    )

    def slow(body):
        assert seen.wait(5), "no typing indicator while the model took its time"
        return model.answer("Thanks for waiting")

    model.handler = slow
    post(body_of(text_event("a hard one", mid="m_slow_t")))
    bodies = [json.loads(c.request.body) for c in graph.calls if c.request.method == "POST"]
    assert bodies[0].get("sender_action") == "typing_on"
    assert sent_texts(graph)[-1] == "Thanks for waiting"

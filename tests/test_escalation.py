"""A person can ask for a person: in words (the model's hand_to_person function) or with a
button, the bot answers HANDOVER_REPLY, passes the thread to the Page Inbox and stays quiet
until it is passed back."""

import json

import httpx2
import responses
from prometheus_client import REGISTRY

from app.escalation import INSTAGRAM_INBOX_APP_ID
from app.handover import PAGE_INBOX_APP_ID
from tests.conftest import (
    GRAPH,
    NOW_MS,
    PAGE,
    PERSON,
    body_of,
    build_app,
    graph_ok,
    post_signed,
    sent_texts,
    text_event,
)
from tests.test_people import postback

OURS = "777000"  # FB_APP_ID in the test settings


def wants_a_person(model, reason="wants to speak to a human about a refund"):
    """The model calls hand_to_person instead of answering."""
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "hand_to_person", "arguments": json.dumps({"reason": reason})},
    }
    body = model.answer("").json()
    body["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": [call]}
    body["choices"][0]["finish_reason"] = "tool_calls"
    model.handler = lambda request: httpx2.Response(200, json=body)


def passes(mock) -> list[dict]:
    """The pass_thread_control calls, their bodies."""
    return [
        json.loads(c.request.body)
        for c in mock.calls
        if c.request.url.startswith(f"{GRAPH}/{PAGE}/pass_thread_control")
    ]


def routing(mock, **answer) -> None:
    """Conversation Routing set up: the pass succeeds (or answers `answer`)."""
    mock.add(
        responses.POST,
        f"{GRAPH}/{PAGE}/pass_thread_control",
        **(answer or {"json": {"success": True}}),
    )


def passed_back() -> dict:
    """Meta's webhook when the team passes the thread back to this app."""
    change = {"previous_owner_app_id": PAGE_INBOX_APP_ID, "new_owner_app_id": OURS}
    return {"sender": {"id": PERSON}, "recipient": {"id": PAGE}, "timestamp": NOW_MS + 5000,
            "pass_thread_control": change}  # fmt: skip


def count(via: str) -> float:
    labels = {"page": PAGE, "channel": "messenger", "via": via}
    return REGISTRY.get_sample_value("messenger_handovers_total", labels) or 0.0


def test_asking_in_words_hands_over_then_silence_then_answers_once_passed_back(app, graph, model):
    graph_ok(graph)
    routing(graph)
    before = count("words")
    wants_a_person(model)
    post_signed(app, body_of(text_event("can I talk to a real person?", "m_1")))
    assert sent_texts(graph) == [app.config["HANDOVER_REPLY"]]
    (passed,) = passes(graph)
    assert passed == {
        "recipient": {"id": PERSON},
        "target_app_id": PAGE_INBOX_APP_ID,
        "metadata": "wants to speak to a human about a refund",
    }
    assert count("words") == before + 1
    assert model.requests[0]["tools"][0]["function"]["name"] == "hand_to_person"
    model.reply_with("Back to help!")
    post_signed(app, body_of(text_event("hello?", "m_2", ts=NOW_MS + 1000)))
    assert len(sent_texts(graph)) == 1  # the team has the thread: the bot is quiet
    post_signed(app, body_of(passed_back()))
    post_signed(app, body_of(text_event("thanks, one more thing", "m_3", ts=NOW_MS + 6000)))
    assert sent_texts(graph)[-1] == "Back to help!"


def test_the_button_hands_over_without_the_model(app, graph, model):
    graph_ok(graph)
    routing(graph)
    before = count("button")
    post_signed(app, body_of(postback("Talk to a person", "TALK_TO_HUMAN", mid="m_b")))
    assert sent_texts(graph) == [app.config["HANDOVER_REPLY"]] and model.requests == []
    assert len(passes(graph)) == 1 and count("button") == before + 1


def test_a_refused_pass_still_tells_the_person_and_says_so_without_pretending(
    app, graph, model, caplog
):
    graph_ok(graph)
    refused = {"error": {"code": 10, "message": "(#10) another app is controlling this thread"}}
    routing(graph, json=refused, status=400)
    labels = {"page": PAGE, "channel": "messenger", "code": "10"}
    before = REGISTRY.get_sample_value("messenger_handover_failures_total", labels) or 0.0
    post_signed(app, body_of(postback("Talk to a person", "TALK_TO_HUMAN", mid="m_f")))
    assert sent_texts(graph) == [app.config["HANDOVER_REPLY"]]
    assert "another app is controlling this thread" in caplog.text
    assert "Conversation routing" in caplog.text
    assert REGISTRY.get_sample_value("messenger_handover_failures_total", labels) == before + 1
    until = app.extensions["messenger"].ledger.paused_until(f"{PAGE}:{PERSON}")
    minutes = app.config["HUMAN_PAUSE_MINUTES"]
    assert until is not None and until < NOW_MS / 1000 + minutes * 60 + 120  # not a day


def test_a_server_that_refuses_tools_is_adapted_once_and_the_button_still_works(app, graph, model):
    graph_ok(graph)
    routing(graph)
    seen = []

    def ollama(request):
        seen.append("tools" in request)
        if "tools" in request:
            return httpx2.Response(
                400, json={"error": {"message": "registry.ollama.ai/x does not support tools"}}
            )
        return model.answer("plain words")

    model.handler = ollama
    post_signed(app, body_of(text_event("hi", "m_t1")))
    post_signed(app, body_of(text_event("and?", "m_t2", ts=NOW_MS + 1000)))
    assert seen == [True, False, False]  # refused once, remembered
    assert sent_texts(graph) == ["plain words", "plain words"]
    post_signed(app, body_of(postback("Talk to a person", "TALK_TO_HUMAN", mid="m_t3")))
    assert len(passes(graph)) == 1


def test_an_empty_handover_reply_turns_the_hand_over_off(settings, graph, model):
    app = build_app(dict(settings, HANDOVER_REPLY=""), openai_client=model.client())
    graph_ok(graph)
    post_signed(app, body_of(postback("Talk to a person", "TALK_TO_HUMAN", mid="m_off")))
    assert "tools" not in model.requests[0] and passes(graph) == []
    assert sent_texts(graph) == ["Hello there!"]  # the model answers the button's title


def test_an_instagram_person_is_handed_to_the_instagram_inbox(app, graph, model):
    from tests.test_instagram import IG, ig_body, ig_text, linked_graph

    linked_graph(graph)
    routing(graph)
    wants_a_person(model, "asks for a person")
    post_signed(app, ig_body(ig_text("a human please", "h1")))
    (passed,) = passes(graph)
    assert passed["target_app_id"] == INSTAGRAM_INBOX_APP_ID and IG != PAGE

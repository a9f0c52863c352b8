import json

import httpx2
import pytest

from app.deadline import Deadline
from app.llm import ChatModel, ModelError
from app.signature import sign

MESSAGES = [{"role": "user", "content": "hi"}]


def chat(model, **kw):
    args = dict(temperature=0.2, top_p=0.2, max_tokens=512, retries=1)
    args.update(kw)
    return ChatModel(model.client(), "test-model", **args)


def test_request_carries_model_and_parameters(model):
    assert chat(model).reply(MESSAGES, Deadline(5)).text == "Hello there!"
    (sent,) = model.requests
    assert sent["model"] == "test-model" and sent["messages"] == MESSAGES
    assert (sent["temperature"], sent["top_p"], sent["max_tokens"]) == (0.2, 0.2, 512)


def test_the_caller_hears_the_model_answered_before_the_answer_is_read(model, monkeypatch):
    # On a busy host reading the answer can wait its turn for the CPU; the typing indicator
    # is for the model's own wait, so it is called off the moment the answer is in.
    from openai._legacy_response import LegacyAPIResponse  # with_raw_response's type

    order, parse = [], LegacyAPIResponse.parse
    monkeypatch.setattr(
        LegacyAPIResponse, "parse", lambda r, **kw: order.append("read") or parse(r, **kw)
    )
    reply = chat(model).reply(MESSAGES, Deadline(5), lambda: order.append("answered"))
    assert order == ["answered", "read"] and reply.text == "Hello there!"
    assert reply.request_id == "req_1"  # the parsed answer keeps the server's request id


def test_reply_cut_off_at_token_limit_is_marked(model):
    model.reply_with("A long story that", finish_reason="length")
    assert chat(model).reply(MESSAGES, Deadline(5)).text == "A long story that…"


def test_empty_reply_is_an_error(model):
    model.reply_with("   ")
    with pytest.raises(ModelError, match="empty"):
        chat(model).reply(MESSAGES, Deadline(5))


def test_server_error_is_retried_once_then_reported_with_request_id(model):
    model.handler = lambda body: httpx2.Response(500, headers={"x-request-id": "req_500"}, json={})
    with pytest.raises(ModelError) as caught:
        chat(model).reply(MESSAGES, Deadline(5))
    assert caught.value.request_id == "req_500" and len(model.requests) == 2


def test_throttled_then_answered(model):
    answers = iter([httpx2.Response(429, json={}), model.answer("ok")])
    model.handler = lambda body: next(answers)
    assert chat(model).reply(MESSAGES, Deadline(5)).text == "ok"


def test_bad_request_is_not_retried(model):
    model.handler = lambda body: httpx2.Response(400, json={"error": {"message": "bad"}})
    with pytest.raises(ModelError):
        chat(model).reply(MESSAGES, Deadline(5))
    assert len(model.requests) == 1


def test_timeout_becomes_model_error_and_uses_the_budget(model):
    seen = {}

    def slow(body):
        raise httpx2.ReadTimeout("slow")

    model.handler = slow
    real = model._transport

    def capture(request):
        seen["timeout"] = request.extensions.get("timeout")
        return real(request)

    model._transport = capture
    with pytest.raises(ModelError, match="did not answer"):
        chat(model).reply(MESSAGES, Deadline(4))
    assert 3 < seen["timeout"]["read"] <= 4


def test_no_call_without_time_left(model):
    with pytest.raises(ModelError, match="no time"):
        chat(model).reply(MESSAGES, Deadline(0.5))
    assert model.requests == []


def test_model_settings_reach_the_request(settings, model, graph, post_to):
    from tests.conftest import body_of, build_app, graph_ok, text_event

    config = dict(
        settings,
        OPENAI_MODEL="my-model",
        OPENAI_TEMPERATURE="0.7",
        OPENAI_TOP_P="0.9",
        OPENAI_MAX_TOKENS="100",
        SYSTEM_PROMPT="Be brief.",
    )
    app = build_app(config, openai_client=model.client())
    graph_ok(graph)
    post_to(app, body_of(text_event("hi")))
    sent = model.requests[0]
    assert (sent["model"], sent["temperature"], sent["top_p"], sent["max_tokens"]) == (
        "my-model",
        0.7,
        0.9,
        100,
    )
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}


def test_the_events_log_line_carries_the_tokens_the_model_reported(client, model, graph, caplog):
    import logging

    from tests.conftest import SETTINGS, body_of, graph_ok, text_event

    model.reply_with_usage("Hi!", prompt=31, completion=9, cached=16, reasoning=4)
    graph_ok(graph)
    caplog.set_level(logging.INFO, "app")
    raw = json.dumps(body_of(text_event("hi"))).encode()
    headers = {"X-Hub-Signature-256": sign(raw, SETTINGS["FB_APP_SECRET"])}
    assert client.post("/webhook", data=raw, headers=headers).status_code == 200
    (line,) = [r.getMessage() for r in caplog.records if "outcome=model" in r.getMessage()]
    assert "tokens_prompt=31 tokens_completion=9 tokens_cached=16 tokens_reasoning=4" in line

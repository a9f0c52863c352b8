"""The request adapts to each kind of server: refusals repaired once, remembered, and usage kept."""

import json
import logging

import httpx2
import openai
import pytest

from app.deadline import Deadline
from app.llm import ChatModel, ModelError
from app.llm.params import Refusal, refused_parameter
from bench import model_kinds

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
OPENAI = "https://api.openai.com/v1"
COMPATIBLE = "http://127.0.0.1:4000/v1"


class Server:
    """A model server of one kind behind httpx2.MockTransport; records every request body."""

    def __init__(self, kind: str, text: str = "Hello from the model") -> None:
        self.kind = kind
        self.text = text
        self.bodies: list[dict] = []

    def _handle(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.bodies.append(body)
        status, answer = model_kinds.answer(self.kind, body, self.text)
        return httpx2.Response(status, json=answer, headers={"x-request-id": "req_k"})

    def chat(self, model: str, base_url: str, effort: str | None = "none", **kw) -> ChatModel:
        client = openai.OpenAI(
            api_key="sk-test",
            base_url=base_url,
            max_retries=0,
            http_client=httpx2.Client(transport=httpx2.MockTransport(self._handle)),
        )
        args = dict(temperature=0.2, top_p=0.2, max_tokens=512, reasoning_effort=effort)
        return ChatModel(client, model, **(args | kw))


@pytest.mark.parametrize(
    ("kind", "model", "base_url"),
    [
        ("openai-reasoning", "gpt-6-luna", OPENAI),
        ("openai-classic", "gpt-4.1-mini", OPENAI),
        ("strict-proxy", "llama-3.3-70b", COMPATIBLE),
        ("ollama", "llama3.2", COMPATIBLE),
    ],
)
def test_every_kind_of_server_gets_a_real_answer_and_the_second_call_pays_nothing(
    kind, model, base_url
):
    server = Server(kind)
    chat = server.chat(model, base_url)
    assert chat.reply(MESSAGES, Deadline(10)).text == "Hello from the model"
    first = len(server.bodies)
    assert chat.reply(MESSAGES, Deadline(10)).text == "Hello from the model"
    assert len(server.bodies) == first + 1  # the repaired request, the first time
    assert model_kinds.refusal(kind, server.bodies[-1]) is None


def test_a_classic_model_keeps_the_seed_settings_and_never_gets_an_effort():
    server = Server("openai-classic")
    server.chat("gpt-4.1-mini", OPENAI).reply(MESSAGES, Deadline(10))
    (sent,) = server.bodies
    assert (sent["temperature"], sent["top_p"], sent["max_completion_tokens"]) == (0.2, 0.2, 512)
    assert "reasoning_effort" not in sent and "max_tokens" not in sent


def test_a_compatible_server_gets_max_tokens_which_ollama_honours():
    server = Server("ollama")
    server.chat("llama3.2", COMPATIBLE).reply(MESSAGES, Deadline(10))
    (sent,) = server.bodies
    assert sent["max_tokens"] == 512 and "max_completion_tokens" not in sent
    assert (sent["temperature"], sent["top_p"]) == (0.2, 0.2)


def test_reasoning_model_at_effort_none_keeps_sampling_settings():
    server = Server("openai-reasoning")
    server.chat("gpt-6-luna", OPENAI).reply(MESSAGES, Deadline(10))
    (sent,) = server.bodies
    assert sent["reasoning_effort"] == "none" and sent["temperature"] == 0.2
    assert sent["max_completion_tokens"] == 512


def test_refusals_are_repaired_one_by_one_and_logged_once(caplog):
    caplog.set_level(logging.WARNING, "app.llm.params")
    server = Server("openai-reasoning")
    # A compatible base URL starts with max_tokens; "low" effort makes sampling refused too.
    chat = server.chat("gpt-6-luna", COMPATIBLE, effort="low")
    for _ in range(3):
        assert chat.reply(MESSAGES, Deadline(10)).text == "Hello from the model"
    assert len(server.bodies) == 3 + 2  # max_tokens, then temperature: one repair each
    last = server.bodies[-1]
    assert "max_tokens" not in last and "temperature" not in last and "top_p" not in last
    assert last["max_completion_tokens"] == 512 and last["reasoning_effort"] == "low"
    refused = [r.getMessage() for r in caplog.records]
    assert len(refused) == 2 and "max_tokens" in refused[0] and "temperature" in refused[1]


def test_a_refused_effort_steps_up_to_one_the_model_takes():
    server = Server("openai-reasoning")
    chat = server.chat("gpt-6-luna", OPENAI, effort="minimal")  # luna has no "minimal"
    chat.reply(MESSAGES, Deadline(10))
    assert [b.get("reasoning_effort") for b in server.bodies] == ["minimal", "low", "low"]


def test_reply_limit_spent_on_reasoning_is_asked_again_at_the_lowest_effort(caplog):
    server = Server("openai-reasoning")
    chat = server.chat("gpt-6-luna", OPENAI, effort="medium")
    chat.adapter._no_sampling = True  # as if already learned: isolate the effort retry
    answer = chat.reply(MESSAGES, Deadline(10))
    assert answer.text == "Hello from the model"
    assert [b["reasoning_effort"] for b in server.bodies] == ["medium", "none"]
    assert answer.usage.reasoning == 512  # the first attempt's tokens are counted too
    assert "lowest effort" in caplog.text


def test_an_unrepairable_refusal_is_a_model_error_with_the_servers_words():
    def refuse(request):
        error = {"message": "Invalid 'messages[1].content': too long.", "code": None}
        return httpx2.Response(400, json={"error": error})

    client = openai.OpenAI(
        api_key="k",
        base_url=OPENAI,
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(refuse)),
    )
    chat = ChatModel(client, "gpt-6-luna", temperature=0.2, top_p=0.2, max_tokens=512)
    with pytest.raises(ModelError, match="too long"):
        chat.reply(MESSAGES, Deadline(10))


def test_usage_comes_back_with_the_reply():
    server = Server("openai-reasoning")
    answer = server.chat("gpt-6-luna", OPENAI, effort="low").reply(MESSAGES, Deadline(10))
    assert answer.usage.reasoning == model_kinds.THINKING["low"]
    assert answer.usage.prompt > 0 and answer.usage.completion > answer.usage.reasoning


class Refused(Exception):
    def __init__(self, body, status=400):
        self.status_code, self.body = status, body


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {
                "message": "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                "param": "max_tokens",
                "code": "unsupported_parameter",
            },
            Refusal("max_tokens", False),
        ),
        (
            {
                "message": "litellm.UnsupportedParamsError: openai does not support parameters: "
                "['reasoning_effort'], for model=x.",
                "param": None,
                "code": "400",
            },
            Refusal("reasoning_effort", False),
        ),
        (
            {
                "message": "gpt-6-luna only supports logprobs, top_p, top_logprobs when "
                "reasoning_effort resolves to 'none'",
                "code": "400",
            },
            Refusal("top_p", False),
        ),
        (
            {"message": "Unrecognized request argument supplied: max_completion_tokens"},
            Refusal("max_completion_tokens", False),
        ),
        ({"message": "Invalid 'messages': empty.", "param": "messages"}, None),
    ],
)
def test_refusals_are_read_from_code_param_or_message(body, expected):
    sent = {
        "max_tokens": 1,
        "max_completion_tokens": 1,
        "temperature": 0.2,
        "top_p": 0.2,
        "reasoning_effort": "low",
    }
    if expected and expected.param in TOKEN_ONE_OF:
        sent.pop(TOKEN_ONE_OF[expected.param])
    assert refused_parameter(Refused(body), sent) == expected


TOKEN_ONE_OF = {"max_tokens": "max_completion_tokens", "max_completion_tokens": "max_tokens"}


def test_a_server_error_is_not_read_as_a_refusal():
    body = {"message": "unknown error", "param": "temperature"}
    assert refused_parameter(Refused(body, 500), {"temperature": 0.2}) is None

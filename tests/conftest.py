"""Fixtures: the app with mocked upstreams, a client, a signed-post helper; no network."""

from __future__ import annotations

import itertools
import json
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx2
import openai
import pytest
import responses
from flask import Flask

import config
from app import create_app
from app.signature import sign

# The real servers (the store's, the stand-ins) live in servers.py: importing them here registers
# their fixtures and keeps `from tests.conftest import …` working.
from tests.servers import (  # noqa: F401
    OPTIONS,
    Clock,
    free_port,
    make,
    redis_url,
    standins,
    start_redis,
)

ROOT = Path(__file__).resolve().parent.parent
GRAPH = "https://graph.test/v26.0"
# Meta's timestamps, in milliseconds: recent, as a reply older than 24 h is not made.
NOW_MS = int(time.time()) * 1000
PAGE = "1000001"
PERSON = "2000002"

#: The test app's settings as an operator writes them (text); `build_app` loads them.
SETTINGS = {
    "FB_APP_SECRET": "test-app-secret-0123",
    "FB_VERIFY_TOKEN": "test-verify-token-4567",
    "FB_PAGE_ACCESS_TOKEN": "test-page-token-89ab",
    "OPENAI_API_KEY": "sk-test-key-cdef",
    "FB_GRAPH_API_URL": GRAPH,
    "OPENAI_BASE_URL": "http://llm.test/v1",
    "FB_APP_ID": "777000",
    "REQUEST_BUDGET_SECONDS": "8",
    "SEND_RESERVE_SECONDS": "1",
    "AI_DISCLOSURE": "",  # tests of the disclosure turn it on (tests/test_replies.py)
}


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any connection off this machine fails the test."""
    real_connect = socket.socket.connect

    def guarded(sock, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and host not in ("127.0.0.1", "::1", "localhost"):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


class FakeModel:
    """An OpenAI-compatible server behind httpx2.MockTransport: records requests, plays replies."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.handler: Callable[[dict], httpx2.Response] = lambda body: self.answer("Hello there!")

    def answer(self, text: str, finish_reason: str = "stop", request_id: str = "req_1"):
        """A chat completion response carrying text."""
        return httpx2.Response(
            200,
            headers={"x-request-id": request_id},
            json={
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1,
                "model": "test-model",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": finish_reason,
                    }
                ],
            },
        )

    def reply_with_usage(
        self, text: str, prompt: int, completion: int, cached: int = 0, reasoning: int = 0
    ) -> None:
        """Make every following call answer text, reporting this usage."""
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached},
            "completion_tokens_details": {"reasoning_tokens": reasoning},
        }
        self.handler = lambda body: httpx2.Response(
            200, json=self.answer(text).json() | {"usage": usage}
        )

    def reply_with(self, text: str, finish_reason: str = "stop") -> None:
        """Make every following call answer text."""
        self.handler = lambda body: self.answer(text, finish_reason)

    def _transport(self, request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        return self.handler(body)

    def client(self) -> openai.OpenAI:
        """A real SDK client whose transport is this fake."""
        return openai.OpenAI(
            api_key=SETTINGS["OPENAI_API_KEY"],
            base_url=SETTINGS["OPENAI_BASE_URL"],
            max_retries=0,
            http_client=httpx2.Client(transport=httpx2.MockTransport(self._transport)),
        )


@pytest.fixture
def model() -> FakeModel:
    return FakeModel()


@pytest.fixture
def graph():
    """`responses` intercepts every Graph call; unmatched calls fail the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


# pytest loads this file as `conftest`, the tests import it as `tests.conftest`: one module for
# both, so that the apps built are listed once.
sys.modules.setdefault("tests.conftest", sys.modules[__name__])
_BUILT: list[Flask] = []


def build_app(environ: dict[str, str], **clients) -> Flask:
    """The app built as wsgi.py builds it: the settings' text loaded once by config.load(),
    the result passed to create_app as it is."""
    _BUILT.append(create_app(config.load(environ, dotenv=False), **clients))
    return _BUILT[-1]


@pytest.fixture(autouse=True)
def _heartbeats_end_with_the_test():
    """A store beats while its app lives: the apps a test built stop beating when it ends,
    before the session's redis-server or the test's temp dir is gone."""
    yield
    while _BUILT:
        _BUILT.pop().extensions["messenger"].ledger.store.stop_heartbeat()


@pytest.fixture
def settings(tmp_path) -> dict[str, str]:
    """The operator's settings, as text; tests change them with dict(settings, NAME="…")."""
    return dict(SETTINGS, INSTANCE_PATH=str(tmp_path / "instance"))


@pytest.fixture
def app(settings, model, graph):
    app = build_app(settings, openai_client=model.client())
    app.config["TESTING"] = True
    return app


@pytest.fixture
def typing_at_once(app):
    """A typing indicator for every reply, however fast, sent before the model is asked (the
    service waits 1.5 s first, then sends it beside the model call)."""
    from app.indicator import Indicator

    conversation = app.extensions["messenger"].conversation
    conversation.typing.start = lambda *args: conversation._typing(*args) or Indicator()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def text_event(text: str, mid: str = "m_1", person: str = PERSON, ts: int | None = None) -> dict:
    """One messaging item as Meta sends for a person's text message."""
    return {
        "sender": {"id": person},
        "recipient": {"id": PAGE},
        "timestamp": ts or NOW_MS,
        "message": {"mid": mid, "text": text},
    }


def body_of(*items: dict, page: str = PAGE) -> dict:
    """A webhook body with one entry holding the items."""
    return {"object": "page", "entry": [{"id": page, "time": 1, "messaging": list(items)}]}


@pytest.fixture
def post(client):
    """POST raw bytes or a JSON-able body to /webhook, signed like Meta does unless told not to."""

    def _post(body, *, secret: str | None = SETTINGS["FB_APP_SECRET"], headers=None):
        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        sent = {"Content-Type": "application/json"}
        if secret is not None:
            sent["X-Hub-Signature-256"] = sign(raw, secret)
        sent.update(headers or {})
        return client.post("/webhook", data=raw, headers=sent)

    return _post


def post_signed(app, body):
    """POST a body to an app's webhook, signed like Meta does."""
    raw = json.dumps(body).encode()
    headers = {"X-Hub-Signature-256": sign(raw, app.config["FB_APP_SECRET"])}
    return app.test_client().post("/webhook", data=raw, headers=headers)


@pytest.fixture
def post_to():
    """POST a signed body to another app built in the test."""
    return post_signed


def graph_ok(mock, history: list[dict] | None = None) -> None:
    """Graph answers: sender actions and sends succeed (each message under its own id, as
    Meta's are), history lists `history` (newest first)."""
    ids = itertools.count(1)

    def send(request):
        return 200, {}, json.dumps({"recipient_id": PERSON, "message_id": f"m_out_{next(ids)}"})

    mock.add_callback(responses.POST, f"{GRAPH}/{PAGE}/messages", send)
    mock.add(responses.GET, f"{GRAPH}/me", json={"id": PAGE, "name": "Test Page"})
    mock.add(
        responses.GET,
        f"{GRAPH}/{PAGE}/conversations",
        json={"data": [{"id": "t_1", "messages": {"data": history or []}}]},
    )


# --- Instagram accounts beside the page ---------------------------------------------------

IG = "17841400000001"  # the Instagram professional account linked to PAGE
IG_LOGIN = "17841400000002"  # an account served with Instagram Login
IG_HOST = "https://graph.instagram.test/v26.0"
IG_TOKEN = "ig-user-token-0042"
PAGE_TOKEN = "token-of-page-one"  # PAGE's token in FB_PAGE_TOKENS


def with_instagram(
    settings: dict[str, str], *, linked: bool = False, login: bool = False, page: bool = True
) -> dict[str, str]:
    """The settings with PAGE and its linked Instagram account in FB_PAGE_TOKENS (`linked`),
    an Instagram Login account (`login`), and no page token at all (`page` False)."""
    values = dict(settings)
    if linked:
        values["FB_PAGE_TOKENS"] = json.dumps({PAGE: {"token": PAGE_TOKEN, "instagram_id": IG}})
    if login:
        values["INSTAGRAM_ACCOUNTS"] = json.dumps({IG_LOGIN: {"token": IG_TOKEN}})
        values["INSTAGRAM_GRAPH_API_URL"] = IG_HOST
    if not page:
        del values["FB_PAGE_ACCESS_TOKEN"]
    return values


def until(condition, seconds: float = 10.0) -> None:
    """Wait for something the test can observe (a reply sent after the 200), never for a
    guessed length of time."""
    ends = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > ends:
            pytest.fail("timed out waiting for it")
        time.sleep(0.01)


def sent_texts(mock) -> list[str]:
    """Texts the Send API received, in order."""
    out = []
    for call in mock.calls:
        if call.request.method == "POST" and call.request.url.startswith(
            f"{GRAPH}/{PAGE}/messages"
        ):
            body = json.loads(call.request.body)
            if "message" in body:
                out.append(body["message"]["text"])
    return out

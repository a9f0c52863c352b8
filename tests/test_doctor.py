"""The doctor: one line per check, a fix for each ✗, no secret printed; and app.json's settings."""

import json
import re
from datetime import date
from pathlib import Path

import httpx2
import openai
import pytest
import requests
import responses
from responses import matchers

import config
from app.operator import doctor, messenger
from app.signature import appsecret_proof
from bench import model_kinds
from tests.conftest import GRAPH, PAGE, SETTINGS, build_app

ROOT = Path(__file__).resolve().parent.parent
APP_ID = SETTINGS["FB_APP_ID"]
EVERY_FIELD = [
    "messages",
    "messaging_postbacks",
    "message_echoes",
    "messaging_handovers",
    "standby",
    "message_edits",
]


def models_client(handler, kind: str | None = "openai-reasoning") -> openai.OpenAI:
    """A real SDK client whose transport answers GET /v1/models/<id> with `handler` and chat
    calls as a server of `kind` (bench/model_kinds.py); with no kind, `handler` answers all."""

    def route(request: httpx2.Request) -> httpx2.Response:
        if kind and request.url.path.endswith("/chat/completions"):
            status, body = model_kinds.answer(kind, json.loads(request.content), "OK")
            return httpx2.Response(status, json=body)
        return handler(request)

    return openai.OpenAI(
        api_key=SETTINGS["OPENAI_API_KEY"],
        base_url=SETTINGS["OPENAI_BASE_URL"],
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(route)),
    )


def model_found(request: httpx2.Request) -> httpx2.Response:
    model = request.url.path.rsplit("/", 1)[-1]
    return httpx2.Response(
        200, json={"id": model, "object": "model", "created": 1, "owned_by": "x"}
    )


def error(code: int, subcode: int | None = None, status: int = 400) -> dict:
    body = {"error": {"message": "(#x) refused", "type": "OAuthException", "code": code}}
    if subcode:
        body["error"]["error_subcode"] = subcode
    return {"status": status, "json": body}


def graph_answers(
    mock, *, me=None, app=None, apps=None, conversations=None, match=(), page=PAGE
) -> None:
    """The reads the doctor makes; each answers a healthy page unless told otherwise (the
    page has no Instagram account linked)."""
    mine = {"id": APP_ID, "name": "Test Bot", "subscribed_fields": EVERY_FIELD}
    ok = {
        "/me": me or {"json": {"id": page, "name": "Test Page"}},
        "/app": app or {"json": {"id": APP_ID, "name": "Test Bot"}},
        f"/{page}/subscribed_apps": apps or {"json": {"data": [mine]}},
        "/me/conversations": conversations or {"json": {"data": [{"id": "t_1"}]}},
        f"/{page}": {"json": {"id": page}},
    }
    for path, answer in ok.items():
        mock.add(responses.GET, f"{GRAPH}{path}", match=list(match), **answer)


@pytest.fixture
def cli(app, runner):
    """The runner with the messenger group registered, and a model server that knows models."""
    if "messenger" not in app.cli.commands:
        app.cli.add_command(messenger)
    app.extensions["messenger"].model.client = models_client(model_found)
    return runner


def doctor_lines(cli) -> tuple[int, list[str], str]:
    result = cli.invoke(args=["messenger", "doctor"])
    assert "Traceback" not in result.output
    for secret in config.secrets(cli.app.config):
        assert secret not in result.output
    return result.exit_code, result.stdout.splitlines(), result.stderr


def test_a_healthy_setup_passes_every_check(cli, graph):
    graph_answers(graph)
    code, lines, _ = doctor_lines(cli)
    assert lines == [
        "✓ page token: valid, for the page 'Test Page' (id 1000001)",
        "✓ app secret: appsecret_proof accepted: FB_APP_SECRET matches the token",
        "✓ app: the token was made in 'Test Bot' (id 777000)",
        "✓ permission pages_manage_metadata: granted (reading the webhook subscription works)",
        "✓ webhook subscription: Test Bot receives message_echoes, message_edits, messages, "
        "messaging_handovers, messaging_postbacks, standby",
        "✓ permission pages_messaging: granted (reading conversations works)",
        "✓ OpenAI key and model: key accepted, model 'gpt-6-luna' available",
        "✓ model lifetime: no shutdown date announced for gpt-6-luna",
        "✓ model reply: gpt-6-luna answered (max_completion_tokens=512, temperature=0.2, "
        "top_p=0.2, reasoning_effort=none, tools=hand_to_person, tool_choice=auto) — note: "
        "adapted: max_tokens: the limit goes as "
        "max_completion_tokens",
        "✓ Graph API version: v26.0 (current)",
        "– hand-over to a person: passes threads to the Page Inbox (263902037430900) with "
        "Conversation Routing (not checkable here) — note: set up Conversation Routing (Meta "
        "Business Suite → Settings → Advanced messaging → Conversation routing) with this app "
        "and the inbox app connected; a refused pass is logged as 'handover failed' with "
        "Meta's words and counted in messenger_handover_failures_total",
        "all checks passed",
    ]
    assert code == 0
    assert f"{GRAPH}/{PAGE}/subscribed_apps" in [c.request.url.split("?")[0] for c in graph.calls]
    token = SETTINGS["FB_PAGE_ACCESS_TOKEN"]
    for call in graph.calls:
        assert token not in call.request.url
        assert call.request.headers["Authorization"] == f"Bearer {token}"
        assert call.request.params["appsecret_proof"] == appsecret_proof(
            token, SETTINGS["FB_APP_SECRET"]
        )


def test_an_expired_token_fails_with_the_fix_and_skips_what_needs_it(cli, graph):
    graph_answers(graph, me=error(190, 463))
    code, lines, stderr = doctor_lines(cli)
    assert code == 1
    assert lines[0].startswith("✗ page token: invalid or expired (code 190/463) — fix: generate")
    assert lines[1] == "– app secret: not checked: needs a valid page token"
    assert lines[2] == "– other checks of this token: not run"
    assert stderr.strip() == "1 of 8 checks failed"
    assert len(graph.calls) == 1


def test_a_wrong_app_secret_is_named(cli, graph):
    graph_answers(graph, me=error(100))
    code, lines, _ = doctor_lines(cli)
    assert code == 1
    assert lines[1].startswith("✗ app secret: Graph refused appsecret_proof (code 100)")
    assert "— fix: copy App settings → Basic → App secret" in lines[1]


def test_graph_unreachable(cli, graph):
    graph.add(responses.GET, f"{GRAPH}/me", body=requests.ConnectionError("refused"))
    code, lines, _ = doctor_lines(cli)
    assert code == 1
    assert lines[0] == (
        "✗ page token: not checked: Graph unreachable (ConnectionError) — fix: check the network "
        "and FB_GRAPH_API_URL"
    )


def test_a_page_not_sending_messages_fails(cli, graph):
    fields = {"id": APP_ID, "name": "Test Bot", "subscribed_fields": ["messaging_postbacks"]}
    graph_answers(graph, apps={"json": {"data": [fields]}})
    code, lines, _ = doctor_lines(cli)
    assert code == 1
    assert lines[4] == (
        "✗ webhook subscription: messages is missing (Test Bot: messaging_postbacks) — fix: "
        "run flask --app wsgi messenger subscribe"
    )


def test_recommended_fields_missing_is_a_note_not_a_failure(cli, graph):
    fields = {"id": APP_ID, "name": "Test Bot", "subscribed_fields": ["messages"]}
    graph_answers(graph, apps={"json": {"data": [fields]}})
    code, lines, _ = doctor_lines(cli)
    assert code == 0
    assert lines[4] == (
        "✓ webhook subscription: Test Bot receives messages — note: not subscribed to "
        "messaging_postbacks (Get Started, menu and ice breaker taps), message_echoes "
        "(replies your team types in the Page inbox), messaging_handovers (the Page Inbox "
        "taking a thread or passing it back), standby (messages while the Page Inbox owns the "
        "thread), message_edits (a person's edited messages): run flask --app wsgi messenger "
        "subscribe"
    )


def test_only_another_app_subscribed(cli, graph):
    other = {"id": "55", "name": "Some CRM", "subscribed_fields": ["messages"]}
    graph_answers(graph, apps={"json": {"data": [other]}})
    code, lines, _ = doctor_lines(cli)
    assert code == 1
    assert lines[4] == (
        "✗ webhook subscription: this app is not subscribed to the page (subscribed: Some CRM) "
        "— fix: run flask --app wsgi messenger subscribe"
    )


def test_missing_permissions_are_named(cli, graph):
    graph_answers(graph, apps=error(200, status=403), conversations=error(230, status=403))
    code, lines, stderr = doctor_lines(cli)
    assert code == 1
    assert lines[3].startswith(
        "✗ permission pages_manage_metadata: missing: cannot read the webhook subscription "
        "(code 200) — fix: grant pages_manage_metadata"
    )
    assert lines[4] == "– webhook subscription: not checked: cannot be read"
    assert lines[5].startswith("✗ permission pages_messaging: missing: cannot read conversations")
    assert stderr.strip() == "2 of 11 checks failed"


def test_fb_app_id_that_is_not_the_tokens_app(cli, graph):
    graph_answers(graph, app={"json": {"id": "888", "name": "Other App"}})
    code, lines, _ = doctor_lines(cli)
    assert code == 1
    assert lines[2] == (
        "✗ app: FB_APP_ID is 777000, but the token was made in 'Other App' (id 888) — fix: "
        "set FB_APP_ID=888, or leave it empty to have it looked up"
    )


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            lambda r: httpx2.Response(401, json={"error": {"message": SETTINGS["OPENAI_API_KEY"]}}),
            "✗ OpenAI key and model: the key was refused (http 401) — fix: set a valid "
            "OPENAI_API_KEY",
        ),
        (
            lambda r: httpx2.Response(404, json={"error": {"message": "no such model"}}),
            "✗ OpenAI key and model: model 'gpt-6-luna' not found (http 404) — fix: set "
            "OPENAI_MODEL to a model this key can use (check OPENAI_BASE_URL too)",
        ),
        (
            lambda r: (_ for _ in ()).throw(httpx2.ConnectError("refused")),
            "✗ OpenAI key and model: server unreachable — fix: check OPENAI_BASE_URL and the "
            "network",
        ),
        (
            lambda r: (_ for _ in ()).throw(httpx2.ReadTimeout("slow")),
            "✗ OpenAI key and model: no answer within 5s — fix: check OPENAI_BASE_URL and the "
            "network",
        ),
    ],
)
def test_model_problems(cli, graph, app, answer, expected):
    graph_answers(graph)
    app.extensions["messenger"].model.client = models_client(answer)
    code, lines, _ = doctor_lines(cli)
    assert code == 1
    assert lines[6] == expected


def test_every_token_of_several_pages_is_checked(settings, model, graph):
    tokens = {PAGE: "token-of-page-one", "3000003": "token-of-page-two"}
    app = build_app(dict(settings, FB_PAGE_TOKENS=json.dumps(tokens)), openai_client=model.client())
    app.cli.add_command(messenger)
    app.extensions["messenger"].model.client = models_client(model_found)
    graph_answers(
        graph, match=[matchers.header_matcher({"Authorization": "Bearer " + tokens[PAGE]})]
    )
    graph_answers(
        graph,
        me={"json": {"id": "4000004", "name": "Wrong Page"}},
        match=[matchers.header_matcher({"Authorization": "Bearer " + tokens["3000003"]})],
        page="3000003",
    )
    code, lines, _ = doctor_lines(app.test_cli_runner())
    assert code == 1
    assert lines[0] == f"✓ page {PAGE}: page token: valid, for the page 'Test Page' (id {PAGE})"
    assert lines[6] == (
        "✗ page 3000003: page token: belongs to the page 'Wrong Page' (id 4000004), not to "
        "3000003 — fix: put the token of page 3000003 under its id in FB_PAGE_TOKENS"
    )


@pytest.mark.parametrize(
    ("url", "today", "mark", "text"),
    [
        ("https://graph.facebook.com/v26.0", date(2026, 11, 25), "✓", "v26.0 (current)"),
        ("https://graph.facebook.com/v27.0", date(2026, 11, 25), "✓", "v27.0, newer than v26.0"),
        ("https://graph.facebook.com/v24.0", date(2026, 11, 25), "✓", "v24.0, available until"),
        ("https://graph.facebook.com/v21.0", date(2026, 11, 25), "⚠", "v21.0 stops working on"),
        ("https://graph.facebook.com/v21.0", date(2027, 1, 22), "✗", "v21.0 stopped working"),
        ("https://graph.facebook.com/v20.0", date(2026, 11, 25), "✗", "v20.0 stopped working"),
        ("https://graph.facebook.com/v12.0", date(2026, 11, 25), "✗", "v12.0 is no longer"),
        ("https://graph.facebook.com", date(2026, 11, 25), "✗", "FB_GRAPH_API_URL has no version"),
    ],
)
def test_graph_version(url, today, mark, text):
    line = doctor.version_check(url, today).line()
    assert line.startswith(f"{mark} Graph API version: {text}")
    assert ("warning: set FB_GRAPH_API_URL" in line) == (text == "v21.0 stops working on")


def test_warning_counts_as_passed():
    check = doctor.version_check("https://graph.facebook.com/v21.0", date(2026, 11, 25))
    assert check.status == "warn" and not check.failed
    assert "(57 days)" in check.detail


def test_subscription_without_knowing_our_app_names_the_one_that_receives():
    body = {
        "data": [
            {"id": "1", "name": "CRM", "subscribed_fields": ["feed"]},
            {"id": "2", "name": "Bot", "subscribed_fields": EVERY_FIELD},
        ]
    }
    check = doctor.subscription_check(body, None)
    assert check.status == "ok"
    assert "(2 apps subscribed; check Bot is this one)" in check.detail
    assert (
        doctor.subscription_check({"data": []})
        .line()
        .startswith("✗ webhook subscription: no app is subscribed to the page")
    )


def test_on_a_heroku_dyno_the_sqlite_store_fails_with_the_fix(cli, graph, monkeypatch):
    graph_answers(graph)
    monkeypatch.setenv("DYNO", "run.1234")
    code, lines, stderr = doctor_lines(cli)
    assert code == 1 and stderr.strip() == "1 of 12 checks failed"
    assert lines[-2] == (  # the store line, before the hand-over note
        "✗ store: SQLite on a Heroku dyno: each dyno's disk starts empty after every restart: "
        "kept conversations, claims and messages waiting for recovery are lost — fix: set "
        "REDIS_URL (heroku addons:create heroku-redis:mini sets it)"
    )


def _env_example_names() -> list[str]:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    return re.findall(r"^([A-Z][A-Z0-9_]*)=", text, flags=re.MULTILINE)


def test_app_json_describes_every_setting():
    manifest = json.loads((ROOT / "app.json").read_text(encoding="utf-8"))
    env = manifest["env"]
    for name in (*config.REQUIRED, *config.OPTIONAL):
        assert name in env, f"{name} missing from app.json"
        assert env[name]["description"].strip()
    for name in config.REQUIRED:
        assert env[name]["required"] is True
    for name in config.OPTIONAL:
        assert env[name]["required"] is False, f"{name}: app.json treats an unset entry as required"
    # Heroku sets PORT itself; everything else in .env.example is offered.
    assert set(_env_example_names()) - set(env) == {"PORT"}
    assert env["FB_VERIFY_TOKEN"]["generator"] == "secret"
    assert env["FB_GRAPH_API_URL"]["value"] == config.DEFAULT_GRAPH_API_URL
    assert all(isinstance(e.get("value", ""), str) for e in env.values())
    procfile = (ROOT / "Procfile").read_text(encoding="utf-8")
    assert set(manifest["formation"]) == {"web"} and procfile.startswith("web:")
    assert manifest["buildpacks"] == [{"url": "heroku/python"}]
    assert "flask --app wsgi messenger doctor" in manifest["scripts"]["postdeploy"]

"""`messenger subscribe`: every configured page (re)subscribed to the fields the bot needs, one
line per page; Meta drops a page's subscription after an hour of failed deliveries."""

import json

import pytest
import responses
from responses import matchers

import config
from app.operator import messenger
from app.signature import appsecret_proof
from tests.conftest import GRAPH, PAGE, SETTINGS, build_app
from tests.test_doctor import error

SECRET = SETTINGS["FB_APP_SECRET"]
FIELDS = "messages,messaging_postbacks,message_echoes,messaging_handovers,standby,message_edits"
SUBSCRIBED = (
    "subscribed to messages, messaging_postbacks, message_echoes, messaging_handovers, "
    "standby, message_edits"
)


def subscribe(runner):
    """Run the command; never a traceback or a secret in what it prints."""
    if "messenger" not in runner.app.cli.commands:
        runner.app.cli.add_command(messenger)
    result = runner.invoke(args=["messenger", "subscribe"])
    assert "Traceback" not in result.output
    for secret in config.secrets(runner.app.config):
        assert secret not in result.output
    return result


def subscribing(mock, page: str, token: str, **answer) -> None:
    """Graph's answer to POST /{page}/subscribed_apps with exactly the fields, by that token."""
    mock.add(
        responses.POST,
        f"{GRAPH}/{page}/subscribed_apps",
        match=[
            matchers.query_param_matcher(
                {"subscribed_fields": FIELDS, "appsecret_proof": appsecret_proof(token, SECRET)}
            ),
            matchers.header_matcher({"Authorization": f"Bearer {token}"}),
        ],
        **(answer or {"json": {"success": True}}),
    )


def test_the_single_tokens_page_is_learned_and_subscribed(runner, graph):
    graph.add(responses.GET, f"{GRAPH}/me", json={"id": PAGE, "name": "Test Page"})
    subscribing(graph, PAGE, SETTINGS["FB_PAGE_ACCESS_TOKEN"])
    result = subscribe(runner)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"page {PAGE}: {SUBSCRIBED}"]


@pytest.fixture
def two_pages(settings, model):
    tokens = {PAGE: "token-of-page-one", "3000003": "token-of-page-two"}
    app = build_app(dict(settings, FB_PAGE_TOKENS=json.dumps(tokens)), openai_client=model.client())
    return app.test_cli_runner(), tokens


def test_every_configured_page_is_subscribed_with_its_own_token(two_pages, graph):
    runner, tokens = two_pages
    for page, token in tokens.items():
        subscribing(graph, page, token)
    result = subscribe(runner)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"page {page}: {SUBSCRIBED}" for page in tokens]
    assert not any(c.request.url.startswith(f"{GRAPH}/me") for c in graph.calls)


def test_a_page_refused_is_named_with_the_fix_and_the_others_still_subscribed(two_pages, graph):
    runner, tokens = two_pages
    subscribing(graph, PAGE, tokens[PAGE], **error(200, status=403))
    subscribing(graph, "3000003", tokens["3000003"])
    result = subscribe(runner)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"page 3000003: {SUBSCRIBED}"]
    assert result.stderr.splitlines() == [
        f'error: page {PAGE}: could not subscribe: Graph error (Meta: "(#x) refused") code=200 '
        "http=403",
        "  the page token lacks pages_manage_metadata: grant it when generating the token "
        "(outside development mode it needs Advanced Access through App Review)",
        "1 of 2 pages not subscribed",
    ]


def test_an_expired_token_says_how_to_get_a_new_one(runner, graph):
    graph.add(responses.GET, f"{GRAPH}/me", **error(190, 463))
    result = subscribe(runner)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: cannot learn the page of FB_PAGE_ACCESS_TOKEN")
    assert "generate a new page token" in result.stderr


def test_graph_answering_without_success_is_not_taken_for_success(runner, graph):
    graph.add(responses.GET, f"{GRAPH}/me", json={"id": PAGE, "name": "Test Page"})
    subscribing(graph, PAGE, SETTINGS["FB_PAGE_ACCESS_TOKEN"], json={"success": False})
    result = subscribe(runner)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        f"error: page {PAGE}: could not subscribe: Graph answered without success"
    )

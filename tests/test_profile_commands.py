"""`messenger profile apply|show|clear`: one call each, the token in the header, a bad file
refused before any Graph call, and the page chosen among several."""

import copy
import json

import pytest
import responses
from responses import matchers

from app.operator import messenger, profile
from tests.conftest import GRAPH, SETTINGS, build_app
from tests.test_profile import EXAMPLE, PROFILE_URL, minimal


@pytest.fixture
def cli(app, runner, graph):
    """The runner, with the messenger group registered whether or not create_app does it; the
    token's page has no Instagram account linked."""
    if "messenger" not in app.cli.commands:
        app.cli.add_command(messenger)
    graph.add(responses.GET, f"{GRAPH}/me", json={"id": "1000001"})
    return runner


def profile_calls(mock) -> list:
    """The Messenger Profile calls among the Graph calls."""
    return [c for c in mock.calls if c.request.url.startswith(PROFILE_URL)]


@pytest.fixture
def example() -> dict:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def test_apply_posts_the_file_once_with_the_token_in_the_header(cli, graph, example):
    graph.add(responses.POST, PROFILE_URL, json={"result": "success"})
    result = cli.invoke(args=["messenger", "profile", "apply", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("set get_started, greeting, ice_breakers, persistent_menu")
    assert "note: ice_breakers and get_started are both set" in result.stdout
    (call,) = profile_calls(graph)
    expected = profile.with_bot_items(example, cli.app.config)
    assert json.loads(call.request.body) == {k: expected[k] for k in profile.FIELDS}
    assert call.request.headers["Authorization"] == f"Bearer {SETTINGS['FB_PAGE_ACCESS_TOKEN']}"
    assert SETTINGS["FB_PAGE_ACCESS_TOKEN"] not in call.request.url
    assert "appsecret_proof=" in call.request.url


def test_apply_refuses_a_bad_file_before_any_graph_call(cli, graph, tmp_path, example):
    bad = copy.deepcopy(example)
    bad["greeting"][1]["text"] = "x" * 171
    bad["persistent_menu"][0]["call_to_actions"][0]["title"] = "t" * 31
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad), encoding="utf-8")
    result = cli.invoke(args=["messenger", "profile", "apply", str(path)])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: {path}: 2 problems, nothing sent",
        "  greeting[1].text: 171 characters, at most 160",
        "  persistent_menu[0].call_to_actions[0].title: 31 characters, at most 30",
    ]
    assert "Traceback" not in result.output
    assert len(graph.calls) == 0


def test_apply_a_missing_file_exits_1(cli, graph, tmp_path):
    result = cli.invoke(args=["messenger", "profile", "apply", str(tmp_path / "none.json")])
    assert result.exit_code == 1
    assert "cannot read" in result.stderr
    assert len(graph.calls) == 0


def test_apply_graph_error_exits_1_with_the_code_and_a_hint(cli, graph):
    error = {"error": {"message": "(#100) Invalid keys", "code": 100, "fbtrace_id": "T1"}}
    graph.add(responses.POST, PROFILE_URL, status=400, json=error)
    result = cli.invoke(args=["messenger", "profile", "apply", str(EXAMPLE)])
    assert result.exit_code == 1
    assert result.stderr.startswith(
        'error: could not set the profile: invalid parameter (Meta: "(#100) Invalid keys") code=100'
    )
    assert "messenger doctor" in result.stderr
    assert "Traceback" not in result.output


def test_show_prints_json_that_apply_accepts(cli, graph, example):
    messenger_only = {k: example[k] for k in profile.FIELDS}
    graph.add(responses.GET, PROFILE_URL, json={"data": [messenger_only]})
    result = cli.invoke(args=["messenger", "profile", "show"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == messenger_only
    (call,) = profile_calls(graph)
    assert call.request.params["fields"] == "get_started,greeting,ice_breakers,persistent_menu"


def test_show_of_an_empty_profile(cli, graph):
    graph.add(responses.GET, PROFILE_URL, json={"data": []})
    result = cli.invoke(args=["messenger", "profile", "show"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {}
    assert "none of get_started" in result.stderr


def test_show_with_an_expired_token(cli, graph):
    error = {"error": {"message": "Session has expired", "code": 190, "error_subcode": 463}}
    graph.add(responses.GET, PROFILE_URL, status=400, json=error)
    result = cli.invoke(args=["messenger", "profile", "show"])
    assert result.exit_code == 1
    assert "code=190/463" in result.stderr and "FB_PAGE_ACCESS_TOKEN" in result.stderr


def test_clear_deletes_the_four_fields(cli, graph):
    graph.add(responses.DELETE, PROFILE_URL, json={"result": "success"})
    result = cli.invoke(args=["messenger", "profile", "clear"])
    assert result.exit_code == 0, result.output
    (call,) = graph.calls
    assert json.loads(call.request.body) == {"fields": list(profile.FIELDS)}
    assert result.stdout.strip() == "cleared get_started, greeting, ice_breakers, persistent_menu"


def test_clear_one_field(cli, graph):
    graph.add(responses.DELETE, PROFILE_URL, json={"result": "success"})
    result = cli.invoke(args=["messenger", "profile", "clear", "--field", "greeting"])
    assert result.exit_code == 0, result.output
    assert json.loads(graph.calls[0].request.body) == {"fields": ["greeting"]}


def test_apply_notes_a_get_started_payload_the_bot_does_not_know(cli, graph, tmp_path):
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(minimal(get_started={"payload": "START"})), encoding="utf-8")
    graph.add(responses.POST, PROFILE_URL, json={"result": "success"})
    result = cli.invoke(args=["messenger", "profile", "apply", str(path)])
    assert result.exit_code == 0, result.output
    assert (
        "note: get_started.payload is 'START' but GET_STARTED_PAYLOAD is 'GET_STARTED'"
        in result.stdout
    )


def test_several_pages_need_page_and_use_that_pages_token(settings, model, graph):
    tokens = {"1000001": "token-of-page-one", "3000003": "token-of-page-two"}
    app = build_app(dict(settings, FB_PAGE_TOKENS=json.dumps(tokens)), openai_client=model.client())
    app.cli.add_command(messenger)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["messenger", "profile", "show"])
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: several pages configured (1000001, 3000003): choose one with --page"
    )
    result = runner.invoke(args=["messenger", "profile", "show", "--page", "999"])
    assert result.exit_code == 1
    assert "no token for page 999 in FB_PAGE_TOKENS" in result.stderr

    graph.add(
        responses.GET,
        PROFILE_URL,
        json={"data": [{"greeting": [{"locale": "default", "text": "Hi"}]}]},
        match=[matchers.header_matcher({"Authorization": "Bearer token-of-page-two"})],
    )
    result = runner.invoke(args=["messenger", "profile", "show", "--page", "3000003"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"greeting": [{"locale": "default", "text": "Hi"}]}
    assert len(graph.calls) == 1


def test_the_bots_own_buttons_join_every_persistent_menu_once(cli, graph):
    graph.add(responses.POST, PROFILE_URL, json={"result": "success"})
    assert cli.invoke(args=["messenger", "profile", "apply", str(EXAMPLE)]).exit_code == 0
    (call,) = profile_calls(graph)
    for menu in json.loads(call.request.body)["persistent_menu"]:
        payloads = [item.get("payload") for item in menu["call_to_actions"]]
        assert payloads.count("TALK_TO_HUMAN") == 1  # the example has it already
        assert payloads.count("FORGET_ME") == 1  # "Delete my data" added
        forget = next(i for i in menu["call_to_actions"] if i.get("payload") == "FORGET_ME")
        assert forget == {"type": "postback", "title": "Delete my data", "payload": "FORGET_ME"}


def test_empty_menu_titles_add_no_items(example):
    off = {"FORGET_MENU_TITLE": "", "HANDOVER_MENU_TITLE": "", "HANDOVER_REPLY": "x"}
    assert profile.with_bot_items(example, off) == example

"""The Messenger Profile: validation against Meta's limits, and the apply/show/clear commands."""

import copy
import json
from pathlib import Path

import pytest
import responses
from responses import matchers

from app.operator import messenger, profile
from tests.conftest import GRAPH, SETTINGS, build_app

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "messenger_profile.json"
PROFILE_URL = f"{GRAPH}/me/messenger_profile"


@pytest.fixture
def cli(app, runner):
    """The runner, with the messenger group registered whether or not create_app does it."""
    if "messenger" not in app.cli.commands:
        app.cli.add_command(messenger)
    return runner


@pytest.fixture
def example() -> dict:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))


def minimal(**fields) -> dict:
    """A valid profile with a Get Started button, plus `fields`."""
    return {"get_started": {"payload": "GET_STARTED"}, **fields}


def menu(*items, locale="default") -> list:
    return [{"locale": locale, "call_to_actions": list(items)}]


def postback(title="Help", payload="HELP") -> dict:
    return {"type": "postback", "title": title, "payload": payload}


def test_the_shipped_example_is_valid(example):
    assert profile.validate(example) == []
    assert profile.load(EXAMPLE) == example


def test_greeting_text_over_160_characters_names_the_field():
    greeting = [{"locale": "default", "text": "Hi"}, {"locale": "en_US", "text": "x" * 171}]
    assert profile.validate({"greeting": greeting}) == [
        "greeting[1].text: 171 characters, at most 160"
    ]
    greeting[1]["text"] = "x" * 160
    assert profile.validate({"greeting": greeting}) == []


def test_greeting_needs_a_default_locale_each_locale_once_and_a_real_locale():
    problems = profile.validate(
        {
            "greeting": [
                {"locale": "en_US", "text": "a"},
                {"locale": "en_US", "text": "b"},
                {"locale": "english", "text": "c"},
            ]
        }
    )
    assert problems == [
        "greeting[2].locale: 'english' is not \"default\" or a locale like en_US",
        "greeting: locale 'en_US' appears 2 times",
        'greeting: needs an entry with "locale": "default"',
    ]


def test_get_started_payload_limit_and_typos():
    assert profile.validate({"get_started": {"payload": "p" * 1001}}) == [
        "get_started.payload: 1001 characters, at most 1000"
    ]
    assert profile.validate({"get_started": {"paylod": "GET_STARTED"}}) == [
        "get_started.paylod: unknown key",
        "get_started.payload: missing",
    ]


def test_unknown_fields_and_empty_files_are_refused():
    assert profile.validate({"greting": []}) == [
        "greting: unknown field (this command sets "
        "get_started, greeting, ice_breakers, persistent_menu)",
        "nothing to set: give at least one of get_started, greeting, ice_breakers, persistent_menu",
    ]
    assert profile.validate([]) == ["the file must hold a JSON object"]


def test_ice_breakers_at_most_four_questions_with_short_questions():
    questions = [{"question": f"Question {i}?", "payload": f"Q{i}"} for i in range(5)]
    questions[1]["question"] = "q" * 81
    questions[2]["payload"] = "p" * 1001
    grouped = [{"locale": "default", "call_to_actions": questions}]
    assert profile.validate({"ice_breakers": grouped}) == [
        "ice_breakers[0].call_to_actions: 5 questions, at most 4",
        "ice_breakers[0].call_to_actions[1].question: 81 characters, at most 80",
        "ice_breakers[0].call_to_actions[2].payload: 1001 characters, at most 1000",
    ]


def test_ice_breakers_flat_format_is_accepted_but_not_mixed():
    flat = [{"question": "Hours?", "payload": "HOURS"}]
    assert profile.validate({"ice_breakers": flat}) == []
    mixed = [*flat, {"locale": "default", "call_to_actions": flat}]
    assert profile.validate({"ice_breakers": mixed})[0].startswith("ice_breakers: mixes")


def test_ice_breakers_per_locale_need_a_default():
    grouped = [{"locale": "fr_FR", "call_to_actions": [{"question": "?", "payload": "Q"}]}]
    assert profile.validate({"ice_breakers": grouped}) == [
        'ice_breakers: needs an entry with "locale": "default"'
    ]


def test_persistent_menu_limits():
    items = [postback(f"Item {i}", f"P{i}") for i in range(21)]
    items[0]["title"] = "t" * 31
    items[1]["payload"] = "p" * 1001
    items[2] = {"type": "web_url", "title": "Site", "url": "http://example.com/"}
    items[3] = {"type": "nested", "title": "More", "call_to_actions": []}
    items[4] = {"type": "web_url", "title": "Site"}
    assert profile.validate(minimal(persistent_menu=menu(*items))) == [
        "persistent_menu[0].call_to_actions: 21 items, at most 20",
        "persistent_menu[0].call_to_actions[0].title: 31 characters, at most 30",
        "persistent_menu[0].call_to_actions[1].payload: 1001 characters, at most 1000",
        "persistent_menu[0].call_to_actions[2].url: must be an https:// URL",
        "persistent_menu[0].call_to_actions[3].type: nested menus were removed in Graph API "
        "v8.0; list items flat",
        "persistent_menu[0].call_to_actions[4].url: missing",
    ]
    assert profile.validate(minimal(persistent_menu=menu(*items[5:]))) == []


def test_persistent_menu_needs_get_started_and_a_default_locale():
    problems = profile.validate({"persistent_menu": menu(postback(), locale="en_US")})
    assert problems == [
        'persistent_menu: needs an entry with "locale": "default"',
        "persistent_menu: needs get_started in the same file "
        "(Messenger shows the menu only when a Get Started button is set)",
    ]


def test_persistent_menu_web_url_options():
    item = {
        "type": "web_url",
        "title": "Shop",
        "url": "https://shop.example/",
        "webview_height_ratio": "huge",
        "fallback_url": "https://shop.example/plain",
        "webview_share_button": "show",
    }
    assert profile.validate(minimal(persistent_menu=menu(item))) == [
        "persistent_menu[0].call_to_actions[0].webview_height_ratio: "
        "must be one of compact, tall, full",
        "persistent_menu[0].call_to_actions[0].fallback_url: "
        "only allowed with messenger_extensions true",
        'persistent_menu[0].call_to_actions[0].webview_share_button: the only value is "hide"',
    ]


def test_disabled_composer_needs_menu_items():
    menus = [{"locale": "default", "composer_input_disabled": True}]
    assert profile.validate(minimal(persistent_menu=menus)) == [
        "persistent_menu[0].call_to_actions: required when composer_input_disabled is true"
    ]


def test_load_reports_a_file_that_is_not_json(tmp_path):
    path = tmp_path / "profile.json"
    path.write_text('{"greeting": [\n}', encoding="utf-8")
    with pytest.raises(profile.ProfileError) as caught:
        profile.load(path)
    assert caught.value.problems[0].startswith(f"{path}: not JSON:")
    assert "(line 2)" in caught.value.problems[0]


def test_apply_posts_the_file_once_with_the_token_in_the_header(cli, graph, example):
    graph.add(responses.POST, PROFILE_URL, json={"result": "success"})
    result = cli.invoke(args=["messenger", "profile", "apply", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("set get_started, greeting, ice_breakers, persistent_menu")
    assert "note: ice_breakers and get_started are both set" in result.stdout
    (call,) = graph.calls
    assert json.loads(call.request.body) == example
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
    graph.add(responses.GET, PROFILE_URL, json={"data": [example]})
    result = cli.invoke(args=["messenger", "profile", "show"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == example
    (call,) = graph.calls
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

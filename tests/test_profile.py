"""The Messenger Profile file: validation against Meta's limits, each problem named by its
place in the file (the commands: tests/test_profile_commands.py)."""

import json
from pathlib import Path

import pytest

from app.operator import profile
from tests.conftest import GRAPH

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "messenger_profile.json"
PROFILE_URL = f"{GRAPH}/me/messenger_profile"


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
        "get_started, greeting, ice_breakers, persistent_menu, instagram)",
        "nothing to set: give at least one of get_started, greeting, ice_breakers, "
        "persistent_menu, instagram",
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

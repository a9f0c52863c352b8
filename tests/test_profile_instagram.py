"""Instagram ice breakers in the profile file: checked like Messenger's, set, shown and cleared
on each Instagram account with `platform=instagram` (a Page's linked account with the Page's
token on graph.facebook.com, an Instagram Login account with its own token on its host)."""

import json

import pytest
import responses

from app.operator import messenger, profile
from tests.conftest import (
    GRAPH,
    IG,
    IG_HOST,
    IG_LOGIN,
    IG_TOKEN,
    PAGE,
    PAGE_TOKEN,
    SETTINGS,
    build_app,
    with_instagram,
)
from tests.test_doctor import error
from tests.test_profile import EXAMPLE

PROFILE_URL = f"{GRAPH}/me/messenger_profile"
IG_PROFILE_URL = f"{IG_HOST}/me/messenger_profile"
QUESTIONS = [
    {"question": "What are your opening hours?", "payload": "ASK_OPENING_HOURS"},
    {"question": "Can I talk to a person?", "payload": "ASK_HUMAN"},
]
GROUPED = [{"locale": "default", "call_to_actions": QUESTIONS}]


def run(runner, *args):
    """Run a profile command; never a traceback or a secret in what it prints."""
    if "messenger" not in runner.app.cli.commands:
        runner.app.cli.add_command(messenger)
    result = runner.invoke(args=["messenger", "profile", *args])
    assert "Traceback" not in result.output
    for secret in [SETTINGS["FB_PAGE_ACCESS_TOKEN"], PAGE_TOKEN, IG_TOKEN]:
        assert secret not in result.output
    return result


def runner_with(settings, model, **accounts):
    """A CLI runner for the app with these Instagram accounts (see `with_instagram`)."""
    app = build_app(with_instagram(settings, **accounts), openai_client=model.client())
    return app.test_cli_runner()


@pytest.fixture
def single(runner, graph):
    """The single page token, whose page Graph says is linked to IG; every profile call
    succeeds."""
    graph.add(
        responses.GET, f"{GRAPH}/me", json={"id": PAGE, "instagram_business_account": {"id": IG}}
    )
    for method in (responses.POST, responses.DELETE):
        graph.add(method, PROFILE_URL, json={"result": "success"})
    return runner


def profile_file(tmp_path, **sections) -> str:
    """A profile file holding `sections`; its path."""
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(sections), encoding="utf-8")
    return str(path)


def calls(mock, url: str, method: str) -> list:
    """The Graph calls of one method to one URL, whatever their query."""
    return [c for c in mock.calls if c.request.method == method and c.request.url.startswith(url)]


def test_the_instagram_section_is_checked_like_messengers_ice_breakers():
    too_many = [{"question": f"Question {i}?", "payload": f"Q{i}"} for i in range(5)]
    too_many[1]["question"] = "q" * 81
    too_many[2] = {"question": "Where?"}
    section = {"ice_breakers": [{"locale": "default", "call_to_actions": too_many}]}
    assert profile.validate({"instagram": section}) == [
        "instagram.ice_breakers[0].call_to_actions: 5 questions, at most 4",
        "instagram.ice_breakers[0].call_to_actions[1].question: 81 characters, at most 80",
        "instagram.ice_breakers[0].call_to_actions[2].payload: missing",
    ]
    french = [{"locale": "fr_FR", "call_to_actions": QUESTIONS}]
    assert profile.validate({"instagram": {"ice_breakers": french}}) == [
        'instagram.ice_breakers: needs an entry with "locale": "default"'
    ]


@pytest.mark.parametrize(
    ("section", "problems"),
    [
        ([], ['instagram: must be an object like {"ice_breakers": [...]}']),
        ({}, ["instagram: nothing to set: give ice_breakers"]),
        (
            {"ice_breakers": GROUPED, "greeting": []},
            ["instagram.greeting: unknown key (Instagram takes ice_breakers only)"],
        ),
    ],
)
def test_an_instagram_section_that_sets_nothing_known_is_refused(section, problems):
    assert profile.validate({"instagram": section}) == problems


def test_the_example_sets_instagram_ice_breakers(single, graph):
    result = run(single, "apply", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    example = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    (page,) = [c for c in calls(graph, PROFILE_URL, "POST") if "platform" not in c.request.params]
    example = profile.with_bot_items(example, single.app.config)
    assert json.loads(page.request.body) == {k: v for k, v in example.items() if k != "instagram"}
    (ig,) = [c for c in calls(graph, PROFILE_URL, "POST") if "platform" in c.request.params]
    assert ig.request.params["platform"] == "instagram"
    assert ig.request.headers["Authorization"] == f"Bearer {SETTINGS['FB_PAGE_ACCESS_TOKEN']}"
    assert json.loads(ig.request.body) == {"platform": "instagram", **example["instagram"]}
    assert result.stdout.splitlines()[0].startswith("set get_started, greeting, ice_breakers")
    assert f"instagram {IG}: set ice_breakers from {EXAMPLE}" in result.stdout.splitlines()
    assert "note: Instagram shows ice breakers in its mobile app only" in result.stdout


def test_an_instagram_login_account_gets_them_on_its_own_host(settings, model, graph, tmp_path):
    runner = runner_with(settings, model, login=True, page=False)
    graph.add(responses.POST, IG_PROFILE_URL, json={"result": "success"})
    result = run(runner, "apply", profile_file(tmp_path, instagram={"ice_breakers": QUESTIONS}))
    assert result.exit_code == 0, result.output
    (call,) = graph.calls
    assert call.request.params["platform"] == "instagram"
    assert call.request.headers["Authorization"] == f"Bearer {IG_TOKEN}"
    # The flat list goes as the default locale's questions: Meta's current format.
    assert json.loads(call.request.body) == {"platform": "instagram", "ice_breakers": GROUPED}
    assert result.stdout.splitlines()[0] == f"instagram {IG_LOGIN}: set ice_breakers from " + (
        str(tmp_path / "profile.json")
    )


def test_with_no_instagram_account_the_section_is_a_note_and_messenger_is_still_set(runner, graph):
    graph.add(responses.GET, f"{GRAPH}/me", json={"id": PAGE})
    graph.add(responses.POST, PROFILE_URL, json={"result": "success"})
    result = run(runner, "apply", str(EXAMPLE))
    assert result.exit_code == 0, result.output
    assert len(calls(graph, PROFILE_URL, "POST")) == 1
    assert result.stdout.splitlines()[-1] == (
        "note: the instagram section was not sent: no Instagram account is linked to the page "
        "or listed in INSTAGRAM_ACCOUNTS"
    )


def test_messenger_fields_without_a_page_token_are_one_line(settings, model, graph, tmp_path):
    runner = runner_with(settings, model, login=True, page=False)
    result = run(runner, "apply", str(EXAMPLE))
    assert result.exit_code == 1 and len(graph.calls) == 0
    assert result.stderr.splitlines() == [
        "error: the file sets get_started, greeting, ice_breakers, persistent_menu, but no page "
        "token is configured (FB_PAGE_ACCESS_TOKEN or FB_PAGE_TOKENS); nothing sent"
    ]


def answering(mock, url: str, messenger: dict, instagram: dict) -> None:
    """GET url answers `instagram` with platform=instagram, `messenger` without."""

    def answer(request):
        """Both platforms share the URL: tell them by the query."""
        body = instagram if "platform=instagram" in request.url else messenger
        return 200, {}, json.dumps(body)

    mock.add_callback(responses.GET, url, callback=answer)


GREETING = {"greeting": [{"locale": "default", "text": "Hi!"}]}


@pytest.mark.parametrize(
    "answer",
    [
        {"data": GROUPED},  # Meta's documented answer for platform=instagram
        {"data": [{"ice_breakers": GROUPED}]},  # Messenger's shape
    ],
)
def test_show_reads_the_instagram_ice_breakers_back(single, graph, answer):
    answering(graph, PROFILE_URL, {"data": [GREETING]}, answer)
    result = run(single, "show")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown == {**GREETING, "instagram": {"ice_breakers": GROUPED}}
    assert profile.validate(shown) == []  # what apply accepts
    (ig,) = [c for c in calls(graph, PROFILE_URL, "GET") if "platform" in c.request.params]
    assert ig.request.params["fields"] == "ice_breakers"


def test_show_with_several_instagram_accounts_asks_which(settings, model, graph):
    runner = runner_with(settings, model, linked=True, login=True)
    answering(graph, PROFILE_URL, {"data": [GREETING]}, {"data": []})
    answering(graph, IG_PROFILE_URL, {}, {"data": GROUPED})
    result = run(runner, "show")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == GREETING
    assert result.stderr.strip() == (
        f"note: 2 Instagram accounts ({IG}, {IG_LOGIN}): add --instagram ACCOUNT_ID to show "
        "one's ice breakers"
    )
    result = run(runner, "show", "--instagram", IG_LOGIN)
    assert json.loads(result.stdout) == {**GREETING, "instagram": {"ice_breakers": GROUPED}}


def test_an_instagram_account_not_configured_is_one_line(settings, model, graph):
    runner = runner_with(settings, model, linked=True, login=True)
    result = run(runner, "show", "--instagram", "17841499999999")
    assert result.exit_code == 1 and len(graph.calls) == 0
    assert result.stderr.strip() == (
        f"error: no Instagram account 17841499999999 (configured: {IG}, {IG_LOGIN})"
    )


def test_clear_field_instagram_clears_each_accounts_ice_breakers_only(settings, model, graph):
    runner = runner_with(settings, model, linked=True, login=True)
    graph.add(responses.DELETE, PROFILE_URL, json={"result": "success"})
    graph.add(responses.DELETE, IG_PROFILE_URL, json={"result": "success"})
    result = run(runner, "clear", "--field", "instagram")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"instagram {IG}: cleared ice_breakers",
        f"instagram {IG_LOGIN}: cleared ice_breakers",
    ]
    page, login = graph.calls
    assert page.request.headers["Authorization"] == f"Bearer {PAGE_TOKEN}"
    assert login.request.headers["Authorization"] == f"Bearer {IG_TOKEN}"
    for call in graph.calls:
        assert call.request.params["platform"] == "instagram"
        assert json.loads(call.request.body) == {"fields": ["ice_breakers"]}


def test_clear_without_field_instagram_leaves_instagram_alone(single, graph):
    result = run(single, "clear")
    assert result.exit_code == 0, result.output
    assert [c.request.url.split("?")[0] for c in graph.calls] == [PROFILE_URL]
    result = run(single, "clear", "--instagram", IG)
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: --instagram works with --field instagram"


def test_one_instagram_account_refused_is_named_and_the_others_still_set(
    settings, model, graph, tmp_path
):
    runner = runner_with(settings, model, linked=True, login=True)
    graph.add(responses.POST, PROFILE_URL, **error(190, 463))
    graph.add(responses.POST, IG_PROFILE_URL, json={"result": "success"})
    result = run(runner, "apply", profile_file(tmp_path, instagram={"ice_breakers": GROUPED}))
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0].startswith(f"instagram {IG_LOGIN}: set ice_breakers")
    assert result.stderr.splitlines()[0] == (
        f"error: instagram {IG}: could not set the ice breakers: access token invalid or "
        'expired (Meta: "(#x) refused") code=190/463 http=400'
    )
    assert "generate a new page token" in result.stderr.splitlines()[1]
    assert result.stderr.splitlines()[-1] == "1 of 2 Instagram accounts not changed"


def test_instagram_options_that_cannot_apply_are_one_line(settings, model, graph, tmp_path):
    runner = runner_with(settings, model, login=True, page=False)
    result = run(runner, "clear")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "error: no page token is configured (FB_PAGE_ACCESS_TOKEN or FB_PAGE_TOKENS): clear the "
        "Instagram ice breakers with --field instagram"
    )
    path = profile_file(tmp_path, get_started={"payload": "GET_STARTED"})
    runner = runner_with(settings, model, login=True)
    result = run(runner, "apply", path, "--instagram", IG_LOGIN)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"error: --instagram: {path} has no instagram section; nothing sent"
    )
    assert len(graph.calls) == 0

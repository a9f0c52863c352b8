"""The doctor checks each Instagram account: a Page's linked one through the Page, an Instagram
Login one on its own host, with its own token."""

import pytest
import responses
from responses import matchers

from app.operator import messenger
from app.signature import appsecret_proof
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
from tests.test_doctor import doctor_lines, error, graph_answers, model_found, models_client

LINK_FIX = (
    "link the Instagram professional account to the Page in Meta Business Suite → Settings → "
    "Instagram accounts, or correct instagram_id in FB_PAGE_TOKENS"
)


def linked_to(mock, account: str | None, token: str = SETTINGS["FB_PAGE_ACCESS_TOKEN"]) -> None:
    """Graph's answer to GET /{page}?fields=instagram_business_account by that page's token."""
    body = {"id": PAGE}
    if account:
        body["instagram_business_account"] = {"id": account}
    mock.replace(
        responses.GET,
        f"{GRAPH}/{PAGE}",
        json=body,
        match=[
            matchers.query_param_matcher(
                {"fields": "instagram_business_account"}, strict_match=False
            ),
            matchers.header_matcher({"Authorization": f"Bearer {token}"}),
        ],
    )


def doctor_app(settings, model, **accounts):
    """The app with these Instagram accounts (`with_instagram`), the doctor's group and a model
    server that knows models."""
    app = build_app(with_instagram(settings, **accounts), openai_client=model.client())
    if "messenger" not in app.cli.commands:
        app.cli.add_command(messenger)
    app.extensions["messenger"].model.client = models_client(model_found)
    return app.test_cli_runner()


@pytest.fixture
def single(settings, model):
    """The single FB_PAGE_ACCESS_TOKEN of the test settings."""
    return doctor_app(settings, model)


@pytest.fixture
def linked_page(settings, model):
    """FB_PAGE_TOKENS naming PAGE with its linked Instagram account."""
    return doctor_app(settings, model, linked=True)


def page_healthy(mock) -> None:
    """PAGE's reads answer healthy, by its own token from FB_PAGE_TOKENS only."""
    graph_answers(mock, match=[matchers.header_matcher({"Authorization": f"Bearer {PAGE_TOKEN}"})])


def test_a_single_tokens_linked_account_is_named_after_the_pages_checks(single, graph):
    graph_answers(graph)
    linked_to(graph, IG)
    code, lines, _ = doctor_lines(single)
    assert code == 0
    assert lines[5] == "✓ permission pages_messaging: granted (reading conversations works)"
    assert lines[6] == (
        f"✓ instagram account: {IG} is linked to the page {PAGE} (its messages are answered "
        "with the page's token)"
    )
    assert lines[7].startswith("✓ OpenAI key and model")


def test_a_single_token_whose_page_has_no_instagram_account_says_nothing_of_instagram(
    single, graph
):
    graph_answers(graph)
    linked_to(graph, None)
    code, lines, _ = doctor_lines(single)
    assert code == 0
    assert not [line for line in lines if "instagram" in line.lower()]
    assert f"{GRAPH}/{PAGE}" in [c.request.url.split("?")[0] for c in graph.calls]


def test_a_single_token_that_cannot_say_its_instagram_account_is_not_a_failure(single, graph):
    graph_answers(graph)
    graph.replace(responses.GET, f"{GRAPH}/{PAGE}", **error(10, status=403))
    code, lines, _ = doctor_lines(single)
    assert code == 0
    assert lines[6] == (
        "– instagram account: not checked: cannot read the page's Instagram account (permission "
        'denied (Meta: "(#x) refused") code=10 http=403)'
    )


def test_a_configured_instagram_id_linked_to_its_page_passes(linked_page, graph):
    page_healthy(graph)
    linked_to(graph, IG, PAGE_TOKEN)
    code, lines, _ = doctor_lines(linked_page)
    assert code == 0
    assert lines[6] == (
        f"✓ page {PAGE}: instagram account: {IG} is linked to the page {PAGE} (its messages are "
        "answered with the page's token)"
    )


@pytest.mark.parametrize(
    ("found", "detail"),
    [
        ("17841499999999", f"the page is linked to 17841499999999, not to {IG} (instagram_id)"),
        (None, f"no Instagram account is linked to the page (instagram_id is {IG})"),
    ],
)
def test_a_page_linked_to_another_account_or_none_fails_with_the_fix(
    linked_page, graph, found, detail
):
    page_healthy(graph)
    linked_to(graph, found, PAGE_TOKEN)
    code, lines, stderr = doctor_lines(linked_page)
    assert code == 1
    assert lines[6] == f"✗ page {PAGE}: instagram account: {detail} — fix: {LINK_FIX}"
    assert stderr.strip() == "1 of 12 checks failed"


def test_a_page_that_cannot_say_its_instagram_account_fails_when_one_is_configured(
    linked_page, graph
):
    page_healthy(graph)
    graph.replace(responses.GET, f"{GRAPH}/{PAGE}", **error(10, status=403))
    code, lines, _ = doctor_lines(linked_page)
    assert code == 1
    assert lines[6].startswith(
        f"✗ page {PAGE}: instagram account: cannot read the page's Instagram account (permission "
        'denied (Meta: "(#x) refused") code=10 http=403) — fix: grant instagram_basic and '
        "instagram_manage_messages"
    )


@pytest.fixture
def login(settings, model):
    """One Instagram Login account beside the single page token."""
    return doctor_app(settings, model, login=True)


def login_answers(mock, me=None, apps=None) -> None:
    """The Instagram host's answers for IG_LOGIN, by its own token only."""
    by_token = [matchers.header_matcher({"Authorization": f"Bearer {IG_TOKEN}"})]
    fields = ["messages", "messaging_postbacks", "messaging_seen", "message_reactions"]
    fields += ["messaging_referral", "messaging_handover", "standby", "message_echoes"]
    answers = {
        "/me": me or {"json": {"user_id": IG_LOGIN, "username": "corner.bakery", "id": "99"}},
        f"/{IG_LOGIN}/subscribed_apps": apps or {"json": {"data": [{"subscribed_fields": fields}]}},
    }
    for path, answer in answers.items():
        mock.add(responses.GET, f"{IG_HOST}{path}", match=by_token, **answer)


def test_an_instagram_login_account_is_checked_on_its_own_host_with_its_own_token(login, graph):
    graph_answers(graph)
    linked_to(graph, None)
    login_answers(graph)
    code, lines, _ = doctor_lines(login)
    assert code == 0
    assert lines[6:8] == [
        f"✓ instagram {IG_LOGIN}: token: valid, for @corner.bakery (id {IG_LOGIN})",
        f"✓ instagram {IG_LOGIN}: webhook subscription: receives message_echoes, "
        "message_reactions, messages, messaging_handover, messaging_postbacks, "
        "messaging_referral, messaging_seen, standby",
    ]
    on_host = [c for c in graph.calls if c.request.url.startswith(IG_HOST)]
    assert [c.request.url.split("?")[0] for c in on_host] == [
        f"{IG_HOST}/me",
        f"{IG_HOST}/{IG_LOGIN}/subscribed_apps",
    ]
    assert on_host[0].request.params["fields"] == "user_id,username"
    proof = appsecret_proof(IG_TOKEN, SETTINGS["FB_APP_SECRET"])
    assert all(c.request.params["appsecret_proof"] == proof for c in on_host)


def test_an_expired_instagram_token_fails_with_the_fix_and_skips_the_subscription(login, graph):
    graph_answers(graph)
    linked_to(graph, None)
    login_answers(graph, me=error(190, 463))
    code, lines, _ = doctor_lines(login)
    assert code == 1
    assert lines[6] == (
        f"✗ instagram {IG_LOGIN}: token: invalid or expired (code 190/463) — fix: generate a new "
        "token (App Dashboard → Instagram → API setup with Instagram business login → Generate "
        f"token) and put it under {IG_LOGIN} in INSTAGRAM_ACCOUNTS"
    )
    assert lines[7] == (
        f"– instagram {IG_LOGIN}: webhook subscription: not checked: needs a valid token"
    )


def test_an_instagram_token_of_another_account_fails(login, graph):
    graph_answers(graph)
    linked_to(graph, None)
    login_answers(graph, me={"json": {"user_id": "17841477777777", "username": "other.shop"}})
    code, lines, _ = doctor_lines(login)
    assert code == 1
    assert lines[6] == (
        f"✗ instagram {IG_LOGIN}: token: belongs to @other.shop (id 17841477777777), not to "
        f"{IG_LOGIN} — fix: put the token of {IG_LOGIN} under its id in INSTAGRAM_ACCOUNTS"
    )
    assert lines[7].startswith(f"– instagram {IG_LOGIN}: webhook subscription: not checked")


@pytest.mark.parametrize(
    ("apps", "detail"),
    [
        ({"data": [{"subscribed_fields": ["messaging_seen"]}]}, "messages is missing "
         "(subscribed: messaging_seen)"),
        ({"data": []}, "messages is missing (subscribed: nothing)"),
    ],
)  # fmt: skip
def test_an_instagram_login_account_not_receiving_messages_fails(login, graph, apps, detail):
    graph_answers(graph)
    linked_to(graph, None)
    login_answers(graph, apps={"json": apps})
    code, lines, _ = doctor_lines(login)
    assert code == 1
    assert lines[7] == (
        f"✗ instagram {IG_LOGIN}: webhook subscription: {detail} — fix: run flask --app wsgi "
        "messenger subscribe"
    )


def test_missing_recommended_instagram_fields_are_a_note(login, graph):
    graph_answers(graph)
    linked_to(graph, None)
    login_answers(graph, apps={"json": {"data": [{"subscribed_fields": ["messages"]}]}})
    code, lines, _ = doctor_lines(login)
    assert code == 0
    assert lines[7].startswith(
        f"✓ instagram {IG_LOGIN}: webhook subscription: receives messages — note: not "
        "subscribed to messaging_postbacks (ice breaker and button taps), "
    )
    assert lines[7].endswith(": run flask --app wsgi messenger subscribe")


def test_with_only_instagram_login_accounts_no_page_is_checked(settings, model, graph):
    runner = doctor_app(settings, model, login=True, page=False)
    login_answers(graph)
    code, lines, _ = doctor_lines(runner)
    assert code == 0, lines
    assert lines[0] == f"✓ instagram {IG_LOGIN}: token: valid, for @corner.bakery (id {IG_LOGIN})"
    assert not [c for c in graph.calls if c.request.url.startswith(GRAPH)]

"""`messenger subscribe` and Instagram: an Instagram Login account is subscribed on its own
host with its own token; a Page's linked account rides on the Page's subscription."""

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
from tests.test_doctor import error
from tests.test_subscribe import SUBSCRIBED, subscribe, subscribing

IG_FIELDS = (
    "messages,messaging_postbacks,messaging_seen,message_reactions,messaging_referral,"
    "messaging_handover,standby,message_echoes"
)
IG_SUBSCRIBED = "subscribed to " + IG_FIELDS.replace(",", ", ")


def runner_with(settings, model, **accounts):
    """A CLI runner for the app with these Instagram accounts (see `with_instagram`)."""
    app = build_app(with_instagram(settings, **accounts), openai_client=model.client())
    app.cli.add_command(messenger)
    return app.test_cli_runner()


def ig_subscribing(mock, **answer) -> None:
    """The Instagram host's answer to POST /{ig-id}/subscribed_apps, by the account's token."""
    proof = appsecret_proof(IG_TOKEN, SETTINGS["FB_APP_SECRET"])
    mock.add(
        responses.POST,
        f"{IG_HOST}/{IG_LOGIN}/subscribed_apps",
        match=[
            matchers.query_param_matcher(
                {"subscribed_fields": IG_FIELDS, "appsecret_proof": proof}
            ),
            matchers.header_matcher({"Authorization": f"Bearer {IG_TOKEN}"}),
        ],
        **(answer or {"json": {"success": True}}),
    )


def test_an_instagram_login_account_is_subscribed_on_its_own_host(settings, model, graph):
    runner = runner_with(settings, model, login=True)
    graph.add(responses.GET, f"{GRAPH}/me", json={"id": PAGE})
    subscribing(graph, PAGE, SETTINGS["FB_PAGE_ACCESS_TOKEN"])
    ig_subscribing(graph)
    result = subscribe(runner)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"page {PAGE}: {SUBSCRIBED}",
        f"instagram {IG_LOGIN}: {IG_SUBSCRIBED}",
    ]


def test_a_pages_linked_account_needs_no_call_of_its_own(settings, model, graph):
    runner = runner_with(settings, model, linked=True)
    subscribing(graph, PAGE, PAGE_TOKEN)
    result = subscribe(runner)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"page {PAGE}: {SUBSCRIBED}",
        f"instagram {IG}: linked to page {PAGE}: the page's subscription carries its messages",
    ]
    assert [c.request.url.split("?")[0] for c in graph.calls] == [f"{GRAPH}/{PAGE}/subscribed_apps"]


def test_the_single_tokens_linked_account_is_learned_with_its_page(runner, graph):
    graph.add(
        responses.GET,
        f"{GRAPH}/me",
        json={"id": PAGE, "instagram_business_account": {"id": IG}},
        match=[
            matchers.query_param_matcher(
                {"fields": "id,instagram_business_account"}, strict_match=False
            )
        ],
    )
    subscribing(graph, PAGE, SETTINGS["FB_PAGE_ACCESS_TOKEN"])
    result = subscribe(runner)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == (
        f"instagram {IG}: linked to page {PAGE}: the page's subscription carries its messages"
    )


def test_an_instagram_token_refused_is_named_with_the_fix(settings, model, graph):
    runner = runner_with(settings, model, login=True, page=False)
    ig_subscribing(graph, **error(190, 463))
    result = subscribe(runner)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"error: instagram {IG_LOGIN}: could not subscribe: access token invalid or expired "
        '(Meta: "(#x) refused") code=190/463 http=400',
        "  generate a new token (App Dashboard → Instagram → API setup with Instagram business "
        f"login → Generate token) and put it under {IG_LOGIN} in INSTAGRAM_ACCOUNTS",
        "1 of 1 accounts not subscribed",
    ]
    assert not [c for c in graph.calls if c.request.url.startswith(GRAPH)]


def test_an_instagram_account_without_the_permission_is_told_which(settings, model, graph):
    runner = runner_with(settings, model, login=True, page=False)
    ig_subscribing(graph, **error(10, status=403))
    result = subscribe(runner)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[1] == (
        "  the Instagram token lacks instagram_business_manage_messages: grant it when "
        "generating the token (outside development mode it needs Advanced Access through App "
        "Review)"
    )

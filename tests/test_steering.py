"""Automations never silence the bot; Conversation Routing's thread control does, until the
thread is passed back."""

import pytest

from app.handover import PAGE_INBOX_APP_ID
from tests.conftest import (
    NOW_MS,
    PAGE,
    PERSON,
    body_of,
    build_app,
    graph_ok,
    sent_texts,
    text_event,
)
from tests.test_people import echo

OURS = "777000"  # FB_APP_ID in the test settings
AUTOMATION = "555001"


def control(kind: str, new_owner, previous=None) -> dict:
    change = {"new_owner_app_id": new_owner, "metadata": "routing"}
    if previous is not None:
        change["previous_owner_app_id"] = previous
    if new_owner is None:
        del change["new_owner_app_id"]
    return {"sender": {"id": PERSON}, "recipient": {"id": PAGE}, "timestamp": NOW_MS, kind: change}


@pytest.fixture
def steered(settings, model):
    return build_app(dict(settings, AUTOMATION_APP_IDS=AUTOMATION), openai_client=model.client())


def test_an_automations_echo_does_not_pause_the_bot_but_is_kept(steered, graph, post_to):
    graph_ok(graph)
    post_to(steered, body_of(echo(app_id=AUTOMATION, mid="m_away")))
    post_to(steered, body_of(text_event("anyone there?", "m_q")))
    assert sent_texts(graph) == ["Hello there!"]
    kept = steered.extensions["messenger"].ledger.transcript(f"{PAGE}:{PERSON}").entries
    assert ("m_away", True) in [(e.id, e.from_page) for e in kept]


@pytest.mark.parametrize("app_id", [None, PAGE_INBOX_APP_ID, 123456])
def test_a_person_from_the_page_pauses_the_bot(steered, graph, post_to, app_id):
    graph_ok(graph)
    post_to(steered, body_of(echo(app_id=app_id)))
    post_to(steered, body_of(text_event("hello?", "m_q")))
    assert sent_texts(graph) == []


@pytest.mark.parametrize(
    "taken",
    [
        control("take_thread_control", PAGE_INBOX_APP_ID, previous=int(OURS)),
        control("pass_thread_control", int(PAGE_INBOX_APP_ID)),
        control("take_thread_control", None, previous=OURS),
    ],
)
def test_after_a_take_the_bot_is_quiet_and_after_the_pass_back_it_answers(
    steered, graph, post_to, taken
):
    graph_ok(graph)
    post_to(steered, body_of(taken))
    post_to(steered, body_of(text_event("hello?", "m_1")))
    assert sent_texts(graph) == []
    post_to(steered, body_of(control("pass_thread_control", int(OURS))))
    post_to(steered, body_of(text_event("hello again?", "m_2", ts=NOW_MS + 1_000)))
    assert sent_texts(graph) == ["Hello there!"]


def test_standby_messages_while_the_inbox_owns_the_thread_stay_unanswered(steered, graph, post_to):
    graph_ok(graph)
    standby = {"object": "page", "entry": [{"id": PAGE, "standby": [text_event("hi", "m_s")]}]}
    assert post_to(steered, standby).status_code == 200
    assert sent_texts(graph) == []


def test_a_page_inbox_reply_pauses_the_bot_while_our_app_id_is_unknown(settings, model, graph):
    import responses

    graph_ok(graph)
    graph.add(responses.GET, f"{settings['FB_GRAPH_API_URL']}/app", status=500)
    unknown = build_app(dict(settings, FB_APP_ID=""), openai_client=model.client())
    from tests.conftest import post_signed

    post_signed(unknown, body_of(echo(app_id=int(PAGE_INBOX_APP_ID))))
    post_signed(unknown, body_of(text_event("hello?", "m_q")))
    assert sent_texts(graph) == []
    assert not [c for c in graph.calls if c.request.url.endswith("/app")]  # no lookup needed


def test_echoes_and_thread_control_of_pages_we_do_not_serve_change_nothing(steered, graph, post_to):
    graph_ok(graph)  # the token's page is PAGE
    other = "5555"
    team = echo(app_id=None, mid="m_theirs")
    team["sender"]["id"] = other
    taken = control("take_thread_control", PAGE_INBOX_APP_ID)
    taken["recipient"]["id"] = other
    for item in (team, taken):
        assert post_to(steered, body_of(item, page=other)).status_code == 200
    ledger = steered.extensions["messenger"].ledger
    assert ledger.paused_until(f"{other}:{PERSON}") is None
    assert ledger.transcript(f"{other}:{PERSON}").entries == []


def test_a_team_pause_runs_from_the_echo_and_a_redelivered_echo_does_not_extend_it(
    steered, graph, post_to
):
    graph_ok(graph)
    minutes = steered.config["HUMAN_PAUSE_MINUTES"]
    written = echo(app_id=None, mid="m_team")
    written["timestamp"] = NOW_MS - 10 * 60_000  # processed ten minutes after it was written
    post_to(steered, body_of(written))
    ledger = steered.extensions["messenger"].ledger
    until = ledger.paused_until(f"{PAGE}:{PERSON}")
    assert abs(until - (NOW_MS / 1000 - 600 + minutes * 60)) < 1
    post_to(steered, body_of(written))  # Meta delivers it again
    assert ledger.paused_until(f"{PAGE}:{PERSON}") == until


def test_a_message_older_than_metas_window_is_kept_and_not_answered(post, graph, model):
    graph_ok(graph)
    old = text_event("are you there?", "m_old", ts=NOW_MS - 25 * 3600 * 1000)
    assert post(body_of(old)).status_code == 200
    assert sent_texts(graph) == [] and model.requests == []

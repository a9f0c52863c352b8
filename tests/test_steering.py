"""Automations never silence the bot; Conversation Routing's thread control does, until the
thread is passed back."""

import pytest

from app.handover import PAGE_INBOX_APP_ID
from tests.conftest import PAGE, PERSON, body_of, build_app, graph_ok, sent_texts, text_event
from tests.test_people import echo

OURS = "777000"  # FB_APP_ID in the test settings
AUTOMATION = "555001"


def control(kind: str, new_owner, previous=None) -> dict:
    change = {"new_owner_app_id": new_owner, "metadata": "routing"}
    if previous is not None:
        change["previous_owner_app_id"] = previous
    if new_owner is None:
        del change["new_owner_app_id"]
    return {"sender": {"id": PERSON}, "recipient": {"id": PAGE}, "timestamp": 1, kind: change}


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
    post_to(steered, body_of(text_event("hello again?", "m_2", ts=1_764_000_001_000)))
    assert sent_texts(graph) == ["Hello there!"]


def test_standby_messages_while_the_inbox_owns_the_thread_stay_unanswered(steered, graph, post_to):
    graph_ok(graph)
    standby = {"object": "page", "entry": [{"id": PAGE, "standby": [text_event("hi", "m_s")]}]}
    assert post_to(steered, standby).status_code == 200
    assert sent_texts(graph) == []

import json

import pytest
import responses

from app.deadline import Deadline
from app.facebook import GraphClient, GraphError
from app.signature import appsecret_proof
from tests.conftest import GRAPH, PAGE, PERSON

TOKEN = "page-token-xyz"
SECRET = "app-secret-xyz"


@pytest.fixture
def fb():
    return GraphClient(GRAPH, TOKEN, SECRET, timeout=2)


def msg(mid, text, sender, created):
    return {"id": mid, "message": text, "from": {"id": sender}, "created_time": created}


def test_history_is_one_request_with_fields_and_oldest_first(fb, graph):
    graph.add(
        responses.GET,
        f"{GRAPH}/{PAGE}/conversations",
        json={
            "data": [
                {
                    "messages": {
                        "data": [
                            msg("m_3", "third", PERSON, "2026-11-24T12:00:03+0000"),
                            msg("m_2", "second", PAGE, "2026-11-24T12:00:02+0000"),
                            msg("m_1", "", PERSON, "2026-11-24T12:00:01+0000"),
                        ]
                    }
                }
            ]
        },
    )
    listed = fb.history(PAGE, PERSON, 5, Deadline(5))
    assert [m.text for m in listed] == ["[attachment]", "second", "third"]
    assert [m.from_page for m in listed] == [False, True, False]
    (call,) = graph.calls
    params = call.request.params
    assert params["fields"] == "messages.limit(5){message,from,created_time}"
    assert params["user_id"] == PERSON and params["platform"] == "messenger"
    assert params["appsecret_proof"] == appsecret_proof(TOKEN, SECRET)
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in call.request.url


def test_history_of_a_new_conversation_is_empty(fb, graph):
    graph.add(responses.GET, f"{GRAPH}/{PAGE}/conversations", json={"data": []})
    assert fb.history(PAGE, PERSON, 5, Deadline(5)) == []


def test_send_is_a_response_with_token_in_header(fb, graph):
    graph.add(responses.POST, f"{GRAPH}/{PAGE}/messages", json={"message_id": "m_9"})
    assert fb.send_text(PAGE, PERSON, "hello", Deadline(5)) == "m_9"
    (call,) = graph.calls
    assert json.loads(call.request.body) == {
        "recipient": {"id": PERSON},
        "messaging_type": "RESPONSE",
        "message": {"text": "hello"},
    }
    assert TOKEN not in call.request.url and "access_token" not in call.request.url


@pytest.mark.parametrize(
    "code, subcode, meaning, transient",
    [
        (190, None, "page access token invalid or expired", False),
        (10, 2018278, "outside the 24-hour messaging window", False),
        (551, None, "this person is not available right now", False),
        (613, None, "throttled: rate limit exceeded", True),
        (4, None, "throttled: application request limit reached", True),
        (17, None, "throttled: user request limit reached", True),
        (32, None, "throttled: page request limit reached", True),
    ],
)
def test_graph_errors_carry_code_and_meaning(fb, graph, code, subcode, meaning, transient):
    error = {"message": "x", "type": "OAuthException", "code": code, "fbtrace_id": "Ab1"}
    if subcode:
        error["error_subcode"] = subcode
    graph.add(responses.POST, f"{GRAPH}/{PAGE}/messages", json={"error": error}, status=400)
    with pytest.raises(GraphError) as caught:
        fb.send_text(PAGE, PERSON, "hi", Deadline(5))
    assert caught.value.meaning == meaning and caught.value.code == code
    assert caught.value.transient is transient
    assert caught.value.sent is False
    assert "Ab1" in str(caught.value)


def test_connection_refused_is_a_graph_error_not_sent(fb, graph):
    import requests

    graph.add(responses.POST, f"{GRAPH}/{PAGE}/messages", body=requests.ConnectionError("refused"))
    with pytest.raises(GraphError) as caught:
        fb.send_text(PAGE, PERSON, "hi", Deadline(5))
    assert caught.value.sent is False and caught.value.transient


def test_no_call_once_budget_is_spent(fb, graph):
    with pytest.raises(GraphError):
        fb.send_text(PAGE, PERSON, "hi", Deadline(0))
    assert not graph.calls

"""People's data: forget, export, "Delete my data" in the chat, Meta's deletion callback, and
edits and unsends that reach the kept conversation — on both stores."""

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime

import pytest
import responses

from tests.conftest import (
    GRAPH,
    NOW_MS,
    PAGE,
    PERSON,
    SETTINGS,
    body_of,
    build_app,
    graph_ok,
    post_signed,
    sent_texts,
    text_event,
)
from tests.test_control import run
from tests.test_people import postback

CONVERSATION = f"{PAGE}:{PERSON}"
IN_META = [  # what Meta's inbox still holds: newest first, written before any erasure
    {"id": "m_old2", "message": "my card ends 4242", "from": {"id": PERSON},
     "created_time": "2026-11-30T10:00:01+0000"},
    {"id": "m_old1", "message": "hi, it's Anna", "from": {"id": PERSON},
     "created_time": "2026-11-30T10:00:00+0000"},
]  # fmt: skip


@pytest.fixture(params=["sqlite", "redis"])
def kept(request, settings, model, graph):
    """The app on either store, with a conversation of two answered messages."""
    values = dict(settings)
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        values["REDIS_URL"] = url
        import redis

        redis.Redis.from_url(url).flushdb()
    app = build_app(values, openai_client=model.client())
    graph_ok(graph, IN_META)
    post_signed(app, body_of(text_event("where is my order?", "m_1")))
    post_signed(app, body_of(text_event("order 1234", "m_2", ts=NOW_MS + 1000)))
    return app


def earlier(model) -> list[str]:
    """What the model was given before the current message, last call."""
    return [m["content"] for m in model.requests[-1]["messages"][:-1]]


def test_forget_erases_everything_and_the_next_reply_has_nothing_earlier(kept, model, graph):
    store = kept.extensions["messenger"].ledger
    store.pause(CONVERSATION, 600)
    result = run(kept.test_cli_runner(), "forget", PERSON)
    assert result.exit_code == 0, result.output
    exported = store.export(CONVERSATION)
    assert exported["messages"] == [] and exported["paused_until"] is None
    assert exported["model_calls_this_window"] == 0 and exported["erased_at"] is not None
    post_signed(kept, body_of(text_event("hello again", "m_3", ts=NOW_MS + 2000)))
    assert sent_texts(graph)[-1] == "Hello there!"
    assert earlier(model) == []  # Graph still has them; they are not read back


def test_export_shows_the_persons_messages_and_the_bots_replies(kept):
    result = run(kept.test_cli_runner(), "export", PERSON)
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    said = [(m["from"], m["text"]) for m in document["messages"]]
    assert ("person", "where is my order?") in said and ("person", "order 1234") in said
    assert ("page", "Hello there!") in said
    assert document["person"] == PERSON and document["account"] == PAGE


def test_delete_my_data_in_the_chat_erases_and_answers_with_the_fixed_text(kept, model, graph):
    tapped = postback("Delete my data", "FORGET_ME", mid="m_forget", ts=NOW_MS + 2000)
    calls = len(model.requests)
    assert post_signed(kept, body_of(tapped)).status_code == 200
    assert sent_texts(graph)[-1] == kept.config["FORGET_REPLY"]
    assert len(model.requests) == calls  # not the model's words
    assert kept.extensions["messenger"].ledger.export(CONVERSATION)["messages"] == []
    post_signed(kept, body_of(text_event("new question", "m_4", ts=NOW_MS + 3000)))
    assert earlier(model) == []


def test_an_edited_message_reaches_the_model_edited(kept, model):
    edit = {"sender": {"id": PERSON}, "recipient": {"id": PAGE}, "timestamp": NOW_MS + 1500,
            "message_edit": {"mid": "m_2", "text": "order 5678", "num_edit": 1}}  # fmt: skip
    calls = len(model.requests)
    assert post_signed(kept, body_of(edit)).status_code == 200
    assert len(model.requests) == calls  # no reply to an edit
    post_signed(kept, body_of(text_event("any news?", "m_5", ts=NOW_MS + 2000)))
    assert "order 5678" in earlier(model) and "order 1234" not in earlier(model)


def sign_request(payload: dict, secret: str = SETTINGS["FB_APP_SECRET"]) -> str:
    """A signed_request as Meta builds it."""
    part = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    digest = hmac.new(secret.encode(), part.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode() + "." + part


def deletion(app, payload: dict, secret: str = SETTINGS["FB_APP_SECRET"]):
    form = {"signed_request": sign_request(payload, secret)}
    return app.test_client().post("/data-deletion", data=form)


def test_metas_deletion_callback_erases_what_matches_and_shows_its_code(kept, graph):
    asid = "218471"
    graph.add(
        responses.GET,
        f"{GRAPH}/{asid}/ids_for_pages",
        json={"data": [{"id": PERSON, "page": {"id": PAGE}}]},
    )
    answer = deletion(kept, {"algorithm": "HMAC-SHA256", "issued_at": 1, "user_id": asid})
    assert answer.status_code == 200
    code, url = answer.json["confirmation_code"], answer.json["url"]
    assert url.startswith("https://") and url.endswith(f"/data-deletion/{code}")
    page = kept.test_client().get(f"/data-deletion/{code}")
    assert page.status_code == 200 and code in page.text and "1 conversation" in page.text
    assert kept.extensions["messenger"].ledger.export(CONVERSATION)["messages"] == []


def test_a_deletion_request_nothing_matches_is_still_recorded_and_says_why(kept, graph):
    graph.add(
        responses.GET,
        f"{GRAPH}/999/ids_for_pages",
        json={"error": {"code": 100, "message": "Unsupported get request"}},
        status=400,
    )
    answer = deletion(kept, {"algorithm": "HMAC-SHA256", "user_id": "999"})
    assert answer.status_code == 200
    page = kept.test_client().get(f"/data-deletion/{answer.json['confirmation_code']}")
    assert "did not answer" in page.text and "nothing kept by this bot matched" in page.text
    assert kept.extensions["messenger"].ledger.export(CONVERSATION)["messages"] != []


@pytest.mark.parametrize(
    ("payload", "secret"),
    [
        ({"algorithm": "HMAC-SHA256", "user_id": "1"}, "someone-else"),
        ({"algorithm": "plain", "user_id": "1"}, SETTINGS["FB_APP_SECRET"]),
        ({"algorithm": "HMAC-SHA256", "user_id": "1", "expires": 1000}, SETTINGS["FB_APP_SECRET"]),
    ],
)
def test_a_deletion_request_not_signed_by_meta_is_refused_and_changes_nothing(
    app, graph, payload, secret
):
    answer = deletion(app, payload, secret)
    assert answer.status_code == 400 and not graph.calls
    assert app.test_client().post("/data-deletion", data={}).status_code == 400


def test_an_unknown_confirmation_code_is_a_404(app):
    assert app.test_client().get("/data-deletion/nope").status_code == 404


def test_the_erasure_time_keeps_meta_s_older_messages_out_but_not_newer_ones(kept, model, graph):
    store = kept.extensions["messenger"].ledger
    store.erase(CONVERSATION)
    after = datetime.fromtimestamp(time.time() + 5, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
    newer = {
        "id": "m_new",
        "message": "written after",
        "from": {"id": PERSON},
        "created_time": after,
    }
    graph.replace(
        responses.GET,
        f"{GRAPH}/{PAGE}/conversations",
        json={"data": [{"messages": {"data": [newer, *IN_META]}}]},
    )
    store.forget(CONVERSATION)  # unknown again: the next message reads Graph
    later = int(time.time() * 1000) + 10_000  # after the newer message
    post_signed(kept, body_of(text_event("and now?", "m_6", ts=later)))
    assert earlier(model) == ["written after"]


def test_delete_my_data_is_honoured_while_the_team_has_the_conversation(kept, graph, model):
    store = kept.extensions["messenger"].ledger
    store.pause(CONVERSATION, 3600)  # the Page Inbox has the thread
    sends = len(sent_texts(graph))
    tapped = postback("Delete my data", "FORGET_ME", mid="m_forget_q", ts=NOW_MS + 2000)
    assert post_signed(kept, body_of(tapped)).status_code == 200
    assert store.export(CONVERSATION)["messages"] == []  # erased
    assert len(sent_texts(graph)) == sends  # the team's turn to speak, not the bot's
    assert store.paused_until(CONVERSATION) is not None  # and the bot stays quiet

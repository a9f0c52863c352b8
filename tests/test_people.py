"""What people do besides typing: buttons, quick replies, photos, stickers, a human stepping in,
and several pages served by one deployment."""

import json

import pytest
import responses

from tests.conftest import (
    GRAPH,
    NOW_MS,
    PAGE,
    PERSON,
    body_of,
    build_app,
    graph_ok,
    sent_texts,
    text_event,
)

LIKE = 369239263222822


def postback(title, payload, mid=None, ts=NOW_MS + 500):
    item = {
        "sender": {"id": PERSON},
        "recipient": {"id": PAGE},
        "timestamp": ts,
        "postback": {"title": title, "payload": payload},
    }
    if mid:
        item["postback"]["mid"] = mid
    return item


def attachment(kind, url="https://cdn.test/a", mid="m_att", **message):
    return {
        "sender": {"id": PERSON},
        "recipient": {"id": PAGE},
        "timestamp": NOW_MS,
        "message": {
            "mid": mid,
            "attachments": [{"type": kind, "payload": {"url": url}}],
            **message,
        },
    }


def echo(app_id=None, mid="m_echo", person=PERSON):
    message = {"is_echo": True, "mid": mid, "text": "a reply from the page"}
    if app_id is not None:
        message["app_id"] = app_id
    page, them = {"id": PAGE}, {"id": person}
    return {"sender": page, "recipient": them, "timestamp": NOW_MS, "message": message}


# --- postbacks and quick replies ----------------------------------------------------------


def test_get_started_gets_the_welcome_message(settings, model, graph, post_to):
    app = build_app(
        dict(settings, WELCOME_MESSAGE="Welcome! Ask me anything."), openai_client=model.client()
    )
    graph_ok(graph)
    post_to(app, body_of(postback("Get Started", "GET_STARTED")))
    assert sent_texts(graph) == ["Welcome! Ask me anything."] and not model.requests


def test_get_started_without_welcome_message_asks_the_model_to_greet(post, graph, model):
    graph_ok(graph)
    post(body_of(postback("Get Started", "GET_STARTED")))
    system = model.requests[0]["messages"][0]
    assert system["role"] == "system" and "Get Started" in system["content"]
    assert model.requests[0]["messages"][-1] == {"role": "user", "content": "Get Started"}


def test_other_postback_goes_to_the_model_as_title_with_payload(post, graph, model):
    graph_ok(graph)
    post(body_of(postback("Opening hours", "HOURS", mid="m_pb")))
    messages = model.requests[0]["messages"]
    assert messages[-1] == {"role": "user", "content": "Opening hours"}
    assert "HOURS" in messages[0]["content"]
    assert sent_texts(graph) == ["Hello there!"]


def test_postbacks_are_deduplicated_with_or_without_mid(post, graph, model):
    graph_ok(graph)
    for body in (body_of(postback("Menu", "MENU", mid="m_p1")), body_of(postback("Menu", "MENU"))):
        post(body)
        post(body)
    assert len(sent_texts(graph)) == 2


def test_quick_reply_is_answered_with_its_text_and_payload_in_the_prompt(post, graph, model):
    graph_ok(graph)
    item = text_event("Yes please")
    item["message"]["quick_reply"] = {"payload": "CONFIRM_ORDER"}
    post(body_of(item))
    messages = model.requests[0]["messages"]
    assert messages[-1] == {"role": "user", "content": "Yes please"}
    assert "CONFIRM_ORDER" in messages[0]["content"]


# --- attachments --------------------------------------------------------------------------


def test_photo_with_text_goes_to_the_model_as_image_parts(post, graph, model):
    graph_ok(graph)
    item = attachment("image", url="https://cdn.test/cat.jpg", text="what is this?")
    post(body_of(item))
    assert model.requests[0]["messages"][-1] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "https://cdn.test/cat.jpg"}},
        ],
    }


def test_photo_alone_goes_to_the_model(post, graph, model):
    graph_ok(graph)
    post(body_of(attachment("image", url="https://cdn.test/dog.png")))
    content = model.requests[0]["messages"][-1]["content"]
    assert content == [{"type": "image_url", "image_url": {"url": "https://cdn.test/dog.png"}}]


def test_photo_when_the_model_reads_no_images_gets_the_text_only_reply(
    settings, model, graph, post_to
):
    app = build_app(dict(settings, MODEL_ACCEPTS_IMAGES="false"), openai_client=model.client())
    graph_ok(graph)
    post_to(app, body_of(attachment("image")))
    assert sent_texts(graph) == [app.config["IMAGE_REPLY"]] and not model.requests


def test_like_sticker_gets_the_sticker_reply(post, graph, model, app):
    graph_ok(graph)
    post(body_of(attachment("image", url="https://cdn.test/like.png", sticker_id=LIKE)))
    assert sent_texts(graph) == ["👍"] and not model.requests


@pytest.mark.parametrize("kind", ["audio", "video", "file", "location", "fallback"])
def test_other_attachments_get_the_friendly_reply(post, graph, model, app, kind):
    graph_ok(graph)
    post(body_of(attachment(kind, mid=f"m_{kind}")))
    assert sent_texts(graph) == [app.config["ATTACHMENT_REPLY"]] and not model.requests


def test_attachment_only_history_message_is_a_placeholder(post, graph, model):
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    earlier = now.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%S+0000")
    graph_ok(
        graph,
        history=[{"id": "m_0", "message": "", "from": {"id": PERSON}, "created_time": earlier}],
    )
    post(body_of(text_event("did you see my photo?", ts=int(now.timestamp() * 1000) + 1000)))
    assert model.requests[0]["messages"] == [
        {"role": "user", "content": "[attachment]"},
        {"role": "user", "content": "did you see my photo?"},
    ]


# --- a human steps in ---------------------------------------------------------------------


@pytest.mark.parametrize("app_id", [None, 555, "555"])
def test_reply_from_the_page_team_pauses_the_bot_for_that_person(post, graph, model, app_id):
    graph_ok(graph)
    post(body_of(echo(app_id=app_id)))
    post(body_of(text_event("hello?", mid="m_after")))
    assert not model.requests and not sent_texts(graph)
    post(body_of(text_event("other person", mid="m_other", person="3000003")))
    assert len(model.requests) == 1


@pytest.mark.parametrize("app_id", [777000, "777000"])
def test_our_own_echo_does_not_pause(post, graph, model, app_id):
    graph_ok(graph)
    post(body_of(echo(app_id=app_id)))
    post(body_of(text_event("hello?", mid="m_after")))
    assert sent_texts(graph) == ["Hello there!"]


def test_bot_resumes_after_the_pause(settings, model, graph, post_to):
    app = build_app(dict(settings, HUMAN_PAUSE_MINUTES="1"), openai_client=model.client())
    graph_ok(graph)
    store = app.extensions["messenger"].ledger.store
    now = [NOW_MS / 1000]  # the store's clock, moved by the test
    store.clock = lambda: now[0]
    post_to(app, body_of(echo()))
    post_to(app, body_of(text_event("still there?", mid="m_quiet")))
    now[0] += 61
    post_to(app, body_of(text_event("back?", mid="m_back")))
    assert sent_texts(graph) == ["Hello there!"]


def test_app_id_is_learned_from_graph_when_not_configured(settings, model, graph, post_to):
    app = build_app(dict(settings, FB_APP_ID=""), openai_client=model.client())
    graph_ok(graph)
    graph.add(responses.GET, f"{GRAPH}/app", json={"id": "777000", "name": "bot"})
    post_to(app, body_of(echo(app_id=777000)))
    post_to(app, body_of(echo(app_id=777000, mid="m_echo2")))
    post_to(app, body_of(text_event("hi", mid="m_hi")))
    assert sent_texts(graph) == ["Hello there!"]
    assert sum(1 for c in graph.calls if c.request.url.startswith(f"{GRAPH}/app")) == 1


# --- several pages ------------------------------------------------------------------------


def test_each_page_uses_its_own_token_and_prompt(settings, model, graph, post_to):
    pages = {
        "1000001": {"token": "token-one-123456", "system_prompt": "You are the bakery."},
        "9000009": "token-two-654321",
    }
    config = dict(settings, FB_PAGE_TOKENS=json.dumps(pages))
    del config["FB_PAGE_ACCESS_TOKEN"]
    app = build_app(config, openai_client=model.client())
    for page in pages:
        graph.add(responses.POST, f"{GRAPH}/{page}/messages", json={"message_id": "m"})
        graph.add(responses.GET, f"{GRAPH}/{page}/conversations", json={"data": []})
    post_to(app, body_of(text_event("one", mid="m_1"), page="1000001"))
    post_to(app, body_of(text_event("two", mid="m_2"), page="9000009"))
    auth = {c.request.url.split("/")[4]: c.request.headers["Authorization"] for c in graph.calls}
    assert auth == {"1000001": "Bearer token-one-123456", "9000009": "Bearer token-two-654321"}
    assert model.requests[0]["messages"][0] == {"role": "system", "content": "You are the bakery."}
    assert model.requests[1]["messages"][0]["role"] == "user"


def test_event_for_an_unknown_page_is_logged_and_not_answered(
    settings, model, graph, post_to, caplog
):
    caplog.set_level("INFO")
    config = dict(settings, FB_PAGE_TOKENS=json.dumps({"1000001": "token-one-123456"}))
    app = build_app(config, openai_client=model.client())
    answer = post_to(app, body_of(text_event("hi"), page="5555"))
    assert answer.status_code == 200 and not graph.calls and not model.requests
    assert "not our page 5555" in caplog.text


def test_page_tokens_from_a_file(tmp_path):
    import config

    path = tmp_path / "pages.json"
    path.write_text(json.dumps({"1": "tok-1", "2": {"token": "tok-2", "system_prompt": "p"}}))
    env = {
        "FB_APP_SECRET": "s",
        "FB_VERIFY_TOKEN": "v",
        "OPENAI_API_KEY": "k",
        "FB_PAGE_TOKENS": str(path),
    }
    pages = config.load(env)["FB_PAGE_TOKENS"]
    assert pages == {
        "1": {"token": "tok-1", "system_prompt": "", "knowledge_file": "", "instagram_id": ""},
        "2": {"token": "tok-2", "system_prompt": "p", "knowledge_file": "", "instagram_id": ""},
    }
    assert "tok-2" in config.secrets(config.load(env))


@pytest.mark.parametrize("raw", ['{"1": 5}', "[]", "{", "/no/such/file.json"])
def test_bad_page_tokens_are_named(raw):
    import config

    env = {
        "FB_APP_SECRET": "s",
        "FB_VERIFY_TOKEN": "v",
        "OPENAI_API_KEY": "k",
        "FB_PAGE_TOKENS": raw,
    }
    with pytest.raises(config.ConfigError, match="FB_PAGE_TOKENS"):
        config.load(env)


def test_failed_app_id_lookup_is_not_repeated_for_every_echo(settings, model, graph, post_to):
    app = build_app(dict(settings, FB_APP_ID=""), openai_client=model.client())
    graph.add(responses.GET, f"{GRAPH}/app", json={"error": {"code": 190}}, status=400)
    for i in range(3):
        post_to(app, body_of(echo(app_id=777000, mid=f"m_e{i}")))
    assert sum(1 for c in graph.calls if c.request.url.startswith(f"{GRAPH}/app")) == 1


def test_pause_off_when_minutes_is_zero(settings, model, graph, post_to):
    app = build_app(dict(settings, HUMAN_PAUSE_MINUTES="0"), openai_client=model.client())
    graph_ok(graph)
    post_to(app, body_of(echo()))
    post_to(app, body_of(text_event("still there?", mid="m_z")))
    assert sent_texts(graph) == ["Hello there!"]

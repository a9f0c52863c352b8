"""Instagram Direct through the same webhook: both ways in (a Page's linked account, and
Instagram Login), 1000-byte parts, memory, and what Instagram people send."""

import json

import pytest
import responses

from app.signature import sign
from tests.conftest import (
    GRAPH,
    NOW_MS,
    PAGE,
    SETTINGS,
    build_app,
    graph_ok,
    post_signed,
)

IG = "17841400000001"  # the Instagram professional account linked to PAGE
IG_LOGIN = "17841400000002"  # an account served with Instagram Login
IG_HOST = "https://graph.instagram.test/v26.0"
PERSON = "5614879045272581"  # an IGSID


def ig_body(*items, account=IG) -> dict:
    """A webhook body as Meta sends it for Instagram."""
    return {
        "object": "instagram",
        "entry": [{"id": account, "time": NOW_MS, "messaging": list(items)}],
    }


def ig_message(message: dict, person=PERSON, account=IG, ts=NOW_MS) -> dict:
    """One messaging item from a person to the account."""
    return {
        "sender": {"id": person},
        "recipient": {"id": account},
        "timestamp": ts,
        "message": message,
    }


def ig_text(text: str, mid: str, person=PERSON, account=IG, ts=NOW_MS) -> dict:
    """A person's text; Instagram's mids are long base64 strings."""
    return ig_message({"mid": f"aWdf{mid}", "text": text}, person, account, ts)


def linked_graph(mock, history=()) -> None:
    """Graph for a Page token whose page has an Instagram account linked."""
    graph_ok(mock, list(history))
    mock.replace(
        responses.GET,
        f"{GRAPH}/me",
        json={"id": PAGE, "instagram_business_account": {"id": IG}},
    )


def sends(mock, host=GRAPH, path=PAGE) -> list[dict]:
    """The Send API bodies with a message, in order."""
    return [
        json.loads(c.request.body)
        for c in mock.calls
        if c.request.method == "POST"
        and c.request.url.startswith(f"{host}/{path}/messages")
        and b'"message"' in (c.request.body or b"")
    ]


def texts(mock, host=GRAPH, path=PAGE) -> list[str]:
    return [body["message"]["text"] for body in sends(mock, host, path)]


def test_a_page_tokens_linked_account_is_answered_through_the_page(app, graph, model):
    linked_graph(graph)
    assert post_signed(app, ig_body(ig_text("do you ship to Rome?", "1"))).status_code == 200
    (sent,) = sends(graph)
    assert sent["recipient"] == {"id": PERSON} and sent["message"]["text"] == "Hello there!"
    history = [c for c in graph.calls if "/conversations" in c.request.url]
    assert "platform=instagram" in history[0].request.url
    assert model.requests[0]["messages"][-1]["content"] == "do you ship to Rome?"


def test_an_instagram_login_account_is_answered_on_its_own_host(settings, graph, model):
    accounts = json.dumps({IG_LOGIN: {"token": "ig-user-token", "system_prompt": "Be a shop."}})
    values = dict(settings, INSTAGRAM_ACCOUNTS=accounts, INSTAGRAM_GRAPH_API_URL=IG_HOST)
    app = build_app(values, openai_client=model.client())
    graph_ok(graph)
    graph.add(responses.POST, f"{IG_HOST}/{IG_LOGIN}/messages", json={"message_id": "aWdf_o"})
    graph.add(responses.GET, f"{IG_HOST}/{IG_LOGIN}/conversations", json={"data": []})
    body = ig_body(ig_text("hi", "2", account=IG_LOGIN), account=IG_LOGIN)
    assert post_signed(app, body).status_code == 200
    (sent,) = sends(graph, IG_HOST, IG_LOGIN)
    assert "messaging_type" not in sent  # Instagram Login's own shape
    call = next(
        c for c in graph.calls if c.request.url.startswith(f"{IG_HOST}/{IG_LOGIN}/messages")
    )
    assert call.request.headers["Authorization"] == "Bearer ig-user-token"
    assert model.requests[0]["messages"][0] == {"role": "system", "content": "Be a shop."}


def test_a_long_answer_reaches_instagram_in_parts_of_at_most_1000_bytes_in_order(app, graph, model):
    linked_graph(graph)
    long = " ".join(f"Sentence {i} has ünïcödé and a few words more." for i in range(60))
    model.reply_with(long)
    post_signed(app, ig_body(ig_text("tell me everything", "3")))
    parts = texts(graph)
    assert len(parts) > 1 and all(len(p.encode()) <= 1000 for p in parts)
    assert " ".join(parts) == long


def test_three_people_with_the_same_mid_are_three_messages(app, graph, model):
    linked_graph(graph)
    same = [ig_message({"mid": "MESSAGE_ID", "text": f"from {p}"}, person=p) for p in "123"]
    post_signed(app, ig_body(*same))
    assert sorted(b["recipient"]["id"] for b in sends(graph)) == ["1", "2", "3"]


def test_the_second_message_is_answered_with_the_first_in_front_of_the_model(app, graph, model):
    linked_graph(graph)
    post_signed(app, ig_body(ig_text("I need a bike", "4")))
    post_signed(app, ig_body(ig_text("a red one", "5", ts=NOW_MS + 2000)))
    second = model.requests[1]["messages"]
    assert [m["content"] for m in second] == ["I need a bike", "Hello there!", "a red one"]


@pytest.mark.parametrize(
    ("message", "reply"),
    [
        (
            {"attachments": [{"type": "story_mention", "payload": {"url": "https://cdn/x"}}]},
            "STORY",
        ),
        ({"attachments": [{"type": "like_heart"}]}, "STICKER"),
        ({"attachments": [{"type": "share", "payload": {"url": "https://cdn/p"}}]}, "ATTACH"),
        (
            {"attachments": [{"type": "ig_reel", "payload": {"title": "🎉 someone's caption"}}]},
            "ATTACH",
        ),
    ],
)
def test_what_the_model_is_never_asked_about_gets_its_fixed_reply(
    settings, graph, model, message, reply
):
    fixed = {"STORY": "Thanks for the mention!", "STICKER": "❤️", "ATTACH": "Words, please."}
    values = dict(
        settings,
        STORY_MENTION_REPLY=fixed["STORY"],
        STICKER_REPLY=fixed["STICKER"],
        ATTACHMENT_REPLY=fixed["ATTACH"],
    )
    app = build_app(values, openai_client=model.client())
    linked_graph(graph)
    post_signed(app, ig_body(ig_message({"mid": "aWdf6", **message})))
    assert texts(graph) == [fixed[reply]] and model.requests == []


def test_a_story_reply_is_answered_and_its_story_is_context_never_media(app, graph, model):
    linked_graph(graph)
    story = {"story": {"url": "https://lookaside.fbsbx.com/story.jpg", "id": "1"}}
    post_signed(app, ig_body(ig_message({"mid": "aWdf7", "text": "love it!", "reply_to": story})))
    sent = json.dumps(model.requests[0])
    assert "story.jpg" not in sent and "Instagram story" in sent
    assert texts(graph) == ["Hello there!"]


def test_a_quick_reply_without_text_is_its_payload(app, graph, model):
    linked_graph(graph)
    tap = {"mid": "aWdf8", "quick_reply": {"payload": "OPENING_HOURS"}}
    post_signed(app, ig_body(ig_message(tap)))
    assert model.requests[0]["messages"][-1]["content"] == "OPENING_HOURS"


@pytest.mark.parametrize(
    "item",
    [
        {"read": {"mid": "aWdf9"}},
        {"reaction": {"mid": "aWdf9", "action": "react", "reaction": "love", "emoji": "❤️"}},
        {"referral": {"ref": "ad", "source": "ADS", "type": "OPEN_THREAD"}},
        {"message": {"mid": "aWdf9", "is_deleted": True}},
        {"message": {"mid": "aWdf9", "is_unsupported": True}},
        {"message": {"mid": "aWdf9", "attachments": [{"type": "unsupported_type"}]}},
        {"something_new": {"x": 1}},
    ],
)
def test_what_needs_no_answer_gets_a_200_and_nothing_sent(app, graph, model, item):
    linked_graph(graph)
    full = {"sender": {"id": PERSON}, "recipient": {"id": IG}, "timestamp": NOW_MS, **item}
    assert post_signed(app, ig_body(full)).status_code == 200
    assert texts(graph) == [] and model.requests == []


def test_the_dashboards_test_sample_is_a_200_and_nothing_else(app, graph, model):
    sample = {"field": "messages", "value": {"sender": {"id": "12334"}, "message": {"text": "x"}}}
    body = {"object": "instagram", "entry": [{"id": "0", "time": 1, "changes": [sample]}]}
    assert post_signed(app, body).status_code == 200
    assert not graph.calls and model.requests == []


def test_standby_is_kept_not_answered(app, graph, model):
    linked_graph(graph)
    body = ig_body()
    body["entry"][0]["standby"] = [ig_text("anyone?", "10")]
    assert post_signed(app, body).status_code == 200
    assert texts(graph) == [] and model.requests == []
    kept = app.extensions["messenger"].ledger.transcript(f"{IG}:{PERSON}").entries
    assert [e.text for e in kept] == ["anyone?"]


def test_our_own_echo_is_known_by_its_id_and_a_team_echo_pauses(app, graph, model):
    linked_graph(graph)
    post_signed(app, ig_body(ig_text("hi", "11")))
    (ours,) = [
        c
        for c in graph.calls
        if c.request.url.startswith(f"{GRAPH}/{PAGE}/messages") and b'"message"' in c.request.body
    ]
    mid = json.loads(ours.response.text)["message_id"]
    echo = {"sender": {"id": IG}, "recipient": {"id": PERSON}, "timestamp": NOW_MS,
            "message": {"mid": mid, "text": "Hello there!", "is_echo": True}}  # fmt: skip
    post_signed(app, ig_body(echo))
    post_signed(app, ig_body(ig_text("still there?", "12", ts=NOW_MS + 1000)))
    assert texts(graph) == ["Hello there!", "Hello there!"]  # our echo paused nothing
    team = dict(echo, message={"mid": "aWdf_team", "text": "Hi, Anna here", "is_echo": True})
    post_signed(app, ig_body(team))
    post_signed(app, ig_body(ig_text("thanks Anna", "13", ts=NOW_MS + 2000)))
    assert len(texts(graph)) == 2  # a person of the team is talking: the bot is quiet


def test_a_body_signed_with_the_instagram_app_secret_is_accepted_and_unsigned_never(
    settings, graph, model
):
    app = build_app(
        dict(settings, INSTAGRAM_APP_SECRET="ig-app-secret"), openai_client=model.client()
    )
    linked_graph(graph)
    raw = json.dumps(ig_body(ig_text("hi", "14"))).encode()
    client = app.test_client()
    signed = {"X-Hub-Signature-256": sign(raw, "ig-app-secret")}
    assert client.post("/webhook", data=raw, headers=signed).status_code == 200
    assert client.post("/webhook", data=raw).status_code == 403
    wrong = {"X-Hub-Signature-256": sign(raw, "not-ours")}
    assert client.post("/webhook", data=raw, headers=wrong).status_code == 403
    assert SETTINGS["FB_APP_SECRET"] != "ig-app-secret"


def test_an_account_we_do_not_serve_is_not_answered(app, graph, model):
    linked_graph(graph)
    other = ig_body(ig_text("hi", "15", account="17841499999999"), account="17841499999999")
    assert post_signed(app, other).status_code == 200
    assert texts(graph) == [] and model.requests == []


def test_an_unsent_message_leaves_the_kept_conversation_and_never_reaches_the_model(
    app, graph, model
):
    linked_graph(graph)
    post_signed(app, ig_body(ig_text("my address is 1 Main St", "16")))
    unsent = ig_message({"mid": "aWdf16", "is_deleted": True}, ts=NOW_MS + 500)
    assert post_signed(app, ig_body(unsent)).status_code == 200
    post_signed(app, ig_body(ig_text("what do you sell?", "17", ts=NOW_MS + 1000)))
    assert "my address is 1 Main St" not in json.dumps(model.requests[-1])
    assert len(texts(graph)) == 2  # no reply to the unsend

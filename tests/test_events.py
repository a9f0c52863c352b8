import pytest

from app import events
from tests.conftest import PAGE, PERSON, body_of, text_event


def kinds(body):
    return [(e.kind, e.detail) for e in events.parse(body)]


def test_text_message_becomes_text_event():
    (event,) = events.parse(body_of(text_event("hi", mid="m_abc")))
    assert (event.kind, event.text, event.mid, event.page_id, event.person_id) == (
        "text",
        "hi",
        "m_abc",
        PAGE,
        PERSON,
    )
    assert event.answerable


def test_numeric_ids_become_strings():
    body = {
        "object": "page",
        "entry": [
            {
                "id": 123,
                "messaging": [
                    {
                        "sender": {"id": 456},
                        "recipient": {"id": 123},
                        "timestamp": 5,
                        "message": {"mid": "mid.1", "text": "hello"},
                    }
                ],
            }
        ],
    }
    (event,) = events.parse(body)
    assert (event.page_id, event.person_id) == ("123", "456")


def test_quick_reply_tap_is_text_with_payload():
    item = text_event("Yes")
    item["message"]["quick_reply"] = {"payload": "PICK_YES"}
    (event,) = events.parse(body_of(item))
    assert (event.kind, event.text, event.payload) == ("text", "Yes", "PICK_YES")


@pytest.mark.parametrize("app_id", [1234567890, "1234567890", None])
def test_echo_is_never_answerable(app_id):
    message = {"is_echo": True, "mid": "m_echo", "text": "our reply"}
    if app_id is not None:
        message["app_id"] = app_id
    item = {"sender": {"id": PAGE}, "recipient": {"id": PERSON}, "timestamp": 1, "message": message}
    (event,) = events.parse(body_of(item))
    assert event.kind == "echo" and not event.answerable
    assert event.person_id == PERSON
    assert event.app_id == (None if app_id is None else "1234567890")


@pytest.mark.parametrize(
    "extra, detail",
    [
        ({"delivery": {"mids": ["m_1"], "watermark": 1}}, "delivery"),
        ({"read": {"watermark": 1}}, "read"),
        ({"reaction": {"mid": "m_1", "action": "react", "emoji": "x"}}, "reaction"),
        ({"pass_thread_control": {"new_owner_app_id": 1}}, "pass_thread_control"),
        ({"something_new": {}}, "unknown"),
    ],
)
def test_non_message_events_are_other(extra, detail):
    item = {"sender": {"id": PERSON}, "recipient": {"id": PAGE}, "timestamp": 1, **extra}
    assert kinds(body_of(item)) == [("other", detail)]


def test_standby_events_are_never_answered():
    body = {"object": "page", "entry": [{"id": PAGE, "standby": [text_event("hi")]}]}
    (event,) = events.parse(body)
    assert event.standby and event.from_person and not event.answerable


def test_attachment_only_message_is_attachment():
    item = text_event("")
    del item["message"]["text"]
    item["message"]["attachments"] = [{"type": "image", "payload": {"url": "https://x/y.png"}}]
    (event,) = events.parse(body_of(item))
    assert event.kind == "attachment" and event.answerable
    assert event.images == ["https://x/y.png"] and not event.sticker


def test_postback_without_mid_keys_on_sender_and_time():
    item = {
        "sender": {"id": PERSON},
        "recipient": {"id": PAGE},
        "timestamp": 77,
        "postback": {"title": "Get Started", "payload": "GET_STARTED"},
    }
    (event,) = events.parse(body_of(item))
    assert event.kind == "postback" and event.mid is None
    assert event.key == f"{PAGE}:{PERSON}:77"


def test_every_entry_and_every_event_is_parsed_in_order():
    body = {
        "object": "page",
        "entry": [
            {"id": PAGE, "messaging": [text_event("a", "m_a"), text_event("b", "m_b")]},
            {"id": PAGE, "messaging": [text_event("c", "m_c"), text_event("d", "m_d")]},
        ],
    }
    assert [e.text for e in events.parse(body)] == ["a", "b", "c", "d"]


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        "x",
        5,
        {},
        {"object": "instagram", "entry": []},
        {"object": "page"},
        {"object": "page", "entry": "x"},
        {"object": "page", "entry": [1, None, {"messaging": "x"}]},
        {"object": "page", "entry": [{"messaging": [1, {"sender": []}, {"message": "x"}]}]},
        {
            "object": "page",
            "entry": [
                {
                    "id": "1",
                    "messaging": [
                        {"sender": {"id": "2"}, "message": {"mid": "m", "attachments": True}}
                    ],
                }
            ],
        },
    ],
)
def test_odd_shapes_never_raise(body):
    for event in events.parse(body):
        assert event.kind in ("other", "attachment")


def test_out_of_range_timestamp_counts_as_zero():
    (event,) = events.parse(body_of(text_event("hi", ts=10**20)))
    assert event.timestamp == 0


@pytest.mark.parametrize(
    "attachment",
    [
        {"type": "sticker", "payload": {"url": "https://x/s.png", "sticker_id": 1}},
        {"type": "sticker", "payload": {"url": "https://x/s.png"}},
        {"type": "image", "payload": {"sticker_id": 369239263222822}},  # the thumbs-up
    ],
)
def test_stickers_of_2026_are_stickers_not_photos(attachment):
    from app.history import words

    item = {"sender": {"id": PERSON}, "recipient": {"id": PAGE}, "timestamp": 1}
    item["message"] = {"mid": "m_s", "attachments": [attachment]}
    (event,) = events.parse(body_of(item))
    assert event.sticker and event.images == [] and words(event) == "[sticker]"


def test_reels_have_a_marker_of_their_own():
    from app.history import words

    item = {"sender": {"id": PERSON}, "recipient": {"id": PAGE}, "timestamp": 1}
    item["message"] = {"mid": "m_r", "attachments": [{"type": "ig_reel", "payload": {}}]}
    (event,) = events.parse(body_of(item))
    assert words(event) == "[reel]"


def test_an_event_survives_its_dump_for_recovery():
    from app.events import Event

    item = {"sender": {"id": PERSON}, "recipient": {"id": PAGE}, "timestamp": 5}
    item["message"] = {"mid": "m_1", "text": "hi ✓", "attachments": [{"type": "image"}]}
    (event,) = events.parse(body_of(item))
    assert Event.load(event.dump()) == event

from datetime import UTC, datetime, timedelta

from app import prompt
from app.events import Event
from app.facebook import HistoryMessage

NOW = datetime(2026, 11, 24, 12, 0, 10, tzinfo=UTC)
EVENT = Event("text", "P", "U", "m_now", int(NOW.timestamp() * 1000), text="and now?")


def h(mid, text, from_page, seconds_ago):
    return HistoryMessage(mid, text, from_page, NOW - timedelta(seconds=seconds_ago))


def build(history, **kw):
    args = dict(system_prompt="", limit=10, max_age_hours=24, now=NOW)
    args.update(kw)
    return prompt.build(EVENT, history, **args)


def test_order_and_roles():
    history = [h("m_1", "hi", False, 30), h("m_2", "hello!", True, 20)]
    assert build(history, system_prompt="Be brief.") == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello!"},
        {"role": "user", "content": "and now?"},
    ]


def test_current_message_once_when_history_lists_it():
    history = [h("m_1", "hi", False, 30), h("m_now", "and now?", False, 0)]
    assert [m["content"] for m in build(history)] == ["hi", "and now?"]


def test_current_message_once_when_history_does_not_list_it():
    assert [m["content"] for m in build([h("m_1", "hi", False, 30)])] == ["hi", "and now?"]


def test_current_message_once_when_listed_under_another_id():
    history = [h("m_1", "hi", True, 30), h("other-id", "and now?", False, 0)]
    assert [m["content"] for m in build(history)] == ["hi", "and now?"]


def test_persons_later_messages_are_left_out_but_page_replies_kept():
    history = [
        h("m_1", "hi", False, 30),
        h("m_now", "and now?", False, 0),
        h("m_later", "written later", False, -1),
        h("r_1", "reply to hi", True, -2),
    ]
    assert [m["content"] for m in build(history)] == ["hi", "reply to hi", "and now?"]


def test_old_messages_are_left_out():
    history = [h("m_old", "old", False, 3 * 3600), h("m_1", "recent", False, 60)]
    assert [m["content"] for m in build(history, max_age_hours=1)] == ["recent", "and now?"]


def test_only_the_last_limit_messages_are_kept():
    history = [h(f"m_{i}", f"t{i}", False, 100 - i) for i in range(8)]
    assert [m["content"] for m in build(history, limit=3)] == ["t5", "t6", "t7", "and now?"]
    assert [m["content"] for m in build(history, limit=0)] == ["and now?"]

"""What a reply carries besides the model's words: the AI disclosure, the business's knowledge,
and rendering; and canned replies that an operator turned off."""

import json

import pytest

import config
from tests.conftest import NOW_MS, body_of, build_app, graph_ok, sent_texts, text_event
from tests.test_people import attachment, postback

DISCLOSURE = config.DEFAULT_DISCLOSURE


@pytest.fixture
def disclosing(settings, model):
    """The app with the disclosure as shipped (the other tests turn it off)."""
    values = {k: v for k, v in settings.items() if k != "AI_DISCLOSURE"}
    return build_app(values, openai_client=model.client())


def test_with_default_settings_the_first_reply_discloses_the_ai_and_the_second_not(
    disclosing, graph, post_to
):
    graph_ok(graph)
    post_to(disclosing, body_of(text_event("hi", "m_1")))
    post_to(disclosing, body_of(text_event("and?", "m_2", ts=NOW_MS + 1_000)))
    first, second = sent_texts(graph)
    assert first == f"{DISCLOSURE}\n\nHello there!"
    assert second == "Hello there!"


def test_the_get_started_welcome_always_discloses(disclosing, graph, post_to):
    graph_ok(graph)
    post_to(disclosing, body_of(text_event("hi", "m_1")))
    post_to(disclosing, body_of(postback("Get Started", "GET_STARTED", mid="m_gs")))
    assert all(text.startswith(DISCLOSURE) for text in sent_texts(graph))


def test_a_forgotten_conversation_is_told_again(disclosing, graph, post_to):
    graph_ok(graph)
    post_to(disclosing, body_of(text_event("hi", "m_1")))
    disclosing.extensions["messenger"].ledger.forget("1000001:2000002")
    post_to(disclosing, body_of(text_event("hi again", "m_2", ts=NOW_MS + 1_000)))
    assert [t.startswith(DISCLOSURE) for t in sent_texts(graph)] == [True, True]


def test_the_model_reply_is_rendered_before_it_is_split(post, graph, model):
    graph_ok(graph)
    model.reply_with("## Hours\n\n**Mon–Fri** 9–17\n\n- Sat: closed")
    post(body_of(text_event("when are you open?")))
    assert sent_texts(graph) == ["Hours\n\nMon–Fri 9–17\n\n• Sat: closed"]


def test_the_knowledge_file_reaches_the_model_after_the_instructions(
    settings, model, graph, post_to, tmp_path
):
    facts = tmp_path / "shop.md"
    facts.write_text("# Corner Bakery\n\nOpen 7–15. Sourdough €4.", encoding="utf-8")
    app = build_app(
        dict(settings, SYSTEM_PROMPT="Be brief.", KNOWLEDGE_FILE=str(facts)),
        openai_client=model.client(),
    )
    graph_ok(graph)
    post_to(app, body_of(text_event("price of sourdough?")))
    system = model.requests[0]["messages"][0]
    assert system["role"] == "system" and system["content"].startswith("Be brief.\n\n")
    assert "Open 7–15. Sourdough €4." in system["content"]


def test_a_page_has_its_own_knowledge(settings, model, graph, post_to, tmp_path):
    facts = tmp_path / "page.txt"
    facts.write_text("We sell bikes.", encoding="utf-8")
    pages = {"1000001": {"token": "t1", "knowledge_file": str(facts)}, "9": "t9"}
    app = build_app(dict(settings, FB_PAGE_TOKENS=json.dumps(pages)), openai_client=model.client())
    graph_ok(graph)
    post_to(app, body_of(text_event("what do you sell?")))
    assert "We sell bikes." in model.requests[0]["messages"][0]["content"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [("x" * (config.KNOWLEDGE_MAX_CHARS + 1), "longer than"), (b"\xff\xfe\x00", "not UTF-8")],
)
def test_a_knowledge_file_too_long_or_not_text_stops_start_up(tmp_path, content, problem):
    path = tmp_path / "k.md"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    env = {"FB_APP_SECRET": "s", "FB_VERIFY_TOKEN": "v", "FB_PAGE_ACCESS_TOKEN": "t"}
    with pytest.raises(config.ConfigError, match=f"KNOWLEDGE_FILE .*{problem}"):
        config.load(dict(env, OPENAI_API_KEY="k", KNOWLEDGE_FILE=str(path)))
    with pytest.raises(config.ConfigError, match="KNOWLEDGE_FILE cannot be read"):
        config.load(dict(env, OPENAI_API_KEY="k", KNOWLEDGE_FILE=str(tmp_path / "none")))


def test_a_canned_reply_set_empty_is_off_and_left_out_is_the_default():
    env = {"FB_APP_SECRET": "s", "FB_VERIFY_TOKEN": "v", "FB_PAGE_ACCESS_TOKEN": "t"}
    env["OPENAI_API_KEY"] = "k"
    assert config.load(dict(env, STICKER_REPLY=""))["STICKER_REPLY"] == ""
    assert config.load(env)["STICKER_REPLY"] == "👍"
    assert config.load(dict(env, FALLBACK_REPLY=""))["FALLBACK_REPLY"] == config.DEFAULT_FALLBACK


def test_a_sticker_gets_no_reply_when_its_reply_is_off(settings, model, graph, post_to):
    app = build_app(dict(settings, STICKER_REPLY=""), openai_client=model.client())
    graph_ok(graph)
    sticker = attachment("image", sticker_id=369239263222822)
    post_to(app, body_of(sticker))
    assert sent_texts(graph) == [] and model.requests == []


def test_a_reply_of_emoji_families_arrives_in_whole_families_of_at_most_2000_units(
    post, graph, model
):
    from app.text import utf16_units

    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466"
    graph_ok(graph)
    model.reply_with(family * 2500)
    post(body_of(text_event("emoji please")))
    parts = sent_texts(graph)
    assert len(parts) == 14 and "".join(parts) == family * 2500
    assert all(utf16_units(p) <= 2000 and p == family * (len(p) // len(family)) for p in parts)


def test_a_spend_notice_turned_off_sends_nothing_past_the_limit(settings, model, graph, post_to):
    app = build_app(
        dict(settings, SPEND_LIMIT="1", SPEND_LIMIT_REPLY=""), openai_client=model.client()
    )
    graph_ok(graph)
    post_to(app, body_of(text_event("one", "m_1")))
    post_to(app, body_of(text_event("two", "m_2", ts=NOW_MS + 1_000)))
    assert sent_texts(graph) == ["Hello there!"] and len(model.requests) == 1


def test_the_disclosure_is_told_once_even_without_history(settings, model, graph, post_to):
    values = {k: v for k, v in settings.items() if k != "AI_DISCLOSURE"}
    app = build_app(dict(values, HISTORY_MESSAGES="0"), openai_client=model.client())
    graph_ok(graph)
    for i in range(3):
        post_to(app, body_of(text_event("hi", f"m_{i}", ts=NOW_MS + i * 1000)))
    assert [t.startswith(DISCLOSURE) for t in sent_texts(graph)] == [True, False, False]


def test_a_second_message_written_while_the_first_is_answered_is_not_told_again(
    settings, model, graph
):
    # It arrived before the first reply was sent, so its arrival read "not told"; its turn
    # came after the first was settled, and it disclosed the AI a second time.
    import threading

    from tests.conftest import post_signed, until

    values = {k: v for k, v in settings.items() if k != "AI_DISCLOSURE"}
    app = build_app(dict(values, ACK_SECONDS="0.5"), openai_client=model.client())
    graph_ok(graph)
    release = threading.Event()

    def answer(body):
        release.wait(30)
        return model.answer("Hello there!")

    model.handler = answer
    assert post_signed(app, body_of(text_event("hi", "m_1"))).status_code == 200
    assert (
        post_signed(app, body_of(text_event("and?", "m_2", ts=NOW_MS + 1_000))).status_code == 200
    )
    release.set()
    until(lambda: len(sent_texts(graph)) == 2)
    assert sent_texts(graph) == [f"{DISCLOSURE}\n\nHello there!", "Hello there!"]

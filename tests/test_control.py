"""Operators steer the bot for one person from the command line, through the same store."""

import json

from app.operator import messenger
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


def run(runner, *args):
    if "messenger" not in runner.app.cli.commands:
        runner.app.cli.add_command(messenger)
    result = runner.invoke(args=["messenger", *args])
    assert "Traceback" not in result.output
    return result


def test_pause_gives_no_reply_and_resume_gives_one(runner, post, graph, model):
    graph_ok(graph)
    paused = run(runner, "pause", PERSON, "--minutes", "90")
    assert paused.exit_code == 0 and f"paused for {PERSON} until" in paused.output
    post(body_of(text_event("hello?", "m_1")))
    assert sent_texts(graph) == [] and model.requests == []
    assert run(runner, "resume", PERSON).exit_code == 0
    post(body_of(text_event("still there?", "m_2", ts=NOW_MS + 2_000)))
    assert sent_texts(graph) == ["Hello there!"]


def test_status_shows_the_pause_the_spend_and_the_last_messages(runner, post, graph, model):
    graph_ok(graph)
    post(body_of(text_event("what are your hours?", "m_1")))
    run(runner, "pause", PERSON)
    result = run(runner, "status", PERSON)
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("paused: until ")
    assert lines[1] == "model calls in this 60-minute window: 1 of 30"
    assert "person  what are your hours?" in result.output
    assert "page    Hello there!" in result.output


def test_a_single_token_learns_its_page_for_the_commands(runner, graph):
    graph_ok(graph)
    result = run(runner, "status", PERSON)
    assert result.exit_code == 0 and "messages kept: none" in result.output
    assert any(c.request.url.startswith(f"{GRAPH}/me") for c in graph.calls)


def test_a_page_not_configured_or_a_bad_id_is_refused(settings, model, graph):
    app = build_app(dict(settings, FB_PAGE_TOKENS=json.dumps({PAGE: "t1", "9": "t9"})))
    runner = app.test_cli_runner()
    assert run(runner, "status", PERSON).exit_code == 1  # several pages: --page needed
    result = run(runner, "pause", PERSON, "--page", "777")
    assert result.exit_code == 1 and "no token for page 777" in result.output
    result = run(runner, "resume", "not-an-id", "--page", PAGE)
    assert result.exit_code == 1 and "not a page-scoped id" in result.output


SHARED_STORE = (
    "pause/resume need the shared store: on Heroku every dyno, one-off ones included, has its "
    "own disk; set REDIS_URL (Heroku Key-Value Store)"
)


def test_on_a_heroku_dyno_without_redis_pause_and_resume_refuse_and_status_says_why(
    app, runner, graph, monkeypatch
):
    graph_ok(graph)
    monkeypatch.setenv("DYNO", "run.4242")  # heroku run: a one-off dyno with its own disk
    for command in ("pause", "resume"):
        result = run(runner, command, PERSON)
        assert result.exit_code == 1
        assert result.stderr.strip() == f"error: {SHARED_STORE}"
    assert app.extensions["messenger"].ledger.paused_until(f"{PAGE}:{PERSON}") is None
    status = run(runner, "status", PERSON)
    assert status.exit_code == 0 and "paused: no" in status.stdout
    assert status.stderr.strip() == f"note: this dyno's own store is shown; {SHARED_STORE}"


def test_on_a_heroku_dyno_with_redis_pause_and_resume_work(
    settings, model, graph, redis_url, monkeypatch
):
    graph_ok(graph)
    monkeypatch.setenv("DYNO", "run.4242")
    app = build_app(dict(settings, REDIS_URL=redis_url), openai_client=model.client())
    runner = app.test_cli_runner()
    try:
        paused = run(runner, "pause", PERSON)
        assert paused.exit_code == 0 and f"paused for {PERSON} until" in paused.stdout
        status = run(runner, "status", PERSON)
        assert status.stdout.startswith("paused: until ") and status.stderr == ""
    finally:
        assert run(runner, "resume", PERSON).exit_code == 0

"""The terminal emulator drives the real webhook path; on a fresh machine it needs nothing."""

import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

import config
import config_parsers
from app.emulator.session import INSTAGRAM_ID, PAGE_ID, PERSON_ID, Emulator
from tests.conftest import build_app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def offline(settings, graph):
    """The app with no model key; the local Graph on loopback is let through `responses`."""
    graph.add_passthru(re.compile(r"http://127\.0\.0\.1:\d+/"))
    return build_app(dict(settings, OPENAI_API_KEY="offline"))


def test_chat_command_answers_through_the_webhook(offline):
    runner = offline.test_cli_runner()
    session = "hello bot\n/postback MENU\n/image https://cdn.test/cat.jpg\n/reset\nagain\n/quit\n"
    result = runner.invoke(args=["chat", "--verbose"], input=session)
    assert result.exit_code == 0, result.output
    # A reply may follow the "you> " prompt on its line: typing goes out beside the model,
    # and is dropped when the reply is ready first.
    assert result.output.count("bot> ") == 4
    assert "(conversation cleared)" in result.output
    assert "(0 earlier messages from graph" in result.output  # the store knew nothing yet
    assert "(2 earlier messages from store" in result.output
    assert "(0 earlier messages from graph" in result.output.split("(conversation cleared)")[1]


def test_history_carries_across_turns_and_restarts(offline, tmp_path):
    from app.emulator import offline_model

    shown = []
    first = Emulator(offline.config, str(tmp_path), shown.append)
    assert first.text("one") == 200
    assert first.text("two") == 200
    first.close()
    second = Emulator(offline.config, str(tmp_path), shown.append)
    assert second.text("three") == 200
    second.close()
    assert shown[-1].startswith(f"bot> {offline_model.LABEL} I received 4 earlier message(s)")


def test_a_closed_session_leaves_no_heartbeat_behind(offline, tmp_path):
    def beating() -> int:
        return sum(t.name == "store-owner" and t.is_alive() for t in threading.enumerate())

    before = beating()
    emulator = Emulator(offline.config, str(tmp_path), [].append)
    assert emulator.text("hi") == 200
    assert beating() == before + 1
    emulator.close()
    assert beating() == before


def shown_parts(turn: str) -> list[str]:
    """Each reply part the emulator showed in one turn's output: a "bot> " line and the lines
    indented under it."""
    found = re.findall(r"bot> (.*(?:\n {5}.*)*)", turn)
    return [part.replace("\n     ", "\n") for part in found]


def test_chat_as_an_instagram_person_shows_each_part_of_at_most_1000_bytes(offline):
    long = "Größe und Glück für alle. " * 80  # about 2,300 bytes of UTF-8, 2,080 characters
    session = f"{long}\nand then?\n/quit\n"
    result = offline.test_cli_runner().invoke(args=["chat", "--instagram", "-v"], input=session)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Instagram emulator (account {INSTAGRAM_ID}, linked to")
    first, second = (shown_parts(turn) for turn in result.output.split("you> ")[1:3])
    assert len(first) > 1 and len(second) == 1
    assert all(len(part.encode()) <= 1000 for part in first + second)
    assert "Größe und Glück" in first[0] and "Set OPENAI_API_KEY" in first[-1]
    # The second reply was made with the first message and every part of its reply.
    assert (
        f"I received {1 + len(first)} earlier message(s) and your message: 'and then?'"
        in (second[0])
    )
    assert f"({1 + len(first)} earlier messages from store" in result.output


def test_a_part_of_several_lines_stays_under_its_own_bot_line(offline, tmp_path):
    shown = []
    emulator = Emulator(offline.config, str(tmp_path), shown.append)
    try:
        message = {"recipient": {"id": PERSON_ID}, "message": {"text": "Hours:\n\n• 9–17"}}
        answer = requests.post(f"{emulator.graph.url}/{PAGE_ID}/messages", json=message, timeout=5)
    finally:
        emulator.close()
    assert answer.ok
    assert shown == ["bot> Hours:\n     \n     • 9–17"]


def test_the_emulator_never_reaches_a_real_instagram_account(offline, tmp_path):
    accounts = config_parsers.instagram_accounts('{"17841411111111": "a-real-token"}')
    real = dict(offline.config, INSTAGRAM_ACCOUNTS=accounts)
    emulator = Emulator(real, str(tmp_path), print)
    emulator.close()
    assert emulator.settings["INSTAGRAM_ACCOUNTS"] is None
    assert emulator.settings["INSTAGRAM_GRAPH_API_URL"] == emulator.graph.url


def test_fresh_machine_without_env_runs_the_offline_emulator(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FB_", "OPENAI_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["INSTANCE_PATH"] = str(tmp_path / "instance")
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "chat"],
        input="hi there\n/quit\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,  # no .env here
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "OFFLINE model" in done.stdout
    assert "bot> Hi! Just so you know: I'm an AI assistant" in done.stdout  # the default
    assert "[offline model] I received 0 earlier message(s) and your message: 'hi there'" in (
        done.stdout
    )
    assert "WARNING" not in done.stderr
    assert "Traceback" not in done.stderr


def test_env_copied_from_the_example_still_runs_the_emulator(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FB_", "OPENAI_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["INSTANCE_PATH"] = str(tmp_path / "instance")
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    # The required values are empty, so the emulator's own settings are made from the file.
    told = example.replace(f"AI_DISCLOSURE={config.DEFAULT_DISCLOSURE}", "AI_DISCLOSURE=From .env!")
    assert told != example
    (tmp_path / ".env").write_text(told)
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "chat"],
        input="hello\n",
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "bot> From .env!" in done.stdout
    assert "[offline model]" in done.stdout


def test_the_talk_to_a_person_button_shows_the_hand_over(offline):
    runner = offline.test_cli_runner()
    result = runner.invoke(args=["chat"], input="/postback TALK_TO_HUMAN\n/quit\n")
    assert result.exit_code == 0, result.output
    assert offline.config["HANDOVER_REPLY"] in result.output
    assert "[handed to a person: the person tapped the button]" in result.output

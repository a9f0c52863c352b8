"""The terminal emulator drives the real webhook path; on a fresh machine it needs nothing."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import config
from app.emulator.session import Emulator
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

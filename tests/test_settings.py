"""Settings reach the workers as the operator wrote them: wsgi.py loads them once and the app
and the pipeline use those values, with no second parse and no defaults of their own."""

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import config
from app import create_app

ROOT = Path(__file__).resolve().parent.parent

# What a worker's app holds once wsgi.py has loaded the settings, as the operator meant them.
SHOW = """
import pickle, sys
import config, wsgi

names = (*config.REQUIRED, *config.OPTIONAL)
shown = {
    "config": {name: wsgi.app.config[name] for name in names if name in wsgi.app.config},
    "automation": wsgi.app.extensions["messenger"].settings.automation_app_ids,
    "pool": wsgi.app.extensions["messenger"].ledger.store.redis.connection_pool.max_connections,
}
with open(sys.argv[1], "wb") as file:
    pickle.dump(shown, file)
"""


def written_and_meant(tmp_path: Path) -> tuple[dict[str, str], dict[str, object]]:
    """Every setting set to something other than its default: the text an operator writes,
    and the value it means."""
    knowledge = tmp_path / "shop.md"
    knowledge.write_text("We sell bikes.", encoding="utf-8")
    page = {
        "token": "tok-3",
        "system_prompt": "You are the shop.",
        "knowledge_file": str(knowledge),
        "instagram_id": "17841400000003",
    }
    cases = {
        "FB_APP_SECRET": ("app-secret-x", "app-secret-x"),
        "FB_VERIFY_TOKEN": ("verify-x", "verify-x"),
        "FB_PAGE_ACCESS_TOKEN": ("page-token-x", "page-token-x"),
        "OPENAI_API_KEY": ("sk-x", "sk-x"),
        "FB_PAGE_TOKENS": (json.dumps({"3000003": page}), {"3000003": page}),
        "FB_APP_ID": ("424242", "424242"),
        "INSTAGRAM_ACCOUNTS": (
            json.dumps({"17841400000009": "ig-token-x"}),
            {
                "17841400000009": {
                    "token": "ig-token-x",
                    "system_prompt": "",
                    "knowledge_file": "",
                    "instagram_id": "",
                }
            },
        ),
        "INSTAGRAM_GRAPH_API_URL": (
            "https://graph.instagram.example.test/v25.0",
            "https://graph.instagram.example.test/v25.0",
        ),
        "INSTAGRAM_APP_SECRET": ("ig-secret-x", "ig-secret-x"),
        "STORY_MENTION_REPLY": ("Seen it!", "Seen it!"),
        "FORGET_PAYLOAD": ("ERASE", "ERASE"),
        "FORGET_REPLY": ("Gone.", "Gone."),
        "FORGET_MENU_TITLE": ("", ""),  # set empty: no menu item
        "HANDOVER_REPLY": ("", ""),  # set empty: no hand-over
        "HANDOVER_PAYLOAD": ("HUMAN", "HUMAN"),
        "HANDOVER_APP_ID": ("123456", "123456"),
        "HANDOVER_MENU_TITLE": ("Staff", "Staff"),
        "FB_GRAPH_API_URL": (
            "https://graph.example.test/v25.0/",
            "https://graph.example.test/v25.0",
        ),
        "OPENAI_BASE_URL": ("http://llm.example.test/v1", "http://llm.example.test/v1"),
        "OPENAI_MODEL": ("my-model", "my-model"),
        "OPENAI_TEMPERATURE": ("0.7", 0.7),
        "OPENAI_TOP_P": ("0.9", 0.9),
        "OPENAI_MAX_TOKENS": ("300", 300),
        "OPENAI_MAX_RETRIES": ("3", 3),
        "OPENAI_REASONING_EFFORT": ("off", None),  # never sent
        "SYSTEM_PROMPT": ("Be brief.", "Be brief."),
        "KNOWLEDGE_FILE": (str(knowledge), str(knowledge)),
        "AI_DISCLOSURE": ("", ""),  # set empty: off
        "HISTORY_MESSAGES": ("5", 5),
        "HISTORY_MAX_AGE_HOURS": ("12", 12.0),
        "GRAPH_CONVERSATIONS_PER_SECOND": ("1", 1),
        "FALLBACK_REPLY": ("Try later.", "Try later."),
        "ACK_SECONDS": ("3", 3.0),
        "REQUEST_BUDGET_SECONDS": ("12", 12.0),
        "RECOVER_WITHIN_MINUTES": ("5", 5.0),
        "TYPING_AFTER_SECONDS": ("3", 3.0),
        "SEND_RESERVE_SECONDS": ("3", 3.0),
        "GRAPH_TIMEOUT_SECONDS": ("4", 4.0),
        "MAX_BODY_BYTES": ("2048", 2048),
        "INSTANCE_PATH": (str(tmp_path / "instance"), str(tmp_path / "instance")),
        "LEDGER_PATH": (str(tmp_path / "l.sqlite3"), str(tmp_path / "l.sqlite3")),
        "REDIS_URL": ("redis://127.0.0.1:9/3", "redis://127.0.0.1:9/3"),  # never reached
        "REDIS_MAX_CONNECTIONS": ("4", 4),
        "LEDGER_TTL_HOURS": ("2", 2.0),
        "SPEND_LIMIT": ("7", 7),
        "SPEND_WINDOW_MINUTES": ("15", 15.0),
        "SPEND_LIMIT_REPLY": ("Slow down.", "Slow down."),
        "HUMAN_PAUSE_MINUTES": ("0", 0.0),
        "GET_STARTED_PAYLOAD": ("START", "START"),
        "WELCOME_MESSAGE": ("Welcome!", "Welcome!"),
        "MODEL_ACCEPTS_IMAGES": ("false", False),
        "IMAGE_REPLY": ("No photos.", "No photos."),
        "STICKER_REPLY": ("", ""),  # set empty: no reply
        "ATTACHMENT_REPLY": ("No files.", "No files."),
        "LOG_LEVEL": ("warning", "WARNING"),
        "LOG_FORMAT": ("JSON", "json"),
        "METRICS_TOKEN": ("m-token", "m-token"),
        "OPENAI_PRICES": (
            '{"my-model": {"input": 1, "output": 2}}',
            {"my-model": {"input": 1.0, "output": 2.0}},
        ),
        "AUTOMATION_APP_IDS": ("111, 222", frozenset({"111", "222"})),
        "WEB_THREADS": ("16", 16),
    }
    written = {name: text for name, (text, _) in cases.items()}
    meant = {name: value for name, (_, value) in cases.items()}
    return written, meant


def test_every_setting_reaches_the_workers_app_as_the_operator_wrote_it(tmp_path):
    written, meant = written_and_meant(tmp_path)
    assert set(written) == {*config.REQUIRED, *config.OPTIONAL}, "a setting is not covered"
    for name, (default, _) in config.OPTIONAL.items():
        assert meant[name] != default, f"{name} is set to its default here"
    names = {*config.REQUIRED, *config.OPTIONAL, *config.SERVING}
    env = {k: v for k, v in os.environ.items() if k not in names}
    env.update(written, PYTHONPATH=str(ROOT))
    out = tmp_path / "shown.pickle"
    done = subprocess.run(
        [sys.executable, "-c", SHOW, str(out)],
        cwd=tmp_path,  # away from any developer's .env
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    shown = pickle.loads(out.read_bytes())
    for name, value in meant.items():
        got = shown["config"].get(name, "<missing>")
        assert (type(got), got) == (type(value), value), name
    assert shown["automation"] == frozenset({"111", "222"})
    assert shown["pool"] == 4  # REDIS_MAX_CONNECTIONS reached the store's pool


def test_the_pipelines_settings_have_no_defaults_of_their_own():
    from dataclasses import MISSING, fields

    from app.settings import Settings

    own = [f.name for f in fields(Settings) if (f.default, f.default_factory) != (MISSING,) * 2]
    assert own == [], "config.OPTIONAL holds the only defaults"


def test_a_setting_renamed_in_config_stops_start_up_naming_it(monkeypatch, settings, model):
    # SPEND_LIMIT renamed in config.py but not in the pipeline: never its old default silently.
    monkeypatch.setitem(config.OPTIONAL, "SPEND_CALLS", config.OPTIONAL["SPEND_LIMIT"])
    monkeypatch.delitem(config.OPTIONAL, "SPEND_LIMIT")
    loaded = config.load(dict(settings, SPEND_CALLS="3"), dotenv=False)
    with pytest.raises(KeyError, match="SPEND_LIMIT"):
        create_app(loaded, openai_client=model.client())

import os
import subprocess
import sys
from pathlib import Path

import pytest

import config

ROOT = Path(__file__).resolve().parent.parent
REQUIRED_ENV = {
    "FB_APP_SECRET": "s",
    "FB_VERIFY_TOKEN": "v",
    "FB_PAGE_ACCESS_TOKEN": "t",
    "OPENAI_API_KEY": "k",
}


def test_defaults_from_the_seed():
    values = config.load(REQUIRED_ENV)
    assert (values["OPENAI_TEMPERATURE"], values["OPENAI_TOP_P"], values["OPENAI_MAX_TOKENS"]) == (
        0.2,
        0.2,
        512,
    )
    assert values["HISTORY_MESSAGES"] == 10 and values["HISTORY_MAX_AGE_HOURS"] == 24
    assert values["FB_GRAPH_API_URL"].startswith("https://graph.facebook.com/v")
    assert values["OPENAI_BASE_URL"] is None


def test_every_missing_variable_is_named_in_one_line():
    with pytest.raises(config.ConfigError) as caught:
        config.load({"FB_VERIFY_TOKEN": "v"})
    message = str(caught.value)
    assert "\n" not in message and ".env.example" in message
    for name in ("FB_APP_SECRET", "FB_PAGE_ACCESS_TOKEN", "OPENAI_API_KEY"):
        assert name in message
    assert "FB_VERIFY_TOKEN" not in message


def test_invalid_values_are_named():
    env = dict(REQUIRED_ENV, HISTORY_MESSAGES="50", OPENAI_TEMPERATURE="warm", FB_GRAPH_API_URL="x")
    with pytest.raises(config.ConfigError) as caught:
        config.load(env)
    for name in ("HISTORY_MESSAGES", "OPENAI_TEMPERATURE", "FB_GRAPH_API_URL"):
        assert name in str(caught.value)


def test_bad_log_level_and_serving_settings_are_named():
    with pytest.raises(config.ConfigError, match="LOG_LEVEL"):
        config.load(dict(REQUIRED_ENV, LOG_LEVEL="verbose"))
    with pytest.raises(config.ConfigError, match="WEB_CONCURRENCY"):
        config.serving({"WEB_CONCURRENCY": "abc"})
    assert config.serving({}) == {"PORT": 8000, "WEB_CONCURRENCY": None}


def test_every_setting_is_documented_in_env_example():
    example = (ROOT / ".env.example").read_text()
    for name in (*config.REQUIRED, *config.OPTIONAL, *config.SERVING):
        assert f"{name}=" in example, name


def _run(*args, cwd):
    env = {k: v for k, v in os.environ.items() if k not in config.REQUIRED}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "args",
    [
        ("-c", "import wsgi"),
        ("-m", "flask", "--app", "wsgi", "routes"),
        ("-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "--check-config", "wsgi:app"),
    ],
    ids=["import", "flask", "gunicorn"],
)
def test_start_up_without_settings_stops_with_one_clear_line(args, tmp_path):
    done = _run(*args, cwd=tmp_path)  # away from any developer's .env
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert any("missing required settings: FB_APP_SECRET" in line for line in lines), done.stderr
    assert len(lines) <= 2, done.stderr


def test_cores_are_counted_where_there_is_no_affinity(monkeypatch):
    monkeypatch.delattr(config.os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(config.os, "cpu_count", lambda: 6)
    assert config.cores() == 6


def test_gunicorn_conf_loads_without_affinity(monkeypatch, tmp_path):
    import runpy

    monkeypatch.delattr(config.os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(config.os, "cpu_count", lambda: 3)
    for name, value in REQUIRED_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.setenv("WEB_THREADS", "16")
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))  # its metrics directory goes here
    monkeypatch.setenv("MESSENGER_OWN_METRICS_DIR", "")  # and its mark is undone afterwards
    monkeypatch.delenv("MESSENGER_OWN_METRICS_DIR")
    conf = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    assert conf["workers"] == 4 and conf["threads"] == 16


def test_the_graph_pool_follows_web_threads(settings, model):
    from tests.conftest import build_app

    app = build_app(dict(settings, WEB_THREADS="12"), openai_client=model.client())
    adapter = app.extensions["messenger"].graph._session.get_adapter("https://graph.test")
    assert adapter._pool_maxsize == 12


def test_a_budget_that_can_never_answer_is_refused_naming_both_settings_and_the_rule():
    env = dict(REQUIRED_ENV, REQUEST_BUDGET_SECONDS="3", SEND_RESERVE_SECONDS="2.5")
    with pytest.raises(config.ConfigError) as caught:
        config.load(env)
    message = str(caught.value)
    assert "\n" not in message
    assert "REQUEST_BUDGET_SECONDS (3) must be at least SEND_RESERVE_SECONDS (2.5)" in message
    assert "= 4.5" in message
    exactly = dict(REQUIRED_ENV, REQUEST_BUDGET_SECONDS="4.5", SEND_RESERVE_SECONDS="2.5")
    assert config.load(exactly)["REQUEST_BUDGET_SECONDS"] == 4.5


def test_the_rule_uses_the_pipelines_own_shortest_model_attempt():
    from app import llm

    assert llm.MIN_ATTEMPT_SECONDS is config.MIN_ATTEMPT_SECONDS


def test_start_up_refuses_a_budget_that_can_never_answer(tmp_path):
    env = dict(REQUIRED_ENV, REQUEST_BUDGET_SECONDS="3", SEND_RESERVE_SECONDS="2.5")
    done = subprocess.run(
        [sys.executable, "-c", "import wsgi"],
        cwd=tmp_path,
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "REQUEST_BUDGET_SECONDS (3) must be at least SEND_RESERVE_SECONDS" in done.stderr


def test_dotenv_is_read_without_changing_the_environment_and_read_again_each_time(
    tmp_path, monkeypatch
):
    for name in (*REQUIRED_ENV, "OPENAI_MODEL", "OPENAI_TEMPERATURE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_TEMPERATURE", "0.5")  # the environment wins over the file
    monkeypatch.chdir(tmp_path)
    dotenv = tmp_path / ".env"
    lines = [f"{name}={value}" for name, value in REQUIRED_ENV.items()]
    dotenv.write_text("\n".join([*lines, "OPENAI_MODEL=first", "OPENAI_TEMPERATURE=0.9"]))
    before = dict(os.environ)
    loaded = config.load()
    assert dict(os.environ) == before  # a gunicorn master keeps nothing of the file
    assert (loaded["OPENAI_MODEL"], loaded["OPENAI_TEMPERATURE"]) == ("first", 0.5)
    assert loaded["FB_APP_SECRET"] == "s"
    dotenv.write_text("\n".join([*lines, "OPENAI_MODEL=second"]))  # edited, then kill -HUP
    assert config.load()["OPENAI_MODEL"] == "second"

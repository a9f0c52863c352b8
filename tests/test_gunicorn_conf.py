"""gunicorn.conf.py as gunicorn runs it, in the master: the metrics directory it makes and
removes, and nothing of the operator's."""

import runpy
import types
from pathlib import Path

import pytest

from tests.test_config import REQUIRED_ENV

ROOT = Path(__file__).resolve().parent.parent
CONF = str(ROOT / "gunicorn.conf.py")
MARK = "MESSENGER_OWN_METRICS_DIR"


@pytest.fixture
def master(monkeypatch, tmp_path):
    """A fresh master's environment: the required settings, nothing made by an earlier run,
    the temp dir inside the test's own."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    for name, value in REQUIRED_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv(MARK, "")  # so the mark this file leaves is undone after the test
    monkeypatch.delenv(MARK)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.delenv("DYNO", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    return monkeypatch


def server_of(conf: dict) -> types.SimpleNamespace:
    """What gunicorn hands the hooks: its settings, with the environment raw_env gives."""
    env = dict(line.split("=", 1) for line in conf["raw_env"])
    return types.SimpleNamespace(cfg=types.SimpleNamespace(env=env))


def test_the_operators_metrics_directory_and_its_files_are_never_removed(master, tmp_path):
    theirs = tmp_path / "operator"
    theirs.mkdir()
    (theirs / "keep.db").write_text("the operator's")
    master.setenv("PROMETHEUS_MULTIPROC_DIR", str(theirs))
    conf = runpy.run_path(CONF)
    made = Path(server_of(conf).cfg.env["PROMETHEUS_MULTIPROC_DIR"])
    assert made.parent == theirs and made.name.startswith("messenger-metrics-")
    assert made.is_dir() and (theirs / "keep.db").read_text() == "the operator's"
    conf["on_exit"](server_of(conf))
    assert not made.exists()
    assert sorted(p.name for p in theirs.iterdir()) == ["keep.db"]


def test_a_reload_keeps_the_directory_and_exit_removes_only_that(master, tmp_path):
    first = runpy.run_path(CONF)
    made = Path(server_of(first).cfg.env["PROMETHEUS_MULTIPROC_DIR"])
    assert made.parent == tmp_path and made.is_dir()
    (made / "counter_123.db").write_text("a worker's samples")
    # kill -HUP: gunicorn puts back the environment it started with, runs this file again.
    master.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    again = runpy.run_path(CONF)
    assert server_of(again).cfg.env["PROMETHEUS_MULTIPROC_DIR"] == str(made)
    assert (made / "counter_123.db").exists()  # the counters go on
    beside = tmp_path / "someone-elses"
    beside.mkdir()
    # Even a server whose settings name another directory removes only the one made here.
    again["on_exit"](
        types.SimpleNamespace(
            cfg=types.SimpleNamespace(env={"PROMETHEUS_MULTIPROC_DIR": str(beside)})
        )
    )
    assert not made.exists() and beside.is_dir()


def test_a_metrics_directory_that_cannot_be_made_stops_start_up_with_one_line(master, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    master.setenv("PROMETHEUS_MULTIPROC_DIR", str(blocker / "metrics"))
    with pytest.raises(SystemExit) as stopped:
        runpy.run_path(CONF)
    message = str(stopped.value.code)
    assert message.startswith("error: PROMETHEUS_MULTIPROC_DIR") and "\n" not in message


def warnings_at_start_up(conf: dict) -> list[str]:
    """What the master logs as warnings once it is ready (gunicorn's when_ready hook)."""
    warned: list[str] = []
    server = server_of(conf)
    server.log = types.SimpleNamespace(warning=lambda text, *args: warned.append(text % args))
    conf["when_ready"](server)
    conf["on_exit"](server)
    return warned


def test_a_dyno_keeping_the_store_in_sqlite_warns_once_at_start_up(master):
    master.setenv("DYNO", "web.1")
    assert warnings_at_start_up(runpy.run_path(CONF)) == [
        "on Heroku each dyno's disk starts empty after every restart: kept conversations, "
        "claims and messages waiting for recovery are lost; set REDIS_URL"
    ]


def test_no_warning_with_redis_or_off_heroku(master):
    assert warnings_at_start_up(runpy.run_path(CONF)) == []
    master.setenv("DYNO", "web.1")
    master.setenv("REDIS_URL", "rediss://:pw@kv.example.test:6379")
    assert warnings_at_start_up(runpy.run_path(CONF)) == []


def test_a_missing_setting_stops_start_up_before_any_directory_is_made(master, tmp_path):
    master.delenv("FB_APP_SECRET")
    master.chdir(tmp_path)  # away from any developer's .env
    with pytest.raises(SystemExit, match="missing required settings: FB_APP_SECRET"):
        runpy.run_path(CONF)
    assert list(tmp_path.iterdir()) == []

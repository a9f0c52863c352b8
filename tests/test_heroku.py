"""The service on Heroku: every dyno has its own disk, emptied at each restart, so the store
must be Heroku Key-Value Store (Redis), which app.json provisions."""

import json
from pathlib import Path

import pytest

import config
from app.operator import doctor
from app.store.redis import client_limit
from tests.conftest import free_port, start_redis
from tests.test_config import REQUIRED_ENV
from tests.test_doctor import (
    cli,  # noqa: F401 (a fixture: the doctor's command runner)
    doctor_lines,
    graph_answers,
)

ROOT = Path(__file__).resolve().parent.parent


def test_app_json_provisions_the_key_value_store_every_dyno_shares():
    manifest = json.loads((ROOT / "app.json").read_text(encoding="utf-8"))
    # Heroku Key-Value Store's add-on is still called heroku-redis; it sets REDIS_URL.
    assert manifest["addons"] == ["heroku-redis:mini"]
    assert "Key-Value Store" in manifest["env"]["REDIS_URL"]["description"]


def test_on_a_heroku_dyno_redis_passes():
    (check,) = doctor.store_checks("web.1", "rediss://:pw@kv.example.test:6379")
    assert check.line() == "✓ store: Redis (REDIS_URL), shared by every dyno"
    assert doctor.store_checks(None, None) == []  # off Heroku, a host keeps its disk


def test_on_a_dyno_the_key_value_stores_url_accepts_its_self_signed_certificate():
    import redis

    url = "rediss://:pw@ec2-1-2-3-4.compute-1.amazonaws.com:12345"
    on_dyno = dict(REQUIRED_ENV, REDIS_URL=url, DYNO="web.1")  # as the add-on sets it
    loaded = config.load(on_dyno)["REDIS_URL"]
    assert loaded == url + "?ssl_cert_reqs=none"
    pool = redis.Redis.from_url(loaded).connection_pool  # still TLS, certificate not checked
    assert pool.connection_class is redis.SSLConnection
    assert pool.connection_kwargs["ssl_cert_reqs"] == "none"
    with_query = url + "/0?health_check_interval=5"
    assert config.load(dict(on_dyno, REDIS_URL=with_query))["REDIS_URL"] == (
        with_query + "&ssl_cert_reqs=none"
    )
    chosen = url + "?ssl_cert_reqs=required"  # the operator's word stands
    assert config.load(dict(on_dyno, REDIS_URL=chosen))["REDIS_URL"] == chosen
    assert config.load(dict(on_dyno, REDIS_URL="redis://h:1"))["REDIS_URL"] == "redis://h:1"
    assert config.load(dict(REQUIRED_ENV, REDIS_URL=url))["REDIS_URL"] == url  # off Heroku


# Heroku's Key-Value Store "mini" plan accepts 20 clients (Dev Center, "Heroku Key-Value Store
# Technical Characterization"); a basic dyno runs WEB_CONCURRENCY=2 workers (the Python
# buildpack's default, "Optimizing Python Application Concurrency").
MINI_CLIENTS = 20
BASIC_WORKERS = 2


def test_app_json_s_pool_fits_the_plan_it_provisions_with_room_for_a_one_off_command():
    manifest = json.loads((ROOT / "app.json").read_text(encoding="utf-8"))
    assert manifest["formation"]["web"]["size"] == "basic"
    pool = int(manifest["env"]["REDIS_MAX_CONNECTIONS"]["value"])
    check = doctor.redis_clients_check(MINI_CLIENTS, BASIC_WORKERS, pool)
    assert check.status == "ok", check.line()
    # The code's default, 10, is for a Redis of one's own: on mini it would not fit.
    assert doctor.redis_clients_check(MINI_CLIENTS, BASIC_WORKERS, 10).failed


@pytest.fixture
def mini_redis():
    """A redis-server that accepts as many clients as Heroku's mini plan."""
    server, url = start_redis("redis-server", "--maxclients", str(MINI_CLIENTS))
    yield url
    server.terminate()
    server.wait(5)


def test_the_doctor_reads_the_redis_client_limit_and_names_the_pool_that_fits(
    request, graph, mini_redis, monkeypatch
):
    doctor_cli = request.getfixturevalue("cli")
    graph_answers(graph)
    monkeypatch.setenv("WEB_CONCURRENCY", str(BASIC_WORKERS))
    doctor_cli.app.config.update(REDIS_URL=mini_redis, REDIS_MAX_CONNECTIONS=10)
    code, lines, _ = doctor_lines(doctor_cli)
    assert code == 1
    assert lines[-2] == (  # the store's line, before the hand-over note
        "✗ store clients: each host opens up to 22 connections (2 workers × (10 + 1 for the "
        "heartbeat)); this Redis accepts 20 — fix: set REDIS_MAX_CONNECTIONS=8"
    )
    doctor_cli.app.config["REDIS_MAX_CONNECTIONS"] = 8
    code, lines, _ = doctor_lines(doctor_cli)
    assert code == 0
    assert lines[-3] == (
        "✓ store clients: each host opens up to 18 connections (2 workers × (8 + 1 for the "
        "heartbeat)); this Redis accepts 20: room for 1 such host(s)"
    )


def test_a_client_limit_that_cannot_be_read_leaves_the_rule_as_a_warning():
    assert client_limit(f"redis://127.0.0.1:{free_port()}/0") is None  # nobody listens
    check = doctor.redis_clients_check(None, 3, 10)
    assert check.status == "warn" and not check.failed
    assert "each host opens up to 33 connections" in check.line()


def test_a_pool_that_fills_the_limit_exactly_warns_that_a_one_off_command_will_not_fit():
    check = doctor.redis_clients_check(MINI_CLIENTS, BASIC_WORKERS, 9)  # 2 × 10 = 20
    assert check.status == "warn" and not check.failed
    assert check.line().endswith(
        "this Redis accepts 20: no room left for a one-off command — warning: set "
        "REDIS_MAX_CONNECTIONS=8"
    )

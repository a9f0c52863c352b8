"""The service on Heroku: every dyno has its own disk, emptied at each restart, so the store
must be Heroku Key-Value Store (Redis), which app.json provisions."""

import json
from pathlib import Path

import config
from app.operator import doctor
from tests.test_config import REQUIRED_ENV

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

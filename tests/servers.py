"""Real servers for the tests: the store (SQLite always, Redis against a real redis-server)
and the bench's Graph and model stand-ins. Its fixtures are registered through conftest.py."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.store import SQLiteLedger

# --- the store: SQLite always, Redis against a real redis-server ---------------------------

OPTIONS = {"lease": 1.0, "ttl": 60.0, "window": 3600.0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def redis_url():
    """The redis-server .ci/run started, or a throw-away one; CI must have one, else skip."""
    if os.environ.get("TEST_REDIS_URL"):
        yield os.environ["TEST_REDIS_URL"]
        return
    binary = shutil.which("redis-server")
    if not binary:
        if os.environ.get("CI"):
            pytest.fail("redis-server is not installed; .ci/run installs it")
        pytest.skip("redis-server not installed")
    server, url = start_redis(binary)
    yield url
    server.terminate()
    server.wait(5)


def start_redis(binary: str = "redis-server", *extra: str) -> tuple[subprocess.Popen, str]:
    """A throw-away redis-server on a free loopback port (`extra`: more of its options),
    answering pings; the process and its URL."""
    import redis

    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         *extra],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        try:
            redis.Redis.from_url(url).ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return server, url


class Clock:
    """Wall-clock time that only moves when a test says so."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(params=["sqlite", "redis"])
def make(request, tmp_path):
    """A factory for ledgers of one store; several of them share it like gunicorn workers."""
    if request.param == "sqlite":
        path = str(tmp_path / "ledger.sqlite3")
        return lambda **kw: SQLiteLedger(path, **{**OPTIONS, **kw})
    from app.store.redis import RedisLedger

    url = request.getfixturevalue("redis_url")
    prefix = f"test-{request.node.name}-{time.monotonic_ns()}:"
    return lambda **kw: RedisLedger(url, prefix=prefix, **{**OPTIONS, **kw})


# --- the Procfile's command against the bench's stand-ins ---------------------------------


@pytest.fixture
def standins(request):
    """The Graph and model stand-ins (bench/standins.py); a test may pass extra arguments."""
    graph, model = free_port(), free_port()
    args = ["--graph-port", str(graph), "--model-port", str(model), "--graph-latency", "0"]
    extra = getattr(request, "param", ["--model-latency", "2"])
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.standins", *args, *extra],
        cwd=Path(__file__).resolve().parent.parent,
        stdout=subprocess.PIPE,
    )
    process.stdout.readline()  # printed once both listen
    yield graph, model
    process.terminate()
    process.wait(10)

"""The Procfile's command, for real: gunicorn finishes the replies in flight on SIGTERM."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from app.signature import sign
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "serving-test-secret"
PAGE, PERSON = "100000000000001", "200000000000009"


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return json.loads(answer.read())


def _until(condition, seconds: float, what: str) -> None:
    """Wait for a condition the test can observe (never for a guessed length of time)."""
    ends = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > ends:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


def _healthy(port: int) -> bool:
    try:
        return _get(f"http://127.0.0.1:{port}/healthz")["status"] == "ok"
    except OSError:
        return False


@pytest.fixture
def standins():
    graph, model = free_port(), free_port()
    args = ["--graph-port", str(graph), "--model-port", str(model), "--model-latency", "2"]
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.standins", *args, "--graph-latency", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
    )
    process.stdout.readline()  # printed once both listen
    yield graph, model
    process.terminate()
    process.wait(10)


def test_sigterm_finishes_the_reply_in_flight(standins, tmp_path):
    graph, model = standins
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FB_", "OPENAI_"))},
        "FB_APP_SECRET": SECRET,
        "FB_VERIFY_TOKEN": "serving-verify",
        "FB_PAGE_ACCESS_TOKEN": "serving-token",
        "FB_APP_ID": "1",
        "OPENAI_API_KEY": "sk-serving",
        "FB_GRAPH_API_URL": f"http://127.0.0.1:{graph}/v26.0",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{model}/v1",
        "INSTANCE_PATH": str(tmp_path),
        "PORT": str(port),
        "WEB_CONCURRENCY": "1",
        "REDIS_URL": "",
    }
    command = (ROOT / "Procfile").read_text().split("web:", 1)[1].split()
    command[0] = str(Path(sys.executable).parent / command[0])
    service = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True)
    try:
        _until(lambda: _healthy(port), 30, "the service to start")
        item = {
            "sender": {"id": PERSON},
            "recipient": {"id": PAGE},
            "timestamp": int(time.time() * 1000),
            "message": {"mid": "m_sigterm", "text": "are you there?"},
        }
        raw = json.dumps({"object": "page", "entry": [{"id": PAGE, "messaging": [item]}]})
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/webhook",
            data=raw.encode(),
            headers={"X-Hub-Signature-256": sign(raw.encode(), SECRET)},
        )
        answered = {}

        def post():
            with urllib.request.urlopen(request, timeout=30) as answer:
                answered["status"] = answer.status

        sender = threading.Thread(target=post)
        sender.start()
        stats = f"http://127.0.0.1:{graph}/_stats"
        _until(lambda: _get(stats)["counts"].get("model", 0) >= 1, 15, "the model call")
        service.send_signal(signal.SIGTERM)  # a deploy: the model is still thinking
        sender.join(30)
        assert answered == {"status": 200}
        assert len(_get(stats)["replies"][PERSON]) == 1
        assert service.wait(30) == 0
    finally:
        if service.poll() is None:
            service.kill()
        service.wait(10)

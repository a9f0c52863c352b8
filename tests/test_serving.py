"""The Procfile's command, for real: gunicorn finishes the replies in flight on SIGTERM, and an
edited .env counts after kill -HUP."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
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


def serve(graph: int, model: int, tmp_path, **settings) -> tuple[subprocess.Popen, int]:
    """The Procfile's command on a free port, pointed at the stand-ins; waits until healthy."""
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
        **settings,
    }
    command = (ROOT / "Procfile").read_text().split("web:", 1)[1].split()
    command[0] = str(Path(sys.executable).parent / command[0])
    log = open(tmp_path / "gunicorn.log", "w")  # noqa: SIM115 (closed with the process)
    service = subprocess.Popen(command, cwd=ROOT, env=env, stderr=log, text=True)
    _until(lambda: _healthy(port), 30, "the service to start")
    return service, port


def body(person: str, mid: str, text: str) -> tuple[bytes, dict]:
    """One text message as Meta sends it, and its signed headers."""
    item = {
        "sender": {"id": person},
        "recipient": {"id": PAGE},
        "timestamp": int(time.time() * 1000),
        "message": {"mid": mid, "text": text},
    }
    raw = json.dumps({"object": "page", "entry": [{"id": PAGE, "messaging": [item]}]}).encode()
    return raw, {"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, SECRET)}


def signed(port: int, person: str, mid: str, text: str) -> urllib.request.Request:
    """A webhook POST of one text message, signed like Meta's."""
    raw, headers = body(person, mid, text)
    return urllib.request.Request(f"http://127.0.0.1:{port}/webhook", data=raw, headers=headers)


def test_sigterm_finishes_the_reply_in_flight(standins, tmp_path):
    graph, model = standins
    service, port = serve(graph, model, tmp_path)
    try:
        answered = {}

        def post():
            with urllib.request.urlopen(signed(port, PERSON, "m_sigterm", "hi"), timeout=30) as a:
                answered["status"] = a.status

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


@pytest.mark.parametrize(
    "standins", [["--model-latency", "0.2", "--fault", "model500once"]], indirect=True
)
def test_metrics_count_every_event_once_over_all_workers(standins, tmp_path):
    graph, model = standins
    settings = {"WEB_CONCURRENCY": "3", "OPENAI_MAX_RETRIES": "0", "METRICS_TOKEN": "m-token"}
    service, port = serve(graph, model, tmp_path, **settings)
    try:
        people = [f"2000000000000{i:02d}" for i in range(12)]

        def post(person):
            request = signed(port, person, f"m_{person}", "hello")
            with urllib.request.urlopen(request, timeout=30) as answer:
                assert answer.status == 200

        senders = [threading.Thread(target=post, args=(p,)) for p in people]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(30)
        metrics = urllib.request.Request(
            f"http://127.0.0.1:{port}/metrics", headers={"Authorization": "Bearer m-token"}
        )
        with urllib.request.urlopen(metrics, timeout=10) as answer:
            text = answer.read().decode()
        events = {}
        for line in text.splitlines():
            if line.startswith("messenger_events_total{"):
                outcome = line.split('outcome="')[1].split('"')[0]
                events[outcome] = events.get(outcome, 0) + float(line.rsplit(" ", 1)[1])
        assert events == {"model": 11.0, "fallback": 1.0}
        stats = _get(f"http://127.0.0.1:{graph}/_stats")
        assert sum(len(r) for r in stats["replies"].values()) == 12
    finally:
        service.terminate()
        service.wait(30)


def _metrics_answer(port: int, token: str) -> int:
    """The status /metrics gives this bearer token (404: metrics off or another token)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def test_an_edited_dotenv_counts_after_kill_hup(tmp_path):
    port = free_port()
    required = {
        "FB_APP_SECRET": SECRET,
        "FB_VERIFY_TOKEN": "serving-verify",
        "FB_PAGE_ACCESS_TOKEN": "serving-token",
        "FB_APP_ID": "1",
        "OPENAI_API_KEY": "sk-serving",
        "INSTANCE_PATH": str(tmp_path / "instance"),
    }
    dotenv = tmp_path / ".env"
    lines = [f"{name}={value}" for name, value in required.items()]
    dotenv.write_text("\n".join([*lines, "METRICS_TOKEN=first-token"]))
    env = {k: v for k, v in os.environ.items() if k not in (*required, "METRICS_TOKEN")}
    env.update(PYTHONPATH=str(ROOT), PORT=str(port), WEB_CONCURRENCY="1", REDIS_URL="")
    # The Procfile's command, run where the operator's .env is.
    command = [str(Path(sys.executable).parent / "gunicorn"), "-c", str(ROOT / "gunicorn.conf.py")]
    log = open(tmp_path / "gunicorn.log", "w")  # noqa: SIM115 (closed with the process)
    service = subprocess.Popen([*command, "wsgi:app"], cwd=tmp_path, env=env, stderr=log)
    try:
        _until(lambda: _metrics_answer(port, "first-token") == 200, 30, "the first token")
        dotenv.write_text("\n".join([*lines, "METRICS_TOKEN=second-token"]))
        service.send_signal(signal.SIGHUP)
        _until(lambda: _metrics_answer(port, "second-token") == 200, 30, "the edited token")
        assert _metrics_answer(port, "first-token") == 401
    finally:
        service.terminate()
        service.wait(30)
        log.close()

"""Meta's five seconds through the Procfile's command (real gunicorn): the 200 goes out by
ACK_SECONDS while a slow model is still thinking, the keep-alive connection is free for the
next delivery, and the reply arrives once after it — even when the worker is SIGTERMed or
SIGKILLed in between."""

import http.client
import os
import signal
import sqlite3

import pytest

from tests.test_serving import _get, _until, body, serve

SLOW = ["--model-latency", "4"]  # the model takes 4 s; the webhook says 200 after 1 s


def post(conn: http.client.HTTPConnection, person: str, mid: str) -> int:
    """POST on a keep-alive connection, as Meta does; the status."""
    raw, headers = body(person, mid, "hi")
    conn.request("POST", "/webhook", raw, headers)
    answer = conn.getresponse()
    answer.read()
    return answer.status


def replies(graph: int) -> dict:
    """What the Graph stand-in received, per person."""
    return _get(f"http://127.0.0.1:{graph}/_stats")["replies"]


@pytest.mark.parametrize("standins", [SLOW], indirect=True)
def test_a_slow_reply_gets_its_200_in_time_and_arrives_once_after_it(standins, tmp_path):
    graph, model = standins
    service, port = serve(graph, model, tmp_path, ACK_SECONDS="1")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)  # well inside 5 s
        assert post(conn, "200000000000001", "m_slow_1") == 200
        assert replies(graph) == {}  # acknowledged while the model is still thinking
        # The same connection takes Meta's next delivery at once: nothing after the 200 holds it.
        assert post(conn, "200000000000002", "m_slow_2") == 200
        assert "200000000000001" not in replies(graph)
        assert post(conn, "200000000000001", "m_slow_1") == 200  # Meta, again: nothing more
        _until(lambda: len(replies(graph)) == 2, 20, "both replies")
        assert [len(r) for r in replies(graph).values()] == [1, 1]
    finally:
        service.terminate()
        service.wait(30)


@pytest.mark.parametrize("standins", [SLOW], indirect=True)
def test_sigterm_after_the_200_still_sends_the_reply(standins, tmp_path):
    graph, model = standins
    service, port = serve(graph, model, tmp_path, ACK_SECONDS="1")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        assert post(conn, "200000000000003", "m_term") == 200
        service.send_signal(signal.SIGTERM)  # a deploy, while the reply is on its way
        assert service.wait(30) == 0
        assert len(replies(graph)["200000000000003"]) == 1
    finally:
        if service.poll() is None:
            service.kill()
        service.wait(10)


@pytest.mark.parametrize("standins", [SLOW], indirect=True)
def test_a_worker_killed_after_its_200_has_its_message_answered_by_another(standins, tmp_path):
    graph, model = standins
    service, port = serve(graph, model, tmp_path, ACK_SECONDS="1", WEB_CONCURRENCY="2")
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
        assert post(conn, "200000000000004", "m_killed") == 200
        ledger = sqlite3.connect(tmp_path / "ledger.sqlite3")
        (owner,) = ledger.execute("SELECT owner FROM claims WHERE key = 'm_killed'").fetchone()
        os.kill(int(owner.split(":")[1]), signal.SIGKILL)  # its owner, before the reply
        # Meta will not send it again: a live worker finds it in the store and answers it.
        _until(lambda: "200000000000004" in replies(graph), 40, "the recovered reply")
        assert len(replies(graph)["200000000000004"]) == 1
    finally:
        service.terminate()
        service.wait(30)

"""The bench's delivery rule: no 2xx within the deadline is a failed delivery, redelivered."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.driver import (
    CONNECTION,
    LATE,
    NO_ANSWER,
    NOT_2XX,
    Conn,
    Delivery,
    Outcome,
    deliver,
    verdict,
)
from bench.report import check_targets
from bench.row import Row


class Webhook(ThreadingHTTPServer):
    """Answers POSTs with the statuses it is given, in order; the first answer waits for `hold`."""

    daemon_threads = True

    def __init__(self, statuses: list[int], hold_first: bool) -> None:
        super().__init__(("127.0.0.1", 0), Answer)
        self.statuses = statuses
        self.hold = threading.Event()
        if not hold_first:
            self.hold.set()
        self.seen: list[tuple[int, int]] = []  # (attempt, client port)
        self.lock = threading.Lock()

    def handle_error(self, request, client_address) -> None:
        """The held answer is written to a connection the driver dropped: expected, quiet."""


class Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Webhook

    def log_message(self, *args) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            n = len(self.server.seen)
            self.server.seen.append((n, self.client_address[1]))
        if n == 0:
            self.server.hold.wait(10)  # answered only once the test has seen the redelivery
        self.send_response(self.server.statuses[n])
        self.send_header("Content-Length", "0")
        self.end_headers()


@pytest.fixture
def webhook(request):
    statuses, hold_first = request.param
    server = Webhook(statuses, hold_first)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.hold.set()
    server.shutdown()
    server.server_close()


def _deliver(server: Webhook, delivery: Delivery) -> tuple[bool, Outcome]:
    outcome, conn = Outcome(), Conn(server.server_address[1], 1.0)
    try:
        ok = deliver(conn, b"{}", {}, delivery, outcome, threading.Event())
    finally:
        conn.close()
    return ok, outcome


@pytest.mark.parametrize("webhook", [([200, 200], True)], indirect=True)
def test_a_200_not_there_by_the_deadline_is_a_failed_delivery_redelivered_on_a_new_connection(
    webhook,
):
    # The first 200 is held until after deliver() returned: it can only be late.
    ok, outcome = _deliver(webhook, Delivery(ack_seconds=0.2, backoffs=(0.0,)))
    webhook.hold.set()
    assert ok
    assert dict(outcome.failed) == {NO_ANSWER: 1}
    assert outcome.failed_deliveries == 1
    assert (outcome.posts, outcome.redeliveries, outcome.undelivered) == (2, 1, 0)
    assert len(outcome.acks) == 2 and outcome.acks[0] >= 0.2  # every attempt has its time
    assert len(outcome.latencies) == 1  # only the redelivery was answered
    assert outcome.statuses == {"error": 1, 200: 1}
    (_, first_port), (_, second_port) = webhook.seen
    assert first_port != second_port  # the late one's connection was dropped
    assert outcome.first_ended.is_set()  # the deadline ended the first attempt


@pytest.mark.parametrize("webhook", [([503, 500, 200], False)], indirect=True)
def test_a_5xx_is_a_failed_delivery_and_the_first_redelivery_goes_at_once(webhook):
    ok, outcome = _deliver(webhook, Delivery(ack_seconds=2.0, backoffs=(0.0, 0.0)))
    assert ok
    assert dict(outcome.failed) == {NOT_2XX: 2}
    assert (outcome.posts, outcome.redeliveries) == (3, 2)


@pytest.mark.parametrize("webhook", [([503, 503], False)], indirect=True)
def test_an_event_never_answered_2xx_is_undelivered_once_every_redelivery_is_spent(webhook):
    ok, outcome = _deliver(webhook, Delivery(ack_seconds=2.0, backoffs=(0.0,)))
    assert not ok
    assert (outcome.failed_deliveries, outcome.undelivered) == (2, 1)


def test_an_answer_read_after_the_deadline_is_late_even_when_it_is_a_200():
    assert verdict(200, 5.01, 5.0) == LATE
    assert verdict(204, 4.99, 5.0) is None
    assert verdict(503, 0.01, 5.0) == NOT_2XX
    assert verdict(400, 0.01, 5.0) == NOT_2XX


def test_meta_schedule_five_seconds_then_at_once_then_backing_off():
    delivery = Delivery()
    assert delivery.ack_seconds == 5.0
    assert delivery.backoffs == (0.0, 1.0, 2.0, 4.0, 8.0, 16.0)


def test_a_refused_connection_is_a_failed_delivery_of_its_own_kind():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    port = server.server_address[1]
    server.server_close()  # nobody listens there now
    outcome, conn = Outcome(), Conn(port, 1.0)
    ok = deliver(conn, b"{}", {}, Delivery(backoffs=()), outcome, threading.Event())
    assert not ok
    assert dict(outcome.failed) == {CONNECTION: 1}
    assert not outcome.first_ended.is_set()  # a refusal is not the end of a delivery's wait


def test_only_a_kill_mid_request_excuses_the_connections_it_cuts():
    assert Row("kill_worker", 1, 1, kill_worker=True).excused() == {CONNECTION}
    assert Row("crash", 1, 1, crash=True).excused() == {CONNECTION}
    assert Row("k", 1, 1, kill_worker=True, after_ack=True).excused() == set()
    assert Row("slow_model", 1, 1, model_latency=6.0).excused() == set()


def _main_row(**figures) -> dict:
    row = {
        "model_latency_s": 1.0,
        "model_tail": None,
        "ack_seconds": 5.0,
        "fidelity_pct": 100.0,
        "conversations_peak_per_s": 2,
        "failed_deliveries": 0,
        "lost": 0,
        "duplicated": 0,
        "ack_p50_ms": 1150.0,
        "efficiency": 0.85,
        "service_cpu_ms_per_msg": 10.0,
    }
    return {**row, **figures}


def test_main_row_targets_failed_deliveries_reply_before_the_200_and_the_floor_beside_it():
    floor = {"efficiency": 0.88, "ack_p50_ms": 1120.0}
    verdicts = check_targets(_main_row(), floor)
    assert not [v for v in verdicts if "MISSED" in v]
    missed = [v for v in check_targets(_main_row(failed_deliveries=3), floor) if "MISSED" in v]
    assert len(missed) == 1 and "failed deliveries" in missed[0]
    missed = [v for v in check_targets(_main_row(ack_p50_ms=400.0), floor) if "MISSED" in v]
    assert len(missed) == 1 and "before the 200" in missed[0]  # 200 before the reply
    missed = [v for v in check_targets(_main_row(efficiency=0.8), floor) if "MISSED" in v]
    assert len(missed) == 1 and "efficiency" in missed[0]
    unchecked = check_targets(_main_row())
    assert any(v.startswith("not checked") for v in unchecked)

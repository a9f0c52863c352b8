"""The bench's router in front of several hosts: affinity, passive health checks, failover."""

import select
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bench.driver import CONNECTION, Delivery, Outcome, Target, deliver
from bench.router import RoutedConn, Router
from bench.row import Row
from bench.run import main, matrix_rows, parse


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Host(ThreadingHTTPServer):
    """A host on loopback: answers 200 ("ok"), or reads the request and closes the connection
    without an answer ("cut", a host dying mid-request), or answers 200 and then closes the
    connection without saying so ("die", a host killed after its 200)."""

    daemon_threads = True

    def __init__(self, mode: str = "ok") -> None:
        super().__init__(("127.0.0.1", 0), Answer)
        self.mode = mode
        self.seen = 0
        self.closed = threading.Event()  # set once a connection has been closed by this side
        self.lock = threading.Lock()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def shutdown_request(self, request) -> None:
        super().shutdown_request(request)
        self.closed.set()


class Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Host

    def log_message(self, *args) -> None:
        """Quiet."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        with self.server.lock:
            self.server.seen += 1
        if self.server.mode == "cut":
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if self.server.mode == "die":
            self.close_connection = True  # no "Connection: close": the client keeps the socket


@pytest.fixture
def hosts(request):
    """Running hosts in the given modes; "dead" is a port nobody listens on."""
    running, ports = [], []
    for mode in request.param:
        if mode == "dead":
            gone = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
            ports.append(gone.server_address[1])
            gone.server_close()
            running.append(None)
            continue
        host = Host(mode)
        threading.Thread(target=host.serve_forever, daemon=True).start()
        running.append(host)
        ports.append(host.port)
    yield running, ports
    for host in running:
        if host is not None:
            host.shutdown()
            host.server_close()


def test_each_person_keeps_to_one_host_by_index_while_every_host_is_up():
    router = Router([1, 2, 3])
    assert [router.route(i) for i in range(7)] == [0, 1, 2, 0, 1, 2, 0]
    assert {router.route(4) for _ in range(5)} == {1}


def test_a_down_host_people_go_to_the_next_live_one_and_back_once_it_may_be_up():
    clock = Clock()
    router = Router([1, 2, 3], down_seconds=10.0, clock=clock)
    router.down(1)
    assert [router.route(i) for i in range(3)] == [0, 2, 2]  # only host 1's people move
    router.down(2)
    assert [router.route(i) for i in range(3)] == [0, 0, 0]
    clock.now += 10.0
    assert [router.route(i) for i in range(3)] == [0, 1, 2]  # tried again after down_seconds


def test_with_every_host_down_or_refusing_the_router_still_tries_one():
    router = Router([1, 2, 3])
    for host in range(3):
        router.down(host)
    assert router.route(1) == 1
    assert router.route(1, avoid={1}) == 2
    assert router.route(1, avoid={0, 1, 2}) == 1


def _post(conn: RoutedConn) -> int:
    status, _ = conn.post("/webhook", b"{}", {"Content-Type": "application/json"}, within=2.0)
    return status


@pytest.mark.parametrize("hosts", [("dead", "ok", "ok")], indirect=True)
def test_a_refused_connection_is_passed_on_to_the_next_host_without_a_failed_delivery(hosts):
    running, ports = hosts
    clock = Clock()
    router = Router(ports, clock=clock)
    outcome, conn = Outcome(), router.conn(0, 2.0)
    try:
        ok = deliver(conn, b"{}", {}, Delivery(backoffs=()), outcome, threading.Event())
        assert ok and outcome.failed_deliveries == 0
        assert running[1].seen == 1 and running[2].seen == 0
        assert router.stats() == {
            "hosts": 3,
            "posts": [0, 1, 0],
            "rerouted": 1,
            "marked_down": [1, 0, 0],
        }
        assert _post(conn) == 200  # host 0 is not tried again while it is marked down
        assert router.stats()["marked_down"] == [1, 0, 0]
        clock.now += router.down_seconds
        assert _post(conn) == 200  # tried again, still refusing, passed on again
        assert router.stats()["marked_down"] == [2, 0, 0] and running[1].seen == 3
    finally:
        conn.close()


@pytest.mark.parametrize("hosts", [("cut", "ok")], indirect=True)
def test_a_connection_cut_after_the_request_fails_the_delivery_and_meta_redelivers_elsewhere(
    hosts,
):
    running, ports = hosts
    router = Router(ports)
    outcome, conn = Outcome(), router.conn(0, 2.0)
    try:
        ok = deliver(conn, b"{}", {}, Delivery(backoffs=(0.0,)), outcome, threading.Event())
    finally:
        conn.close()
    assert ok
    assert dict(outcome.failed) == {CONNECTION: 1} and outcome.redeliveries == 1
    assert running[0].seen == 1 and running[1].seen == 1
    assert router.stats()["marked_down"] == [1, 0] and router.stats()["posts"] == [1, 1]


@pytest.mark.parametrize("hosts", [("die", "ok")], indirect=True)
def test_a_kept_alive_connection_of_a_host_that_died_is_not_written_into(hosts):
    running, ports = hosts
    router = Router(ports)
    conn = router.conn(0, 2.0)
    try:
        conn.connect()
        assert _post(conn) == 200 and running[0].seen == 1
        # The host is gone: it closed the connection (its FIN reaches the socket) and listens
        # no more.
        dead = running[0]
        assert dead.closed.wait(5)
        dead.shutdown()
        dead.server_close()
        running[0] = None  # the fixture has nothing left to stop
        sock = conn.conns[0].conn.sock
        assert select.select([sock], [], [], 5)[0]  # the FIN has arrived
        assert _post(conn) == 200  # reopened, refused, passed on: no failed delivery
    finally:
        conn.close()
    assert dead.seen == 1 and running[1].seen == 1
    assert router.stats()["posts"] == [1, 1] and router.stats()["marked_down"] == [1, 0]


def test_the_driver_routes_through_the_target_router_and_straight_without_one():
    router = Router([1, 2])
    routed = Target(1, 9, "secret", router).webhook_conn(3, 1.0)
    assert isinstance(routed, RoutedConn) and routed.index == 3 and routed.router is router
    assert Target(1, 9, "secret").webhook_conn(3, 1.0).port == 1


def test_a_host_killed_mid_request_excuses_the_cuts_one_killed_after_its_200s_none():
    assert Row("h", 1, 1, hosts=3, host_crash=True).excused() == {CONNECTION}
    assert Row("h", 1, 1, hosts=3, host_crash=True, after_ack=True).excused() == set()


def test_the_hosts_rows_are_skipped_on_sqlite_with_a_line_that_says_why(capsys):
    names = {row.name: row for row in matrix_rows(parse(["--matrix", "--matrix-people", "4"]))}
    assert names["hosts3"].hosts == 3 and names["hosts3"].people == 12
    crash = names["hosts3_crash"]
    assert crash.host_crash and crash.after_ack and not crash.crash
    assert crash.messages == 2 and crash.write_again  # the second once the first is answered
    previous = signal.getsignal(signal.SIGTERM)  # main() sets its own
    try:
        code = main(["--store", "sqlite", "--no-main", "--matrix", "--only", "hosts3,hosts3_crash"])
    finally:
        signal.signal(signal.SIGTERM, previous)
    out = capsys.readouterr().out
    assert code == 1  # nothing ran, so nothing passed
    assert "hosts3          skipped: 3 hosts share one store only with --store redis" in out
    assert "hosts3_crash    skipped" in out

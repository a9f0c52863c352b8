"""People writing to the page, delivered to the webhook the way Meta delivers them.

One thread per person, each with its own keep-alive connections (http.client, no pooling
layer), so the driver stays far from being the bottleneck. A person sends message k only after
the webhook POST for message k-1 returned. Before each POST the message is stored in the Graph
stand-in (Meta stores a message before it calls the webhook).

Meta's rule (webhooks page, 2026): the 200 within 5 seconds. A POST not answered with a 2xx
within `Delivery.ack_seconds` (5 s) is a failed delivery: answered late, answered non-2xx (a 5xx,
a 503), or not answered (the driver stops waiting at the deadline, drops the connection and
redelivers on a fresh one), or the connection failed. A failed delivery is redelivered with the
same body and mid, as Meta does: the first time at once, then after 1, 2, 4, 8 and 16 s. Every
attempt is counted: its kind of failure, if any, and its time to the answer (or to the deadline,
or to the connection's failure).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import select
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .procs import LOOPBACK

if TYPE_CHECKING:
    from .router import RoutedConn, Router

PAGE_ID = "100000000000001"
JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Delivery:
    """How Meta-like delivery behaves in one row."""

    ack_seconds: float = 5.0  # Meta wants the 200 within 5 s; later is a failed delivery
    # Waits before each redelivery: at once, then less and less often.
    backoffs: tuple[float, ...] = (0.0, 1.0, 2.0, 4.0, 8.0, 16.0)
    twice: bool = False  # deliver every event twice (concurrently or after the first returned)

    def worst(self) -> float:
        """The longest one event can take to deliver: every attempt timing out, every wait."""
        return (len(self.backoffs) + 1) * self.ack_seconds + sum(self.backoffs)


# Kinds of failed delivery, as counted in Outcome.failed.
LATE = "late"  # a 2xx, but after the deadline (it arrived while the driver was still reading)
NO_ANSWER = "no answer"  # nothing by the deadline: the driver dropped the connection
NOT_2XX = "non-2xx"  # answered in time with another status (a 5xx, a 503, a 4xx)
CONNECTION = "connection"  # refused, reset or closed before an answer (a dead worker or host)


def verdict(status: int, seconds: float, ack_seconds: float) -> str | None:
    """Why an answered attempt was a failed delivery, or None for a 2xx within the deadline."""
    if not 200 <= status < 300:
        return NOT_2XX
    return LATE if seconds > ack_seconds else None


@dataclass(frozen=True)
class Target:
    """Where the service and the Graph stand-in listen, and the secret that signs bodies.
    With several hosts, `router` picks each person's host (bench/router.py) and
    `service_port` is the first host's."""

    service_port: int
    graph_port: int
    app_secret: str
    router: Router | None = None

    def webhook_conn(self, index: int, timeout: float) -> Conn | RoutedConn:
        """Person `index`'s connection to the webhook: the one service, or through the router."""
        if self.router is not None:
            return self.router.conn(index, timeout)
        return Conn(self.service_port, timeout)


@dataclass
class Outcome:
    """What the driver saw; updated from every person's thread under one lock."""

    latencies: list[float] = field(default_factory=list)  # every POST that got an HTTP answer
    acks: list[float] = field(default_factory=list)  # every POST: time to its answer or give-up
    statuses: Counter = field(default_factory=Counter)  # HTTP status, or "error" for no answer
    failed: Counter = field(default_factory=Counter)  # failed deliveries by kind (see verdict)
    posts: int = 0
    redeliveries: int = 0
    undelivered: int = 0  # events that never got a 2xx, all redeliveries spent
    started_at: float = 0.0  # epoch seconds when the measured run began (reply times use it)
    # Set when the first attempt ended with a 2xx or at its deadline (a timer of bench/kills.py
    # waits for it); first_end is its time.perf_counter().
    first_ended: threading.Event = field(default_factory=threading.Event, repr=False)
    first_end: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, status: int | None, seconds: float, failure: str | None = None) -> None:
        """Count one POST attempt: its time, its answer's latency, its kind of failure."""
        with self.lock:
            self.posts += 1
            self.statuses["error" if status is None else status] += 1
            self.acks.append(seconds)
            if status is not None:
                self.latencies.append(seconds)
            if failure:
                self.failed[failure] += 1
            if failure in (None, LATE, NO_ANSWER) and not self.first_ended.is_set():
                self.first_end = time.perf_counter()
                self.first_ended.set()

    @property
    def failed_deliveries(self) -> int:
        """Attempts not answered with a 2xx within the deadline, whatever the reason."""
        return sum(self.failed.values())

    def note(self, key: str) -> None:
        """Count something that went wrong outside a webhook POST."""
        with self.lock:
            self.statuses[key] += 1

    def bump(self, name: str) -> None:
        """Add one to a counter."""
        with self.lock:
            setattr(self, name, getattr(self, name) + 1)


class Conn:
    """One keep-alive connection that reconnects after any failure."""

    def __init__(self, port: int, timeout: float) -> None:
        """Nothing opens until first use or connect()."""
        self.port = port
        self.timeout = timeout
        self.conn: http.client.HTTPConnection | None = None

    def connect(self) -> None:
        """Open the socket before the clock starts; a refused attempt is retried (no request)."""
        for attempt in range(5):
            self.close()
            self.conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=self.timeout)
            try:
                self.conn.connect()
                return
            except OSError:
                if attempt == 4:
                    self.close()
                    raise
                time.sleep(0.2)

    def open(self, timeout: float) -> None:
        """One connect attempt within `timeout` seconds, nothing sent; raises OSError (refused,
        timed out) with the connection closed."""
        self.close()
        self.conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=max(0.001, timeout))
        try:
            self.conn.connect()
        except BaseException:
            self.close()
            raise

    def dropped(self) -> bool:
        """No socket, or the peer closed it while idle (readable with nothing asked: its FIN or
        a reset), so a request written into it would be lost."""
        sock = self.conn.sock if self.conn is not None else None
        if sock is None:
            return True
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)

    def post(
        self, path: str, body: bytes, headers: dict[str, str], within: float | None = None
    ) -> tuple[int, bytes]:
        """POST and read the whole answer; on any error drop the connection and re-raise.

        `within`: seconds for the whole exchange. Each socket operation gets what is left of
        them, so an answer that does not come by then raises TimeoutError (then the connection
        is dropped, as Meta drops it); one that trickles in across the deadline may still be
        read, and the caller counts it late.
        """
        started = time.perf_counter()
        if self.conn is None:
            self.conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=self.timeout)
        try:
            if within is not None:
                self._limit(within)
            self.conn.request("POST", path, body, headers)
            if within is not None:
                self._limit(within - (time.perf_counter() - started))
            resp = self.conn.getresponse()
            data = resp.read()
        except BaseException:
            self.close()
            raise
        if resp.will_close:
            self.close()
        return resp.status, data

    def _limit(self, seconds: float) -> None:
        """The timeout of the next socket operations, and of the connect if one is due."""
        seconds = max(0.001, seconds)
        self.conn.timeout = seconds
        if self.conn.sock is not None:
            self.conn.sock.settimeout(seconds)

    def close(self) -> None:
        """Close the socket, if any."""
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def sign(body: bytes, app_secret: str) -> str:
    """X-Hub-Signature-256 as Meta sends it; here so the bench drives any checkout's service."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def event_body(person: str, mid: str, text: str, timestamp: int) -> bytes:
    """A webhook body as Meta sends it for one text message (non-ASCII escaped)."""
    event = {
        "sender": {"id": person},
        "recipient": {"id": PAGE_ID},
        "timestamp": timestamp,
        "message": {"mid": mid, "text": text},
    }
    entry = {"id": PAGE_ID, "time": timestamp, "messaging": [event]}
    return json.dumps({"object": "page", "entry": [entry]}).encode()


def message_text(person: str, k: int) -> str:
    """A text unique per message, so each model reply names the message it answers."""
    return f"message {k} from {person}"


def deliver(
    conn: Conn,
    body: bytes,
    headers: dict,
    delivery: Delivery,
    outcome: Outcome,
    stop: threading.Event,
) -> bool:
    """POST one event until a 2xx within the deadline, redelivering after failures as Meta does."""
    ack = delivery.ack_seconds
    for attempt in range(len(delivery.backoffs) + 1):
        if attempt:
            outcome.bump("redeliveries")
            if stop.wait(delivery.backoffs[attempt - 1]):
                return False
        started = time.perf_counter()
        try:
            status, _ = conn.post("/webhook", body, headers, within=ack)
        except (OSError, http.client.HTTPException) as exc:
            seconds = time.perf_counter() - started
            # A timeout is no answer by the deadline; anything else, a failed connection.
            timed_out = isinstance(exc, TimeoutError)
            outcome.record(None, seconds, NO_ANSWER if timed_out else CONNECTION)
            continue
        seconds = time.perf_counter() - started
        failure = verdict(status, seconds, ack)
        outcome.record(status, seconds, failure)
        if failure is None:
            return True
    outcome.bump("undelivered")
    return False


def person(
    target: Target,
    who: str,
    index: int,
    messages: int,
    delivery: Delivery,
    outcome: Outcome,
    go: threading.Event,
    stop: threading.Event,
    gate: threading.Event | None = None,
) -> None:
    """One person's conversation: store, then deliver each message after the last returned
    (and, with a `gate`, every message after the first once the gate is open)."""
    hook = target.webhook_conn(index, delivery.ack_seconds)
    spare = target.webhook_conn(index, delivery.ack_seconds)
    graph = Conn(target.graph_port, 10.0)
    try:
        for conn in (hook, graph):
            conn.connect()
        go.wait()
        for k in range(messages):
            while k and gate is not None and not gate.wait(0.5):
                if stop.is_set():
                    return
            if stop.is_set():
                return
            mid = f"m_{who}_{k}"
            text = message_text(who, k)
            stored = {"page": PAGE_ID, "person": who, "mid": mid, "text": text}
            graph.post("/_inbound", json.dumps(stored).encode(), JSON)
            body = event_body(who, mid, text, int(time.time() * 1000))
            headers = {**JSON, "X-Hub-Signature-256": sign(body, target.app_secret)}
            args = (body, headers, delivery, outcome, stop)
            if delivery.twice and (index + k) % 2 == 0:
                # The same event twice at once, on two connections.
                other = threading.Thread(target=deliver, args=(spare, *args), daemon=True)
                other.start()
                deliver(hook, *args)
                other.join(delivery.worst() + 60)
            else:
                deliver(hook, *args)
                if delivery.twice:  # the same event again, after the first delivery returned
                    deliver(hook, *args)
    except (OSError, http.client.HTTPException) as exc:
        outcome.note(f"inbound failed: {type(exc).__name__}")
    finally:
        for conn in (hook, spare, graph):
            conn.close()


def drive(
    target: Target,
    people: list[str],
    messages: int,
    delivery: Delivery,
    limit: float,
    on_start=None,
    gate: threading.Event | None = None,
) -> tuple[Outcome, float, bool]:
    """Run every person at once; return what was seen, the wall time, and whether it finished.

    `on_start(started, outcome)` is called as the clock starts (bench/kills.py arms its timers).
    `gate`: each person sends their second and later messages only once it is open.
    """
    outcome = Outcome()
    go, stop = threading.Event(), threading.Event()
    threads = [
        threading.Thread(
            target=person,
            args=(target, who, i, messages, delivery, outcome, go, stop, gate),
            daemon=True,
        )
        for i, who in enumerate(people)
    ]
    for thread in threads:
        thread.start()
    started = time.perf_counter()
    outcome.started_at = time.time()
    go.set()
    if on_start:
        on_start(started, outcome)
    deadline = started + limit
    try:
        for thread in threads:
            while thread.is_alive() and time.perf_counter() < deadline:
                thread.join(0.5)
    finally:
        finished = not any(t.is_alive() for t in threads)
        stop.set()  # on timeout or Ctrl-C: no new POSTs; sockets time out on their own
    return outcome, time.perf_counter() - started, finished

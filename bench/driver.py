"""People writing to the page, delivered to the webhook the way Meta delivers them.

One thread per person, each with its own keep-alive connections (http.client, no pooling
layer), so the driver stays far from being the bottleneck. A person sends message k only after
the webhook POST for message k-1 returned. Before each POST the message is stored in the Graph
stand-in (Meta stores a message before it calls the webhook). A POST that fails, answers
non-2xx or does not answer within 20 s is redelivered with the same body and mid, as Meta
does: the first time within a second, then backing off (1, 2, 4, 8, 16 s).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from .procs import LOOPBACK

PAGE_ID = "100000000000001"
JSON = {"Content-Type": "application/json"}


@dataclass(frozen=True)
class Delivery:
    """How Meta-like delivery behaves in one row."""

    timeout: float = 20.0  # Meta waits about 20 s for the 200
    # Waits before each redelivery: at once (within a second), then less and less often.
    backoffs: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 16.0)
    twice: bool = False  # deliver every event twice (concurrently or after the first returned)

    def worst(self) -> float:
        """The longest one event can take to deliver: every attempt timing out, every wait."""
        return (len(self.backoffs) + 1) * self.timeout + sum(self.backoffs)


@dataclass(frozen=True)
class Target:
    """Where the service and the Graph stand-in listen, and the secret that signs bodies."""

    service_port: int
    graph_port: int
    app_secret: str


@dataclass
class Outcome:
    """What the driver saw; updated from every person's thread under one lock."""

    latencies: list[float] = field(default_factory=list)  # every POST that got an HTTP answer
    statuses: Counter = field(default_factory=Counter)  # HTTP status, or "error" for no answer
    posts: int = 0
    redeliveries: int = 0
    undelivered: int = 0  # events that never got a 2xx, all redeliveries spent
    started_at: float = 0.0  # epoch seconds when the measured run began (reply times use it)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, status: int | None, seconds: float) -> None:
        """Count one POST attempt and, when it was answered, its latency."""
        with self.lock:
            self.posts += 1
            self.statuses["error" if status is None else status] += 1
            if status is not None:
                self.latencies.append(seconds)

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

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST and read the whole answer; on any error drop the connection and re-raise."""
        if self.conn is None:
            self.conn = http.client.HTTPConnection(LOOPBACK, self.port, timeout=self.timeout)
        try:
            self.conn.request("POST", path, body, headers)
            resp = self.conn.getresponse()
            data = resp.read()
        except BaseException:
            self.close()
            raise
        if resp.will_close:
            self.close()
        return resp.status, data

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
    """POST one event until a 2xx, redelivering after failures as Meta does."""
    for attempt in range(len(delivery.backoffs) + 1):
        if attempt:
            outcome.bump("redeliveries")
            if stop.wait(delivery.backoffs[attempt - 1]):
                return False
        started = time.perf_counter()
        try:
            status, _ = conn.post("/webhook", body, headers)
        except (OSError, http.client.HTTPException):
            outcome.record(None, time.perf_counter() - started)
            continue
        outcome.record(status, time.perf_counter() - started)
        if 200 <= status < 300:
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
) -> None:
    """One person's conversation: store, then deliver each message after the last returned."""
    hook = Conn(target.service_port, delivery.timeout)
    spare = Conn(target.service_port, delivery.timeout)
    graph = Conn(target.graph_port, 10.0)
    try:
        for conn in (hook, graph):
            conn.connect()
        go.wait()
        for k in range(messages):
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
) -> tuple[Outcome, float, bool]:
    """Run every person at once; return what was seen, the wall time, and whether it finished."""
    outcome = Outcome()
    go, stop = threading.Event(), threading.Event()
    threads = [
        threading.Thread(
            target=person,
            args=(target, who, i, messages, delivery, outcome, go, stop),
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
        on_start(started)
    deadline = started + limit
    try:
        for thread in threads:
            while thread.is_alive() and time.perf_counter() < deadline:
                thread.join(0.5)
    finally:
        finished = not any(t.is_alive() for t in threads)
        stop.set()  # on timeout or Ctrl-C: no new POSTs; sockets time out on their own
    return outcome, time.perf_counter() - started, finished

"""A router in front of several hosts: the driver's way in when a row runs more than one.

Several hosts on one Redis are one service to Meta: it POSTs to one address, and a load
balancer picks the host. This one does what such a balancer does:

- **Affinity.** Person i goes to host i mod N while that host is up, always the same one.
- **Passive health checks.** A host is marked down when a connection to it failed — refused,
  reset or closed before an answer (nginx's `max_fails=1`) — and stays down for DOWN_SECONDS
  (`fail_timeout`), then is tried again. A timeout marks nothing: a slow host is not a dead one.
- **Failover.** While a person's own host is down, their POSTs go to the next live host after
  it (i+1, i+2, … mod N), and back home once it is up again.
- **What Meta sees.** A connection refused before anything was sent is passed on at once to the
  next live host within the same delivery: nothing reached the dead host, so a balancer retries
  it and Meta sees no failure. A connection cut after the request went out is a failed delivery
  (a balancer answers 502, as it cannot know whether the host acted on the request), and Meta's
  redelivery is routed past the dead host. A kept-alive connection the host has closed (when
  it died, or after its keep-alive timeout) is noticed before reuse and opened again, as a
  balancer's upstream pool does, instead of being written into.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections import Counter
from collections.abc import Sequence

from .driver import Conn

DOWN_SECONDS = 10.0  # a host marked down is tried again after this long (nginx's fail_timeout)


class Router:
    """Which host each person's POSTs go to, and what it saw; shared by every person's thread."""

    def __init__(
        self, ports: Sequence[int], down_seconds: float = DOWN_SECONDS, clock=time.monotonic
    ) -> None:
        """One port per host, in host order; `clock` is for tests."""
        if not ports:
            raise ValueError("a router needs at least one host")
        self.ports = tuple(ports)
        self.down_seconds = down_seconds
        self.clock = clock
        self.lock = threading.Lock()
        self._down_until: dict[int, float] = {}
        self.posts: Counter = Counter()  # POSTs sent, by host
        self.rerouted = 0  # POSTs sent to a host other than the person's own
        self.marked_down: Counter = Counter()  # times each host was marked down

    def home(self, index: int) -> int:
        """The person's own host."""
        return index % len(self.ports)

    def is_up(self, host: int) -> bool:
        """Not marked down, or marked long enough ago to be tried again."""
        with self.lock:
            return self._down_until.get(host, 0.0) <= self.clock()

    def route(self, index: int, avoid: frozenset[int] | set[int] = frozenset()) -> int:
        """The person's own host while it is up, else the next live one after it. `avoid`:
        hosts this delivery already found refusing. With every host down, the first one not
        avoided after the person's own (a balancer with nothing healthy still tries)."""
        n = len(self.ports)
        order = [(self.home(index) + step) % n for step in range(n)]
        left = [host for host in order if host not in avoid] or order
        return next((host for host in left if self.is_up(host)), left[0])

    def down(self, host: int) -> None:
        """A connection to `host` failed: route around it for `down_seconds`."""
        with self.lock:
            self._down_until[host] = self.clock() + self.down_seconds
            self.marked_down[host] += 1

    def sent(self, index: int, host: int) -> None:
        """Count one POST going out to `host` for person `index`."""
        with self.lock:
            self.posts[host] += 1
            self.rerouted += host != self.home(index)

    def clear(self) -> None:
        """Forget the counts (not which hosts are down): the measured run counts from here."""
        with self.lock:
            self.posts.clear()
            self.marked_down.clear()
            self.rerouted = 0

    def stats(self) -> dict:
        """POSTs per host, how many went past a person's own host, marks down per host."""
        with self.lock:
            return {
                "hosts": len(self.ports),
                "posts": [self.posts[h] for h in range(len(self.ports))],
                "rerouted": self.rerouted,
                "marked_down": [self.marked_down[h] for h in range(len(self.ports))],
            }

    def conn(self, index: int, timeout: float) -> RoutedConn:
        """A connection for person `index`, used like a driver.Conn."""
        return RoutedConn(self, index, timeout)


class RoutedConn:
    """One person's way in through the router: a keep-alive Conn per host it has used."""

    def __init__(self, router: Router, index: int, timeout: float) -> None:
        """Nothing opens until connect() or the first POST."""
        self.router = router
        self.index = index
        self.timeout = timeout
        self.conns: dict[int, Conn] = {}

    def _conn(self, host: int) -> Conn:
        if host not in self.conns:
            self.conns[host] = Conn(self.router.ports[host], self.timeout)
        return self.conns[host]

    def connect(self) -> None:
        """Open the connection to the person's host before the clock starts."""
        self._conn(self.router.route(self.index)).connect()

    def post(
        self, path: str, body: bytes, headers: dict[str, str], within: float | None = None
    ) -> tuple[int, bytes]:
        """POST through the router, as Conn.post does to one host (see the module's rules)."""
        started = time.perf_counter()
        refused: set[int] = set()
        while True:
            host = self.router.route(self.index, refused)
            conn = self._conn(host)
            left = self.timeout if within is None else within - (time.perf_counter() - started)
            if conn.dropped():
                try:
                    conn.open(left)
                except TimeoutError:
                    raise  # not accepted by the deadline: no answer, the host is not marked
                except OSError:  # refused: nothing was sent, the next live host gets it
                    self.router.down(host)
                    refused.add(host)
                    if len(refused) == len(self.router.ports):
                        raise
                    continue
            self.router.sent(self.index, host)
            try:
                return conn.post(path, body, headers, None if within is None else left)
            except TimeoutError:
                raise
            except (OSError, http.client.HTTPException):
                self.router.down(host)  # cut after the request went out: a 502, then around it
                raise

    def close(self) -> None:
        """Close every host's connection."""
        for conn in self.conns.values():
            conn.close()

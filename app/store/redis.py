"""The ledger in Redis, for deployments where several hosts share one store.

Claims are two keys: `claim:<id>` (SET NX with the lease as expiry: while it lives nobody else
may answer) and `done:<id>` (set once the reply went out, kept for the time to live). A worker
that dies leaves only the claim, which expires after the lease, so a redelivery takes over.
Turns are a sorted set per person (score: the message's timestamp) plus a holder key; one Lua
script queues, drops waiters that vanished, and grants the turn atomically.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from .base import POLL_SECONDS

TURN = """
-- KEYS: waiting (zset ts), expiry (zset expires_at), holder (string)
-- ARGV: member, ts, expires_at, now, lease_ms
redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[4])) do
  redis.call('ZREM', KEYS[1], gone)
  redis.call('ZREM', KEYS[2], gone)
end
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('PEXPIRE', KEYS[2], ARGV[5])
local first = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
if first ~= ARGV[1] then return 0 end
if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[5]) then return 1 end
if redis.call('GET', KEYS[3]) == ARGV[1] then return 1 end
return 0
"""

CLAIM = """
-- KEYS: done, claim; ARGV: lease_ms. An answered id is refused; else SET NX with the lease.
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return 1 end
return 0
"""

LEAVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
return 1
"""


class RedisLedger:
    """Same behaviour as SQLiteLedger, in Redis."""

    def __init__(
        self, url: str, *, lease: float, ttl: float, window: float, prefix: str = "messenger:"
    ) -> None:
        self.redis = redis.Redis.from_url(
            url, socket_timeout=1, socket_connect_timeout=1, health_check_interval=30
        )
        self.lease = lease
        self.ttl = ttl
        self.window = window
        self.prefix = prefix
        self._turn = self.redis.register_script(TURN)
        self._leave = self.redis.register_script(LEAVE)
        self._claim = self.redis.register_script(CLAIM)

    def claim(self, key: str) -> bool:
        """Refuse answered ids; take the claim with SET NX and the lease as its expiry."""
        keys = [self.prefix + "done:" + key, self.prefix + "claim:" + key]
        return bool(self._claim(keys, [int(self.lease * 1000)]))

    def answered(self, key: str) -> None:
        """The reply went out: keep the id for the time to live."""
        self.redis.set(self.prefix + "done:" + key, "1", ex=int(self.ttl))

    @contextmanager
    def turn(self, name: str, key: str, ts: int, wait: float) -> Iterator[bool]:
        """Queue behind this person's earlier messages; hold the turn while answering."""
        keys = [self.prefix + f"turns:{name}", self.prefix + f"turns-exp:{name}"]
        keys.append(self.prefix + f"turn:{name}")
        lease_ms = int(self.lease * 1000)
        ends = time.monotonic() + wait
        try:
            got = False
            while True:
                now = time.time()
                got = bool(self._turn(keys, [key, ts, now + self.lease, now, lease_ms]))
                if got or time.monotonic() >= ends:
                    break
                time.sleep(POLL_SECONDS)
            yield got
        finally:
            self._leave(keys, [key])

    def spend(self, name: str) -> int:
        """Fixed windows: INCR one counter per person and window, expiring with it."""
        window = int(time.time() // self.window)
        counter = self.prefix + f"spend:{name}:{window}"
        with self.redis.pipeline() as pipe:
            pipe.incr(counter)
            pipe.expire(counter, int(self.window) + 60)
            count, _ = pipe.execute()
        return int(count)

    def pause(self, name: str, seconds: float) -> None:
        """A key that lives as long as the pause."""
        self.redis.set(self.prefix + f"pause:{name}", "1", px=max(1, int(seconds * 1000)))

    def paused(self, name: str) -> bool:
        """The pause key still exists."""
        return bool(self.redis.exists(self.prefix + f"pause:{name}"))

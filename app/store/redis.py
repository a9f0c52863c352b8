"""The ledger in Redis, for deployments where several hosts share one store.

Claims are two keys: `claim:<id>` (SET NX with the lease as expiry: while it lives nobody else
may answer) and `done:<id>` (set once the reply went out, kept for the time to live). A worker
that dies leaves only the claim, which expires after the lease, so a redelivery takes over.
Turns are a sorted set per person (score: the message's timestamp) plus a holder key; one Lua
script queues, drops waiters that vanished, and grants the turn atomically.
"""

from __future__ import annotations

import time

import redis

from .base import Turns
from .redis_memory import RedisMemory

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

PAUSE = """
-- KEYS: pause; ARGV: until, keep_ms. A later end extends the pause, an earlier one does not.
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > current then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
return 1
"""
PAUSE_KEEP_SECONDS = 60.0

LEAVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
return 1
"""


class RedisLedger(Turns, RedisMemory):
    """Same behaviour as SQLiteLedger, in Redis."""

    def __init__(
        self,
        url: str,
        *,
        lease: float,
        ttl: float,
        window: float,
        prefix: str = "messenger:",
        keep: int = 30,
        max_age: float = 24 * 3600.0,
        reads_per_second: int = 2,
        clock=time.time,
    ) -> None:
        self.redis = redis.Redis.from_url(
            url, socket_timeout=1, socket_connect_timeout=1, health_check_interval=30
        )
        self.lease = lease
        self.ttl = ttl
        self.window = window
        self.prefix = prefix
        self.clock = clock
        self.keep = keep
        self.max_age = max_age
        self.reads_per_second = reads_per_second
        self._turn = self.redis.register_script(TURN)
        self._leave = self.redis.register_script(LEAVE)
        self._claim = self.redis.register_script(CLAIM)
        self._pause = self.redis.register_script(PAUSE)
        self._memory_scripts()

    def claim(self, key: str) -> bool:
        """Refuse answered ids; take the claim with SET NX and the lease as its expiry."""
        keys = [self.prefix + "done:" + key, self.prefix + "claim:" + key]
        return bool(self._claim(keys, [int(self.lease * 1000)]))

    def answered(self, key: str) -> None:
        """The reply went out: keep the id for the time to live."""
        self.redis.set(self.prefix + "done:" + key, "1", ex=int(self.ttl))

    def _turn_keys(self, name: str) -> list[str]:
        """The waiting queue, its expiry times and the holder of one person's turn."""
        return [self.prefix + f"{part}:{name}" for part in ("turns", "turns-exp", "turn")]

    def _try_turn(self, name: str, key: str, ts: int) -> bool:
        """Queue, drop waiters that vanished, and take the turn when it is ours: one script."""
        now = self.clock()
        args = [key, ts, now + self.lease, now, int(self.lease * 1000)]
        return bool(self._turn(self._turn_keys(name), args))

    def _leave_turn(self, name: str, key: str) -> None:
        """Leave the queue, and the turn when holding it."""
        self._leave(self._turn_keys(name), [key])

    def spend(self, name: str) -> int:
        """Fixed windows: INCR one counter per person and window, expiring with it."""
        window = int(self.clock() // self.window)
        counter = self.prefix + f"spend:{name}:{window}"
        with self.redis.pipeline() as pipe:
            pipe.incr(counter)
            pipe.expire(counter, int(self.window) + 60)
            count, _ = pipe.execute()
        return int(count)

    def pause(self, name: str, seconds: float) -> None:
        """The pause's end, in a key that Redis drops a while after it (a later pause wins)."""
        until = self.clock() + seconds
        key = self.prefix + f"pause:{name}"
        self._pause(keys=[key], args=[until, int((seconds + PAUSE_KEEP_SECONDS) * 1000)])

    def paused(self, name: str) -> bool:
        """The pause's end is still ahead."""
        until = self.redis.get(self.prefix + f"pause:{name}")
        return until is not None and float(until) > self.clock()

"""The store in Redis, for deployments where several hosts share one store.

Every process beats `owner:<id>` (its alive-until time) every second. A claim is `claim:<id>`
holding its owner's id, and `done:<id>` once the reply went out (kept for the time to live): a
redelivery finds the id answered, or owned by a live process (busy), or owned by a dead one
and takes it over; the same script reads the person's pause and counts their model call, and
a message's arrival runs it together with the transcript's script, as one script. Turns are
a sorted set per person (score: the message's timestamp), the waiters' owners and a holder
key; one Lua script queues, drops waiters that vanished or whose process died, and grants the
turn atomically. Scripts read owner keys they are not given as
KEYS: a single Redis (or Heroku's) is assumed, not a cluster.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from .base import OWNER_TTL_SECONDS, Arrival, Entry, Options, Owner, Turn, Turns
from .redis_memory import REMEMBER, RedisMemory

TURN = """
-- KEYS: waiting (zset ts), expiry (zset expires_at), holder, owners (hash member -> owner)
-- ARGV: member, ts, expires_at, now, lease_ms, owner, owner key prefix
redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[6])
local now = tonumber(ARGV[4])
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local owner = redis.call('HGET', KEYS[4], member)
  local alive = owner and tonumber(redis.call('GET', ARGV[7] .. owner) or '0') or 0
  local expires = tonumber(redis.call('ZSCORE', KEYS[2], member) or '0')
  if alive <= now or expires < now then
    redis.call('ZREM', KEYS[1], member)
    redis.call('ZREM', KEYS[2], member)
    redis.call('HDEL', KEYS[4], member)
    if redis.call('GET', KEYS[3]) == member then redis.call('DEL', KEYS[3]) end
  end
end
for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, ARGV[5]) end
local first = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
if first ~= ARGV[1] then return 0 end
if redis.call('SET', KEYS[3], ARGV[1], 'NX', 'PX', ARGV[5]) then return 1 end
if redis.call('GET', KEYS[3]) == ARGV[1] then return 1 end
return 0
"""

CLAIM = """
-- KEYS: done, claim, pause, spend counter
-- ARGV: owner, now, owner key prefix, claim_ms, count (1/0), counter_s
-- Returns {state, paused (1/0), calls counted in the window (0 when not counted)}.
if redis.call('EXISTS', KEYS[1]) == 1 then return {'answered', 0, 0} end
local holder = redis.call('GET', KEYS[2])
if holder then
  local alive = tonumber(redis.call('GET', ARGV[3] .. holder) or '0')
  if alive > tonumber(ARGV[2]) then return {'busy', 0, 0} end
end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[4])
if tonumber(redis.call('GET', KEYS[3]) or '0') > tonumber(ARGV[2]) then
  return {'taken', 1, 0}
end
if ARGV[5] ~= '1' then return {'taken', 0, 0} end
local spent = redis.call('INCR', KEYS[4])
redis.call('EXPIRE', KEYS[4], ARGV[6])
return {'taken', 0, spent}
"""

# A message's arrival: the transcript's script, then the claim's, as one script — one round trip
# (a pipeline of the two costs another: redis-py asks SCRIPT EXISTS before each such pipeline).
ARRIVE = (
    "local function remember(KEYS, ARGV)\n" + REMEMBER + "\nend\n"
    "local function claim(KEYS, ARGV)\n" + CLAIM + "\nend\n"
    """
-- KEYS: the claim's 4, then the transcript's 3; ARGV: the claim's 6, then the transcript's
local ca, ra = {}, {}
for i = 1, #ARGV do
  if i <= 6 then ca[i] = ARGV[i] else ra[i - 6] = ARGV[i] end
end
remember({KEYS[5], KEYS[6], KEYS[7]}, ra)
return claim({KEYS[1], KEYS[2], KEYS[3], KEYS[4]}, ca)
"""
)

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
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
redis.call('HDEL', KEYS[4], ARGV[1])
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
return 1
"""


# A message's last write: the reply parts kept, the turn left, the message marked answered.
SETTLE = (
    "local function remember(KEYS, ARGV)\n" + REMEMBER + "\nend\n"
    "local function leave(KEYS, ARGV)\n" + LEAVE + "\nend\n"
    """
-- KEYS: done, claim, the turn's 4, then the transcript's 3 (none without entries)
-- ARGV: ttl_s, the turn's member, then the transcript's arguments (none without entries)
leave({KEYS[3], KEYS[4], KEYS[5], KEYS[6]}, {ARGV[2]})
if #KEYS > 6 then
  local ra = {}
  for i = 3, #ARGV do ra[i - 2] = ARGV[i] end
  remember({KEYS[7], KEYS[8], KEYS[9]}, ra)
end
redis.call('SET', KEYS[1], '1', 'EX', ARGV[1])
redis.call('DEL', KEYS[2])
return 1
"""
)


class RedisLedger(Options, Owner, Turns, RedisMemory):
    """Same behaviour as SQLiteLedger, in Redis."""

    def __init__(self, url: str, *, prefix: str = "messenger:", **options: Any) -> None:
        """`options`: see base.Options; `prefix` keeps several bots apart in one Redis."""
        self.redis = redis.Redis.from_url(
            url, socket_timeout=1, socket_connect_timeout=1, health_check_interval=30
        )
        self.prefix = prefix
        self._options(**options)
        self._turn = self.redis.register_script(TURN)
        self._leave = self.redis.register_script(LEAVE)
        self._claim = self.redis.register_script(CLAIM)
        self._arrive = self.redis.register_script(ARRIVE)
        self._settle = self.redis.register_script(SETTLE)
        self._release = self.redis.register_script(RELEASE)
        self._pause = self.redis.register_script(PAUSE)
        self._memory_scripts()

    def arrive(self, key: str, conversation: str, entry: Entry, spend: bool) -> Arrival:
        """Keep and claim: one script, one round trip."""
        claim_keys, claim_args = self._claim_call(key, conversation, spend)
        keys, args = self._remember_call(conversation, [entry], False)
        state, paused, spent = self._arrive(claim_keys + keys, claim_args + args)
        return Arrival(state.decode(), bool(paused), int(spent))

    def claim(self, key: str) -> str:
        """Answered, busy (a live owner has it), or taken: one script."""
        return self._claim(*self._claim_call(key, "", False))[0].decode()

    def _claim_call(self, key: str, conversation: str, spend: bool) -> tuple[list, list]:
        """The CLAIM script's 4 keys and 6 arguments."""
        now = self.clock()
        keys = [self.prefix + "done:" + key, self.prefix + "claim:" + key]
        keys += [self.prefix + f"pause:{conversation}", self._spend_key(conversation, now)]
        args = [self._owner(), now, self.prefix + "owner:", int(self.ttl * 1000)]
        args += [1 if spend else 0, int(self.window) + 60]
        return keys, args

    def _spend_key(self, name: str, now: float) -> str:
        """One counter per person and fixed window."""
        return self.prefix + f"spend:{name}:{int(now // self.window)}"

    def answered(self, key: str) -> None:
        """The reply went out: keep the id for the time to live; the claim is done with."""
        with self.redis.pipeline() as pipe:
            pipe.set(self.prefix + "done:" + key, "1", ex=int(self.ttl))
            pipe.delete(self.prefix + "claim:" + key)
            pipe.execute()

    def release(self, key: str) -> None:
        """Drop our claim (an answered id keeps its `done` key)."""
        self._release([self.prefix + "claim:" + key], [self._owner()])

    def _beat(self, owner: str) -> None:
        """This process is alive for OWNER_TTL_SECONDS more (the key outlives that a little,
        so a reader sees the time rather than nothing)."""
        until = self.clock() + OWNER_TTL_SECONDS
        self.redis.set(
            self.prefix + "owner:" + owner, until, px=int((OWNER_TTL_SECONDS + 60) * 1000)
        )

    def _turn_keys(self, name: str) -> list[str]:
        """The waiting queue, its expiry times, the holder and the waiters' owners."""
        parts = ("turns", "turns-exp", "turn", "turns-own")
        return [self.prefix + f"{part}:{name}" for part in parts]

    def _try_turn(self, name: str, key: str, ts: int) -> bool:
        """Queue, drop waiters that vanished, and take the turn when it is ours: one script."""
        now = self.clock()
        args = [key, ts, now + self.lease, now, int(self.lease * 1000)]
        args += [self._owner(), self.prefix + "owner:"]
        return bool(self._turn(self._turn_keys(name), args))

    def settle(self, key: str, turn: Turn, conversation: str, entries: Sequence[Entry]) -> None:
        """Keep what was sent, leave the turn, mark answered: one script."""
        keys = [self.prefix + "done:" + key, self.prefix + "claim:" + key]
        keys += self._turn_keys(turn.name)
        args: list = [int(self.ttl), turn.key]
        if entries:
            kept_keys, kept_args = self._remember_call(conversation, entries, False)
            keys, args = keys + kept_keys, args + kept_args
        self._settle(keys, args)
        turn.left = True

    def _leave_turn(self, name: str, key: str) -> None:
        """Leave the queue, and the turn when holding it."""
        self._leave(self._turn_keys(name), [key])

    def pause(self, name: str, seconds: float) -> None:
        """The pause's end, in a key that Redis drops a while after it (a later pause wins)."""
        until = self.clock() + seconds
        key = self.prefix + f"pause:{name}"
        self._pause(keys=[key], args=[until, int((seconds + PAUSE_KEEP_SECONDS) * 1000)])

    def paused_until(self, name: str) -> float | None:
        """The pause's end, when it is ahead."""
        until = self.redis.get(self.prefix + f"pause:{name}")
        return float(until) if until is not None and float(until) > self.clock() else None

    def resume(self, name: str) -> None:
        """The pause key goes."""
        self.redis.delete(self.prefix + f"pause:{name}")

    def spent(self, name: str) -> int:
        """The current window's counter, without counting."""
        count = self.redis.get(self._spend_key(name, self.clock()))
        return int(count) if count else 0

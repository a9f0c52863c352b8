"""The store in Redis, for deployments where several hosts share one store.

Every process beats `owner:<id>` (its alive-until time) every second, on a connection of its
own. A claim is `claim:<id>`, a hash of its owner's id (empty once given back), the event
and the calls it counted; `done:<id>` once the reply went out (kept for the time to live);
`unanswered`, a sorted set of the claims not yet answered, is what recovery scans. A
redelivery finds the id answered, or owned by a live process (busy), or owned by a dead one
(or by nobody) and takes it over; the same script reads the person's pause and counts their
model call, and a message's arrival runs it together with the transcript's script, as one
script. Turns are a sorted set per person (score: the message's timestamp), the waiters'
owners and a holder key; one Lua script queues, drops waiters that vanished or whose process
died, and grants the turn atomically. The scripts are in redis_scripts.py.

Requests share a blocking pool of REDIS_MAX_CONNECTIONS per process: a thread waits for a
free connection rather than opening one more, so workers × the pool is all a hosted Redis's
client limit must hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis

from .base import MAX_TRIES, OWNER_TTL_SECONDS, Arrival, Entry, Options, Owner, Turn
from .redis_memory import RedisMemory
from .redis_privacy import RedisPrivacy
from .redis_scripts import PAUSE_KEEP_SECONDS, SCRIPTS
from .turns import Turns

# How long a request waits for a free connection of the pool before the store counts as busy.
POOL_WAIT_SECONDS = 1.0


def client_limit(url: str) -> int | None:
    """The most clients this Redis accepts (`maxclients` of INFO clients), or None when it
    cannot be read (a server older than 7, a host that disables INFO, no connection)."""
    client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    try:
        value = client.info("clients").get("maxclients")
    except redis.RedisError:
        return None
    finally:
        client.close()
    return int(value) if value is not None else None


class RedisLedger(Options, Owner, Turns, RedisMemory, RedisPrivacy):
    """Same behaviour as SQLiteLedger, in Redis."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "messenger:",
        max_connections: int = 10,
        **options: Any,
    ) -> None:
        """`options`: see base.Options; `prefix` keeps several bots apart in one Redis;
        `max_connections`: this process's pool (REDIS_MAX_CONNECTIONS), which a thread waits
        on for up to POOL_WAIT_SECONDS when every connection is in use."""
        kwargs = {"socket_timeout": 1, "socket_connect_timeout": 1, "health_check_interval": 30}
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=POOL_WAIT_SECONDS, **kwargs
        )
        self.redis = redis.Redis(connection_pool=pool)
        # The heartbeat's own connection: no request can hold it back (a full pool, a queue).
        self._beats = redis.Redis.from_url(url, **kwargs)
        self.prefix = prefix
        self._options(**options)
        self._watch_turns()
        for name, script in SCRIPTS.items():
            setattr(self, f"_{name}", self.redis.register_script(script))
        self._memory_scripts()
        self._privacy_scripts()

    def arrive(
        self,
        key: str,
        conversation: str,
        entry: Entry,
        spend: bool,
        event: str = "",
        ts: int = 0,
    ) -> Arrival:
        """Keep, claim, and queue for the turn: one script, one round trip."""
        claim_keys, claim_args = self._claim_call(key, conversation, spend, event)
        keys, args = self._remember_call(conversation, [entry], False)
        turn_keys, turn_args = self._turn_call(conversation, key, ts)
        found = self._arrive(claim_keys + keys + turn_keys, claim_args + turn_args + args)
        state, paused, spent, told, held, known, kept = found
        transcript = None
        if held:  # the conversation came with the turn: no read of its own
            entries = dict(zip(kept[::2], kept[1::2], strict=True))
            transcript = self._transcript_of(kept[::2], entries, known, bool(told))
        return Arrival(state.decode(), bool(paused), int(spent), bool(told), bool(held), transcript)

    def claim(self, key: str) -> str:
        """Answered, busy (a live owner has it), or taken: one script."""
        return self._claim(*self._claim_call(key, "", False, ""))[0].decode()

    def _claim_call(self, key: str, conversation: str, spend: bool, event: str):
        """The CLAIM script's 7 keys and 8 arguments."""
        now = self.clock()
        keys = [self.prefix + "done:" + key, self.prefix + "claim:" + key]
        keys += [self.prefix + f"pause:{conversation}", self._spend_key(conversation, now)]
        keys += [self.prefix + "unanswered", self._conversation_keys(conversation)[3]]
        keys.append(self.prefix + f"claims-of:{conversation}")
        args = [self._owner(), now, self.prefix + "owner:", int(self.ttl * 1000)]
        args += [1 if spend else 0, int(self.window) + 60, key, event]
        return keys, args

    def _spend_key(self, name: str, now: float) -> str:
        """One counter per person and fixed window."""
        return self.prefix + f"spend:{name}:{int(now // self.window)}"

    def _done_keys(self, key: str) -> list[str]:
        """The answered mark, the claim and the index of unanswered claims."""
        return [self.prefix + f"{part}:{key}" for part in ("done", "claim")] + [
            self.prefix + "unanswered"
        ]

    def answered(self, key: str) -> None:
        """The reply went out: keep the id for the time to live; the claim is done with."""
        self._answered(self._done_keys(key), [int(self.ttl), key])

    def release(self, key: str, tried: bool = True) -> None:
        """Give our unanswered claim back (its event stays for whoever takes it next)."""
        self._release(self._done_keys(key)[:2], [self._owner(), int(tried)])

    def orphans(self, scan: int, oldest: float) -> tuple[list[str], list[str]]:
        """Unanswered claims whose owner is gone: their events, or given up when too old."""
        args = [self.clock(), self.prefix + "owner:", oldest, MAX_TRIES, scan, self.prefix]
        found, gone = self._orphans([self.prefix + "unanswered"], [*args, int(self.ttl)])
        return [e.decode() for e in found], [k.decode() for k in gone]

    def _beat(self, owner: str) -> None:
        """This process is alive for OWNER_TTL_SECONDS more (the key outlives that a little,
        so a reader sees the time rather than nothing), on the heartbeat's own connection."""
        until = self.clock() + OWNER_TTL_SECONDS
        self._beats.set(
            self.prefix + "owner:" + owner, until, px=int((OWNER_TTL_SECONDS + 60) * 1000)
        )

    def _turn_keys(self, name: str) -> list[str]:
        """The waiting queue, its expiry times, the holder and the waiters' owners."""
        parts = ("turns", "turns-exp", "turn", "turns-own")
        return [self.prefix + f"{part}:{name}" for part in parts]

    def _try_turn(self, name: str, key: str, ts: int) -> bool:
        """Queue, drop waiters that vanished, and take the turn when it is ours: one script."""
        return bool(self._turn(*self._turn_call(name, key, ts)))

    def _turn_call(self, name: str, key: str, ts: int) -> tuple[list, list]:
        """The TURN script's 4 keys and 7 arguments."""
        now = self.clock()
        args = [key, ts, now + self.lease, now, int(self.lease * 1000)]
        args += [self._owner(), self.prefix]
        return self._turn_keys(name), args

    def settle(
        self,
        key: str,
        turn: Turn,
        conversation: str,
        entries: Sequence[Entry],
        told: bool = False,
    ) -> None:
        """Keep what was sent, leave the turn, mark answered (and told): one script."""
        keys = self._done_keys(key) + [self._conversation_keys(conversation)[3]]
        keys += self._turn_keys(turn.name)
        args: list = [int(self.ttl), turn.key, key, 1 if told else 0]
        args.append(max(1, int(self.max_age * 1000)))
        if entries:
            kept_keys, kept_args = self._remember_call(conversation, entries, False)
            keys, args = keys + kept_keys, args + kept_args
        self._settle(keys, args)
        turn.left = True

    def _leave_turn(self, name: str, key: str) -> None:
        """Leave the queue, and the turn when holding it."""
        self._leave(self._turn_keys(name), [key])

    def pause(self, name: str, seconds: float, since: float | None = None) -> None:
        """The pause's end, `since` (default now) + seconds, in a key that Redis drops a
        while after it (a later pause wins)."""
        now = self.clock()
        until = (now if since is None else since) + seconds
        keep_ms = int((max(0.0, until - now) + PAUSE_KEEP_SECONDS) * 1000)
        self._pause(keys=[self.prefix + f"pause:{name}"], args=[until, keep_ms])

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

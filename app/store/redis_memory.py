"""The conversation transcript and the Conversations API allowance, in the Redis store.

A conversation is four keys that expire together HISTORY_MAX_AGE_HOURS after its last write:
`tx:<c>` (a hash id → entry JSON), `txt:<c>` (a sorted set id → time), `txk:<c>` (1 once
the conversation is known, else 0; while it lives, so does the conversation) and `told:<c>`
(there once the conversation heard the AI disclosure). One script adds,
trims and renews them atomically. The read allowance is a sorted set of the last second's calls
per page, and a key holding the end of a hold.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence

from .base import READ_WINDOW_SECONDS, Entry, Transcript

REMEMBER = """
-- KEYS: entries (hash), times (zset), known, told; ARGV: keep, ttl_ms, known, then id, at,
-- json...
local known = redis.call('GET', KEYS[3])
if not known then redis.call('DEL', KEYS[1], KEYS[2], KEYS[4]) end
for i = 4, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 2]) == 1 then
    redis.call('ZADD', KEYS[2], ARGV[i + 1], ARGV[i])
  end
end
local extra = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[1])
if extra > 0 then
  for _, gone in ipairs(redis.call('ZRANGE', KEYS[2], 0, extra - 1)) do
    redis.call('HDEL', KEYS[1], gone)
  end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, extra - 1)
end
if known ~= '1' then redis.call('SET', KEYS[3], ARGV[3]) end
for _, key in ipairs(KEYS) do redis.call('PEXPIRE', key, ARGV[2]) end
return 1
"""

ALLOW = """
-- KEYS: places (zset member -> when it frees), hold; ARGV: now, per_second, member, until,
-- window, keep_ms
local held = tonumber(redis.call('GET', KEYS[2]) or '0')
if held > tonumber(ARGV[1]) then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[5]))
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return 1
"""


class RedisMemory:
    """Mixed into the Redis store: uses its client, key prefix and clock."""

    keep: int
    max_age: float
    reads_per_second: int

    def _memory_scripts(self) -> None:
        """Register the scripts once, when the store is made."""
        self._remember = self.redis.register_script(REMEMBER)
        self._allow = self.redis.register_script(ALLOW)

    def _conversation_keys(self, conversation: str) -> list[str]:
        """The entries, their times, known, told."""
        return [self.prefix + f"{part}:{conversation}" for part in ("tx", "txt", "txk", "told")]

    def remember(self, conversation: str, entries: Sequence[Entry], known: bool = False) -> None:
        """Add new ids, keep the newest `keep`, renew the conversation's expiry."""
        self._remember(*self._remember_call(conversation, entries, known))

    def _remember_call(
        self, conversation: str, entries: Sequence[Entry], known: bool
    ) -> tuple[list, list]:
        """The REMEMBER script's keys and arguments."""
        args: list = [self.keep, max(1, int(self.max_age * 1000)), "1" if known else "0"]
        for e in entries:
            args += [e.id, e.at, json.dumps([e.text, e.from_page, e.at])]
        return self._conversation_keys(conversation), args

    def transcript(self, conversation: str) -> Transcript:
        """The entries oldest first, and whether the conversation is known."""
        entries_key, times_key, known_key, told_key = self._conversation_keys(conversation)
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.zrange(times_key, 0, -1)
            pipe.hgetall(entries_key)
            pipe.get(known_key)
            pipe.exists(told_key)
            ids, stored, known, told = pipe.execute()
        return self._transcript_of(ids, stored, known, bool(told))

    def _transcript_of(
        self, ids: list, stored: dict, known: bytes | None, told: bool
    ) -> Transcript:
        """A Transcript from the keys' raw values (ids in time order, id → entry JSON, known,
        told); a conversation whose known key is gone is unknown and empty."""
        if not known:
            return Transcript()
        entries = []
        for raw_id in ids:
            raw = stored.get(raw_id)
            if raw is not None:
                text, from_page, at = json.loads(raw)
                entries.append(Entry(raw_id.decode(), text, bool(from_page), float(at)))
        return Transcript(entries, known == b"1", told)

    def forget(self, conversation: str) -> None:
        """Drop the conversation's keys; it is unknown again."""
        self.redis.delete(*self._conversation_keys(conversation))

    def allow_read(self, page: str, longest: float) -> str | None:
        """At most `reads_per_second` places per page; a place's score is when it frees: the
        longest the call may last while it is under way, its end once it ended."""
        if self.reads_per_second <= 0:
            return None
        now = self.clock()
        keys = [self.prefix + f"reads:{page}", self.prefix + f"reads-hold:{page}"]
        member = f"{now:.6f}:{secrets.token_hex(4)}"
        keep_ms = int((longest + READ_WINDOW_SECONDS + 1) * 1000)
        args = [now, self.reads_per_second, member, now + longest, READ_WINDOW_SECONDS, keep_ms]
        return member if self._allow(keys, args) else None

    def read_done(self, page: str, ticket: str) -> None:
        """The place frees a window after now (XX: a place already dropped stays dropped)."""
        self.redis.zadd(self.prefix + f"reads:{page}", {ticket: self.clock()}, xx=True)

    def hold_reads(self, page: str, seconds: float) -> None:
        """No reads for the page until now + seconds; a longer hold wins (same script as a
        pause)."""
        key = self.prefix + f"reads-hold:{page}"
        self._pause(keys=[key], args=[self.clock() + seconds, int((seconds + 60) * 1000)])

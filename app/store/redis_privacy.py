"""People's data in the Redis store: erase a conversation (leaving only a tombstone), export
it, apply an edit or an unsend, and keep the status of Meta's deletion requests."""

from __future__ import annotations

import json
from typing import Any

from .privacy import DELETION_KEEP_SECONDS, SENT_KEEP_SECONDS, message, tombstone

ERASE = """
-- KEYS: the conversation's 4, its pause, its claims (set), the tombstone, then spend counters
-- ARGV: now, the claim key prefix
for _, key in ipairs(redis.call('SMEMBERS', KEYS[6])) do
  redis.call('HDEL', ARGV[2] .. key, 'event')
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6])
for i = 8, #KEYS do redis.call('DEL', KEYS[i]) end
redis.call('SET', KEYS[7], ARGV[1])
return 1
"""

EDIT = """
-- KEYS: entries (hash); ARGV: id, text. The entry keeps its place and time, with new words.
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local entry = cjson.decode(raw)
entry[1] = ARGV[2]
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(entry))
return 1
"""


class RedisPrivacy:
    """Mixed into the Redis store: uses its client, key prefix and clock."""

    def _privacy_scripts(self) -> None:
        """Register the scripts once, when the store is made."""
        self._erase = self.redis.register_script(ERASE)
        self._edit = self.redis.register_script(EDIT)

    def erase(self, conversation: str) -> None:
        """Everything kept of the conversation goes, in one script; a tombstone stays."""
        now = self.clock()
        keys = self._conversation_keys(conversation) + [
            self.prefix + f"pause:{conversation}",
            self.prefix + f"claims-of:{conversation}",
            self.prefix + f"erased:{tombstone(conversation)}",
            self._spend_key(conversation, now),
            self._spend_key(conversation, now - self.window),
        ]
        self._erase(keys, [now, self.prefix + "claim:"])

    def erased_at(self, conversation: str) -> float | None:
        """When the conversation was last erased, if ever."""
        at = self.redis.get(self.prefix + f"erased:{tombstone(conversation)}")
        return float(at) if at is not None else None

    def export(self, conversation: str) -> dict[str, Any]:
        """Everything kept of the conversation, as plain values."""
        waiting = []
        for key in self.redis.smembers(self.prefix + f"claims-of:{conversation}"):
            key = key.decode()
            if not self.redis.exists(self.prefix + f"done:{key}"):
                event = self.redis.hget(self.prefix + f"claim:{key}", "event")
                if event:
                    waiting.append(json.loads(event))
        return {
            "messages": [message(e) for e in self.transcript(conversation).entries],
            "told_ai": bool(self.redis.exists(self._conversation_keys(conversation)[3])),
            "paused_until": self.paused_until(conversation),
            "model_calls_this_window": self.spent(conversation),
            "waiting_to_be_answered": waiting,
            "erased_at": self.erased_at(conversation),
        }

    def edit(self, conversation: str, entry_id: str, text: str) -> bool:
        """The kept message gets its new text; False when it is not kept."""
        return bool(self._edit([self._conversation_keys(conversation)[0]], [entry_id, text]))

    def unsend(self, conversation: str, entry_id: str) -> bool:
        """The kept message goes; False when it is not kept."""
        entries, times = self._conversation_keys(conversation)[:2]
        with self.redis.pipeline() as pipe:
            pipe.hdel(entries, entry_id)
            pipe.zrem(times, entry_id)
            gone, _ = pipe.execute()
        return bool(gone)

    def sent(self, ids: list[str]) -> None:
        """Remember for a while that we sent these messages (their echoes may carry no app
        id): ids only, no words, so an erasure leaves them."""
        with self.redis.pipeline(transaction=False) as pipe:
            for message_id in ids:
                pipe.set(self.prefix + f"sent:{message_id}", 1, ex=int(SENT_KEEP_SECONDS))
            pipe.execute()

    def was_sent(self, message_id: str) -> bool:
        """Whether we sent this message (lately)."""
        return bool(self.redis.exists(self.prefix + f"sent:{message_id}"))

    def record_deletion(self, code: str, status: str) -> None:
        """Keep a deletion request's status under its confirmation code."""
        self.redis.set(self.prefix + f"deletion:{code}", status, ex=int(DELETION_KEEP_SECONDS))

    def deletion(self, code: str) -> str | None:
        """A deletion request's status, by its confirmation code."""
        status = self.redis.get(self.prefix + f"deletion:{code}")
        return status.decode() if status is not None else None

"""People's data in the SQLite store: erase a conversation (leaving only a tombstone), export
it, apply an edit or an unsend, and keep the status of Meta's deletion requests."""

from __future__ import annotations

import json
from typing import Any

from .privacy import DELETION_KEEP_SECONDS, SENT_KEEP_SECONDS, message, tombstone

SCHEMA = """
CREATE TABLE IF NOT EXISTS erasures (key TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS deletions (
    code TEXT PRIMARY KEY, status TEXT NOT NULL, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS sent (id TEXT PRIMARY KEY, expires_at REAL NOT NULL);
"""


class SQLitePrivacy:
    """Mixed into the SQLite store: uses its connections, transactions and clock."""

    def erase(self, conversation: str) -> None:
        """Everything kept of the conversation goes — its messages, the events waiting in
        claims, its pause, its spend counts, whether it was told — in one transaction; what
        stays is the time of the erasure, under a key that names nobody."""
        now = self.clock()
        with self._db() as db:
            db.execute("DELETE FROM transcript WHERE conversation = ?", (conversation,))
            db.execute("DELETE FROM conversations WHERE conversation = ?", (conversation,))
            db.execute("DELETE FROM pauses WHERE name = ?", (conversation,))
            db.execute("DELETE FROM spend WHERE name = ?", (conversation,))
            db.execute(
                "UPDATE claims SET event = NULL, conversation = NULL WHERE conversation = ?",
                (conversation,),
            )
            db.execute(
                """INSERT INTO erasures (key, at) VALUES (?, ?)
                   ON CONFLICT (key) DO UPDATE SET at = excluded.at""",
                (tombstone(conversation), now),
            )

    def erased_at(self, conversation: str) -> float | None:
        """When the conversation was last erased, if ever."""
        row = self._one("SELECT at FROM erasures WHERE key = ?", (tombstone(conversation),))
        return row[0] if row else None

    def export(self, conversation: str) -> dict[str, Any]:
        """Everything kept of the conversation, as plain values."""
        told = self._one("SELECT told FROM conversations WHERE conversation = ?", (conversation,))
        with self._reading() as db:
            waiting = db.execute(
                """SELECT event FROM claims WHERE conversation = ? AND answered_at IS NULL
                   AND event IS NOT NULL""",
                (conversation,),
            ).fetchall()
        return {
            "messages": [message(e) for e in self.transcript(conversation).entries],
            "told_ai": bool(told and told[0]),
            "paused_until": self.paused_until(conversation),
            "model_calls_this_window": self.spent(conversation),
            "waiting_to_be_answered": [json.loads(row[0]) for row in waiting],
            "erased_at": self.erased_at(conversation),
        }

    def edit(self, conversation: str, entry_id: str, text: str) -> bool:
        """The kept message gets its new text; False when it is not kept."""
        row = self._write(
            "UPDATE transcript SET text = ? WHERE conversation = ? AND id = ? RETURNING 1",
            (text, conversation, entry_id),
        )
        return row is not None

    def unsend(self, conversation: str, entry_id: str) -> bool:
        """The kept message goes; False when it is not kept."""
        row = self._write(
            "DELETE FROM transcript WHERE conversation = ? AND id = ? RETURNING 1",
            (conversation, entry_id),
        )
        return row is not None

    def sent(self, ids: list[str]) -> None:
        """Remember for a while that we sent these messages (their echoes may carry no app
        id): ids only, no words, so an erasure leaves them."""
        until = self.clock() + SENT_KEEP_SECONDS
        with self._db() as db:
            db.executemany(
                "INSERT OR REPLACE INTO sent (id, expires_at) VALUES (?, ?)",
                [(i, until) for i in ids],
            )

    def was_sent(self, message_id: str) -> bool:
        """Whether we sent this message (lately)."""
        row = self._one(
            "SELECT 1 FROM sent WHERE id = ? AND expires_at > ?", (message_id, self.clock())
        )
        return row is not None

    def record_deletion(self, code: str, status: str) -> None:
        """Keep a deletion request's status under its confirmation code."""
        self._write(
            """INSERT INTO deletions (code, status, expires_at) VALUES (?, ?, ?)
               ON CONFLICT (code) DO UPDATE SET status = excluded.status""",
            (code, status, self.clock() + DELETION_KEEP_SECONDS),
        )

    def deletion(self, code: str) -> str | None:
        """A deletion request's status, by its confirmation code."""
        row = self._one(
            "SELECT status FROM deletions WHERE code = ? AND expires_at > ?", (code, self.clock())
        )
        return row[0] if row else None

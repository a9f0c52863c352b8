"""Turns in the SQLite store: a person's queue of messages, and who holds the turn."""

from __future__ import annotations

from .sqlite_claims import LEAVE_SQL


class SQLiteTurns:
    """Mixed into the SQLite store: uses its connection, write transaction, owners and clock."""

    def _try_turn(self, name: str, key: str, ts: int) -> bool:
        """Take the turn when nobody holds it and no earlier message is waiting. Waiters and
        holders whose process died drop out once their message is answered (recovery answers
        it) or given up, or when their lease runs out."""
        now, owner = self.clock(), self._owner()
        with self._db() as db:
            return self._queue(db, name, key, ts, now, owner)

    def _queue(self, db, name: str, key: str, ts: int, now: float, owner: str) -> bool:
        """_try_turn()'s statements, inside the caller's transaction (arrive's too). The queue
        and its owners are read only when something is in the way: nearly every message finds
        the way clear, and each statement is one more wait for the GIL with the lock held."""
        db.execute(
            """INSERT INTO turns (name, key, ts, holding, expires_at, owner)
               VALUES (?, ?, ?, 0, ?, ?)
               ON CONFLICT (name, key) DO UPDATE SET owner = excluded.owner""",
            (name, key, ts, now + self.lease, owner),
        )
        if self._take_turn(db, name, key, ts, now):
            return True
        queue = db.execute(
            "SELECT key, owner, expires_at FROM turns WHERE name = ?", (name,)
        ).fetchall()
        alive = self._alive({row[1] for row in queue}, now)
        # A dead owner's message still unanswered keeps its place: recovery will answer it,
        # and what came after it must not be answered first, without it.
        unanswered = self._unanswered(db, [k for k, o, _ in queue if o not in alive], now)
        gone = [
            (name, k)
            for k, o, expires in queue
            if expires < now or (o not in alive and k not in unanswered)
        ]
        if not gone:
            return False
        db.executemany(LEAVE_SQL, gone)
        return self._take_turn(db, name, key, ts, now)

    def _unanswered(self, db, keys: list[str], now: float) -> set[str]:
        """Which of `keys` are claimed and not answered yet."""
        if not keys:
            return set()
        marks = ",".join("?" * len(keys))
        rows = db.execute(
            f"""SELECT key FROM claims WHERE key IN ({marks})
                AND answered_at IS NULL AND expires_at >= ?""",
            (*keys, now),
        ).fetchall()
        return {row[0] for row in rows}

    def _take_turn(self, db, name: str, key: str, ts: int, now: float) -> bool:
        """Hold the turn unless another holds it or an earlier message waits: one statement."""
        return (
            db.execute(
                """UPDATE turns SET holding = 1, expires_at = :until
                   WHERE name = :name AND key = :key AND NOT EXISTS (
                       SELECT 1 FROM turns WHERE name = :name AND key != :key
                       AND (holding = 1 OR ts < :ts OR (ts = :ts AND key < :key)))""",
                {"until": now + self.lease, "name": name, "key": key, "ts": ts},
            ).rowcount
            == 1
        )

    def _leave_turn(self, name: str, key: str) -> None:
        """Leave the queue, and the turn when holding it."""
        self._write(LEAVE_SQL, (name, key))

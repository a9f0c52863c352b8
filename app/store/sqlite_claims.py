"""Claims in the SQLite store: a message kept with its claim, taken, given back, found again by
recovery, settled."""

from __future__ import annotations

from collections.abc import Sequence

from .base import ANSWERED, BUSY, MAX_TRIES, TAKEN, Arrival, Entry, Turn

ANSWERED_SQL = "UPDATE claims SET answered_at = ? WHERE key = ? AND answered_at IS NULL"
LEAVE_SQL = "DELETE FROM turns WHERE name = ? AND key = ?"
TOLD_SQL = "UPDATE conversations SET told = 1 WHERE conversation = ?"
OWNER_SQL = "UPDATE claims SET owner = ? WHERE key = ?"
PAUSED_SQL = "SELECT 1 FROM pauses WHERE name = ? AND until > ?"


class SQLiteClaims:
    """Mixed into the SQLite store: uses its connections, transactions, owners and clock."""

    def arrive(
        self,
        key: str,
        conversation: str,
        entry: Entry,
        spend: bool,
        event: str = "",
        ts: int = 0,
    ) -> Arrival:
        """Keep, claim, and when taken read the pause and the disclosure, count the call (the
        first time only) and queue for the turn: one transaction. Every statement in it is
        one more wait for the GIL while this host's writers wait for the lock, so what one
        statement already tells is not asked again."""
        now, owner = self.clock(), self._owner()
        with self._db() as db:
            known, told = self._keep(db, conversation, [entry], False, now)
            row = self._claim_row(db, key, now)
            state = self._state(row, now)
            if state != TAKEN:
                return Arrival(state)
            paused = db.execute(PAUSED_SQL, (conversation, now)).fetchone() is not None
            if row is None:  # a new claim: its call counts now, and only now
                spent = self._count(db, conversation, now) if spend and not paused else 0
                self._new_claim(db, key, now, owner, event, conversation, spent)
            else:
                db.execute(OWNER_SQL, (owner, key))
                spent = row[2]
            if paused:
                return Arrival(state, paused=True, told=told)
            held = self._queue(db, conversation, key, ts, now, owner)
            # With the turn (nobody before it), the conversation as it stands comes along.
            kept = self._transcript(db, conversation, now, (known, told)) if held else None
            return Arrival(state, spent=spent, told=told, turn=held, transcript=kept)

    def claim(self, key: str) -> str:
        """Take the id, unless it was answered or a live owner is answering it."""
        now, owner = self.clock(), self._owner()
        with self._db() as db:
            row = self._claim_row(db, key, now)
            state = self._state(row, now)
            if state == TAKEN and row is None:
                self._new_claim(db, key, now, owner, "", "", 0)
            elif state == TAKEN:
                db.execute(OWNER_SQL, (owner, key))
            return state

    def _claim_row(self, db, key: str, now: float):
        """The claim as it stands: (answered_at, owner, spent), or None when there is none."""
        return db.execute(
            "SELECT answered_at, owner, spent FROM claims WHERE key = ? AND expires_at >= ?",
            (key, now),
        ).fetchone()

    def _state(self, row, now: float) -> str:
        """Answered already, answered by a live owner now, or ours to take (new, given back,
        or its owner gone)."""
        if row is not None and row[0] is not None:
            return ANSWERED
        if row is not None and row[1] is not None and self._alive({row[1]}, now):
            return BUSY
        return TAKEN

    def _new_claim(
        self, db, key: str, now: float, owner: str, event: str, conversation: str, spent: int
    ) -> None:
        """The claim of a message not seen before, with the event that answers it."""
        db.execute(
            """INSERT OR REPLACE INTO claims
               (key, claimed_at, answered_at, expires_at, owner, event, tries, spent, conversation)
               VALUES (?, ?, NULL, ?, ?, ?, 0, ?, ?)""",
            (key, now, now + self.ttl, owner, event, spent, conversation),
        )

    def answered(self, key: str) -> None:
        """Mark the claim answered; it then lasts its full time to live."""
        self._write(ANSWERED_SQL, (self.clock(), key))

    def settle(
        self,
        key: str,
        turn: Turn,
        conversation: str,
        entries: Sequence[Entry],
        told: bool = False,
    ) -> None:
        """Keep what was sent, leave the turn, mark answered (and told): one transaction."""
        now = self.clock()
        with self._db() as db:
            if entries:
                self._keep(db, conversation, entries, False, now)
            if told:
                db.execute(TOLD_SQL, (conversation,))
            db.execute(LEAVE_SQL, (turn.name, turn.key))
            db.execute(ANSWERED_SQL, (now, key))
        turn.left = True

    def release(self, key: str, tried: bool = True) -> None:
        """Give our unanswered claim back, its event kept for whoever takes it next; a failed
        attempt counts as a try."""
        self._write(
            """UPDATE claims SET owner = NULL, tries = tries + ?
               WHERE key = ? AND owner = ? AND answered_at IS NULL""",
            (int(tried), key, self._owner()),
        )

    def orphans(self, scan: int, oldest: float) -> tuple[list[str], list[str]]:
        """Unanswered claims whose owner is gone: their events, or given up when too old."""
        now = self.clock()
        with self._reading() as db:
            rows = db.execute(
                """SELECT key, claimed_at, owner, event, tries FROM claims
                   WHERE answered_at IS NULL AND expires_at >= ? ORDER BY claimed_at LIMIT ?""",
                (now, scan),
            ).fetchall()
        alive = self._alive({row[2] for row in rows}, now)
        found, given_up = [], []
        for key, claimed_at, owner, event, tries in rows:
            if owner in alive:
                continue
            if claimed_at < oldest or tries >= MAX_TRIES or not event:
                given_up.append(key)
            else:
                found.append(event)
        if given_up:  # nobody will answer them: they leave the unanswered for good
            with self._db() as db:
                db.executemany(
                    ANSWERED_SQL + " AND (owner IS NULL OR owner = ?)",
                    [(now, key, rows_owner) for key, rows_owner in _owners_of(rows, given_up)],
                )
        return found, given_up


def _owners_of(rows: list, keys: list[str]) -> list[tuple[str, str | None]]:
    """The owner each of `keys` had when it was read, so a claim taken since is left alone."""
    wanted = set(keys)
    return [(row[0], row[2]) for row in rows if row[0] in wanted]

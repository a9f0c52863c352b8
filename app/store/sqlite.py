"""The store in one SQLite file: WAL, shared by every gunicorn worker and thread on a host,
kept across restarts."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from .base import (
    ANSWERED,
    BUSY,
    OWNER_TTL_SECONDS,
    TAKEN,
    Arrival,
    Entry,
    Options,
    Owner,
    Turn,
    Turns,
)
from .sqlite_memory import SCHEMA as MEMORY_SCHEMA
from .sqlite_memory import SQLiteMemory

SWEEP_BATCH = 5000
ANSWERED_SQL = "UPDATE claims SET answered_at = ? WHERE key = ?"
LEAVE_SQL = "DELETE FROM turns WHERE name = ? AND key = ?"
INDEXES = """
CREATE INDEX IF NOT EXISTS claims_by_expiry ON claims (expires_at);
CREATE INDEX IF NOT EXISTS owners_by_life ON owners (alive_until);
"""


class SQLiteLedger(Options, Owner, Turns, SQLiteMemory):
    """The ledger in one SQLite file; each thread keeps its own connection."""

    SCHEMA = (
        """
    CREATE TABLE IF NOT EXISTS claims (
        key TEXT PRIMARY KEY, claimed_at REAL NOT NULL, answered_at REAL, expires_at REAL NOT NULL,
        owner TEXT);
    CREATE TABLE IF NOT EXISTS owners (owner TEXT PRIMARY KEY, alive_until REAL NOT NULL);
    CREATE TABLE IF NOT EXISTS turns (
        name TEXT NOT NULL, key TEXT NOT NULL, ts INTEGER NOT NULL, holding INTEGER NOT NULL,
        expires_at REAL NOT NULL, owner TEXT, PRIMARY KEY (name, key));
    CREATE TABLE IF NOT EXISTS spend (
        name TEXT NOT NULL, window INTEGER NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (name, window));
    CREATE TABLE IF NOT EXISTS pauses (name TEXT PRIMARY KEY, until REAL NOT NULL);
    """
        + MEMORY_SCHEMA
    )

    def __init__(self, path: str, **options: Any) -> None:
        """`options`: see base.Options."""
        self.path = path
        self._options(**options)
        self._local = threading.local()
        self._writing = threading.RLock()  # re-entered: a first beat inside a transaction
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        db = self._connection()
        db.executescript(self.SCHEMA)
        for table in ("claims", "turns"):  # files written before owners existed
            columns = [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
            if "owner" not in columns:
                db.execute(f"ALTER TABLE {table} ADD COLUMN owner TEXT")
        db.executescript(INDEXES)

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections are not shared between threads)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=3, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """One immediate (write-locked) transaction on this thread's connection. The threads
        of a process take turns here first: left to SQLite's busy handler, a hundred of them
        would sleep in steps of up to 100 ms while the lock is free most of that time."""
        db = self._connection()
        with self._writing:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _write(self, sql: str, params: Any) -> Any:
        """One write statement (its own transaction), the threads of a process taking turns;
        returns its RETURNING row, fetched before the turn passes on (None without one)."""
        with self._writing:
            return self._connection().execute(sql, params).fetchone()

    def arrive(self, key: str, conversation: str, entry: Entry, spend: bool) -> Arrival:
        """Keep, claim, and when taken read the pause and count the call: one transaction."""
        now, owner = self.clock(), self._owner()
        with self._db() as db:
            self._keep(db, conversation, [entry], False, now)
            state = self._take(db, key, now, owner)
            if state != TAKEN:
                return Arrival(state)
            paused = db.execute(
                "SELECT 1 FROM pauses WHERE name = ? AND until > ?", (conversation, now)
            ).fetchone()
            if paused:
                return Arrival(state, paused=True)
            return Arrival(state, spent=self._count(db, conversation, now) if spend else 0)

    def claim(self, key: str) -> str:
        """Take the id, unless it was answered or a live owner is answering it."""
        now, owner = self.clock(), self._owner()
        with self._db() as db:
            return self._take(db, key, now, owner)

    def _take(self, db, key: str, now: float, owner: str) -> str:
        """The claim's statements, inside the caller's transaction; a claim of a dead owner
        (or an expired one) is taken over."""
        row = db.execute(
            """SELECT c.answered_at, o.alive_until FROM claims c
               LEFT JOIN owners o ON o.owner = c.owner
               WHERE c.key = ? AND c.expires_at >= ?""",
            (key, now),
        ).fetchone()
        if row is not None and row[0] is not None:
            return ANSWERED
        if row is not None and row[1] is not None and row[1] > now:
            return BUSY
        db.execute(
            """INSERT INTO claims (key, claimed_at, answered_at, expires_at, owner)
               VALUES (?, ?, NULL, ?, ?)
               ON CONFLICT (key) DO UPDATE SET claimed_at = excluded.claimed_at,
               answered_at = NULL, expires_at = excluded.expires_at, owner = excluded.owner""",
            (key, now, now + self.ttl, owner),
        )
        return TAKEN

    def answered(self, key: str) -> None:
        """Mark the claim answered; it then lasts its full time to live."""
        self._write(ANSWERED_SQL, (self.clock(), key))

    def settle(self, key: str, turn: Turn, conversation: str, entries: Sequence[Entry]) -> None:
        """Keep what was sent, leave the turn, mark answered: one transaction."""
        now = self.clock()
        with self._db() as db:
            if entries:
                self._keep(db, conversation, entries, False, now)
            db.execute(LEAVE_SQL, (turn.name, turn.key))
            db.execute(ANSWERED_SQL, (now, key))
        turn.left = True

    def release(self, key: str) -> None:
        """Drop our claim, unless it was answered."""
        self._write(
            "DELETE FROM claims WHERE key = ? AND owner = ? AND answered_at IS NULL",
            (key, self._owner()),
        )

    def _try_turn(self, name: str, key: str, ts: int) -> bool:
        """Take the turn when nobody holds it and no earlier message is waiting; waiters and
        holders whose process died drop out at once."""
        now = self.clock()
        with self._db() as db:
            db.execute(
                """INSERT INTO turns (name, key, ts, holding, expires_at, owner)
                   VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (name, key) DO NOTHING""",
                (name, key, ts, now + self.lease, self._owner()),
            )
            db.execute(
                """DELETE FROM turns WHERE name = :name AND (expires_at < :now OR NOT EXISTS (
                       SELECT 1 FROM owners o WHERE o.owner = turns.owner
                       AND o.alive_until > :now))""",
                {"name": name, "now": now},
            )
            blocked = db.execute(
                """SELECT 1 FROM turns WHERE name = ? AND key != ?
                   AND (holding = 1 OR ts < ? OR (ts = ? AND key < ?)) LIMIT 1""",
                (name, key, ts, ts, key),
            ).fetchone()
            if blocked:
                return False
            db.execute(
                "UPDATE turns SET holding = 1, expires_at = ? WHERE name = ? AND key = ?",
                (now + self.lease, name, key),
            )
            return True

    def _leave_turn(self, name: str, key: str) -> None:
        """Leave the queue, and the turn when holding it."""
        self._write(LEAVE_SQL, (name, key))

    def _count(self, db, name: str, now: float) -> int:
        """Count one call in the window of `now` (fixed windows: one row per person and
        window), inside the caller's transaction."""
        (count,) = db.execute(
            """INSERT INTO spend (name, window, count) VALUES (?, ?, 1)
               ON CONFLICT (name, window) DO UPDATE SET count = count + 1
               RETURNING count""",
            (name, int(now // self.window)),
        ).fetchone()
        return count

    def pause(self, name: str, seconds: float) -> None:
        """Quiet until now + seconds (a later pause extends it)."""
        self._write(
            """INSERT INTO pauses (name, until) VALUES (?, ?)
               ON CONFLICT (name) DO UPDATE SET until = max(until, excluded.until)""",
            (name, self.clock() + seconds),
        )

    def paused_until(self, name: str) -> float | None:
        """A read only."""
        row = (
            self._connection()
            .execute("SELECT until FROM pauses WHERE name = ? AND until > ?", (name, self.clock()))
            .fetchone()
        )
        return row[0] if row else None

    def resume(self, name: str) -> None:
        """The pause row goes."""
        self._write("DELETE FROM pauses WHERE name = ?", (name,))

    def spent(self, name: str) -> int:
        """A read only."""
        window = int(self.clock() // self.window)
        row = (
            self._connection()
            .execute("SELECT count FROM spend WHERE name = ? AND window = ?", (name, window))
            .fetchone()
        )
        return row[0] if row else 0

    def _beat(self, owner: str) -> None:
        """This process is alive for OWNER_TTL_SECONDS more."""
        self._write(
            """INSERT INTO owners (owner, alive_until) VALUES (?, ?)
               ON CONFLICT (owner) DO UPDATE SET alive_until = excluded.alive_until""",
            (owner, self.clock() + OWNER_TTL_SECONDS),
        )

    def _sweep(self) -> None:
        """Drop what expired, SWEEP_BATCH rows at a time, each table by an index."""
        now = self.clock()
        with self._db() as db:
            for table, column in (("claims", "expires_at"), ("owners", "alive_until")):
                db.execute(
                    f"""DELETE FROM {table} WHERE rowid IN (
                        SELECT rowid FROM {table} WHERE {column} < ? LIMIT {SWEEP_BATCH})""",
                    (now - (OWNER_TTL_SECONDS if table == "owners" else 0),),
                )
            db.execute("DELETE FROM spend WHERE window < ?", (int(now // self.window) - 1,))
            db.execute("DELETE FROM pauses WHERE until < ?", (now,))
            self._sweep_memory(db, now)

"""The store in one SQLite file: WAL, shared by every gunicorn worker and thread on a host,
kept across restarts.

The owners' heartbeats live in a second file beside it (`*.owners.sqlite3`): a beat writes
only there, so no request's write transaction (nor SQLite's wait for the main file's lock)
can hold a live process's beat back until it looks dead. Requests only read that file, and
WAL readers never wait for a writer. Writers of the main file take turns on a third,
`*.sqlite3.lock` (flock): a waiting worker wakes the moment the lock is free.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .base import OWNER_TTL_SECONDS, Options, Owner
from .sqlite_claims import SQLiteClaims
from .sqlite_memory import SCHEMA as MEMORY_SCHEMA
from .sqlite_memory import SQLiteMemory
from .sqlite_privacy import SCHEMA as PRIVACY_SCHEMA
from .sqlite_privacy import SQLitePrivacy
from .sqlite_turns import SQLiteTurns
from .turns import Turns

SWEEP_BATCH = 5000
# Columns added since the first release, for files written before them.
ADDED = {
    "claims": {
        "owner": "TEXT",
        "event": "TEXT",
        "tries": "INTEGER NOT NULL DEFAULT 0",
        "spent": "INTEGER NOT NULL DEFAULT 0",
        "conversation": "TEXT",
    },
    "turns": {"owner": "TEXT"},
    "conversations": {"told": "INTEGER NOT NULL DEFAULT 0"},
}
INDEXES = """
CREATE INDEX IF NOT EXISTS claims_by_expiry ON claims (expires_at);
CREATE INDEX IF NOT EXISTS claims_unanswered ON claims (claimed_at) WHERE answered_at IS NULL;
CREATE INDEX IF NOT EXISTS turns_by_expiry ON turns (expires_at);
CREATE INDEX IF NOT EXISTS claims_by_conversation ON claims (conversation);
"""
OWNERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS owners (owner TEXT PRIMARY KEY, alive_until REAL NOT NULL);
"""


class SQLiteLedger(Options, Owner, SQLiteTurns, Turns, SQLiteClaims, SQLiteMemory, SQLitePrivacy):
    """The ledger in one SQLite file; each thread keeps its own connections."""

    SCHEMA = (
        """
    CREATE TABLE IF NOT EXISTS claims (
        key TEXT PRIMARY KEY, claimed_at REAL NOT NULL, answered_at REAL, expires_at REAL NOT NULL,
        owner TEXT, event TEXT, tries INTEGER NOT NULL DEFAULT 0, spent INTEGER NOT NULL DEFAULT 0,
        conversation TEXT);
    CREATE TABLE IF NOT EXISTS turns (
        name TEXT NOT NULL, key TEXT NOT NULL, ts INTEGER NOT NULL, holding INTEGER NOT NULL,
        expires_at REAL NOT NULL, owner TEXT, PRIMARY KEY (name, key));
    CREATE TABLE IF NOT EXISTS spend (
        name TEXT NOT NULL, window INTEGER NOT NULL, count INTEGER NOT NULL,
        PRIMARY KEY (name, window));
    CREATE TABLE IF NOT EXISTS pauses (name TEXT PRIMARY KEY, until REAL NOT NULL);
    """
        + MEMORY_SCHEMA
        + PRIVACY_SCHEMA
    )

    def __init__(self, path: str, **options: Any) -> None:
        """`options`: see base.Options."""
        self.path = path
        stem, suffix = os.path.splitext(path)
        self.owners_path = f"{stem}.owners{suffix or '.sqlite3'}"
        self._options(**options)
        self._watch_turns()
        # One connection per process to each file, its threads taking turns on it.
        self._writing = threading.RLock()  # the main file's; re-entered inside a transaction
        self._owning = threading.Lock()  # the owners' file's: a beat never waits for a write
        self._files: dict[str, tuple[int, sqlite3.Connection]] = {}
        self._depth, self._lock_fd, self._lock_pid = 0, -1, 0
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        with self._reading() as db:
            db.executescript(self.SCHEMA)
            for table, columns in ADDED.items():
                have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                for column, kind in columns.items():
                    if column not in have:
                        db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
            db.executescript(INDEXES)
        with self._owners() as db:
            db.executescript(OWNERS_SCHEMA)

    def _open(self, path: str) -> sqlite3.Connection:
        """A connection in WAL mode that waits up to 3 s for a lock, used by one thread at a
        time (the caller holds the file's lock)."""
        db = sqlite3.connect(path, timeout=3, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    def _file(self, path: str) -> sqlite3.Connection:
        """This process's connection to `path` (a forked worker opens its own). One per
        process, not one per thread: a connection compiles each statement once and keeps it,
        and a fresh one costs 1.2 ms more per message; a worker's 100-odd threads would each
        pay it for their first few messages (docs/benchmark-cost.md). They take turns on it, as
        they take turns to write anyway."""
        pid, db = self._files.get(path, (0, None))
        if pid != os.getpid() or db is None:
            db = self._open(path)
            self._files[path] = (os.getpid(), db)
        return db

    @contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        """The main file's connection, for reads. The connection is the process's one, so a
        read takes its turn with this process's writers (and so waits while one of them waits
        for the lock file); another process's write never holds it back (WAL)."""
        with self._writing:
            yield self._file(self.path)

    def _one(self, sql: str, params: Any) -> Any:
        """One row of a read, or None."""
        with self._reading() as db:
            return db.execute(sql, params).fetchone()

    @contextmanager
    def _owners(self) -> Iterator[sqlite3.Connection]:
        """The owners' file's connection."""
        with self._owning:
            yield self._file(self.owners_path)

    def _alive(self, owners: set[str], now: float) -> set[str]:
        """Which of `owners` beat recently (a read of the owners' file: never waits for a
        write of the main file)."""
        owners.discard(None)
        if not owners:
            return set()
        marks = ",".join("?" * len(owners))
        with self._owners() as db:
            rows = db.execute(
                f"SELECT owner FROM owners WHERE owner IN ({marks}) AND alive_until > ?",
                (*owners, now),
            ).fetchall()
        return {row[0] for row in rows}

    @contextmanager
    def _turn_to_write(self) -> Iterator[None]:
        """This host's writers take turns: the threads of a process on a lock, the processes
        on the lock file. Left to SQLite's busy handler, the waiters would sleep in steps of
        up to 100 ms while the lock is free most of that time (a burst's 200s late)."""
        with self._writing:
            self._depth += 1
            try:
                if self._depth == 1:
                    fcntl.flock(self._lock_file(), fcntl.LOCK_EX)
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    fcntl.flock(self._lock_file(), fcntl.LOCK_UN)

    def _lock_file(self) -> int:
        """This process's own descriptor of the lock file (a forked worker opens its own: a
        descriptor shared with the master would share its lock)."""
        if self._lock_pid != os.getpid():
            self._lock_fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
            self._lock_pid = os.getpid()
        return self._lock_fd

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """One immediate (write-locked) transaction on the process's connection, in turn."""
        with self._turn_to_write():
            db = self._file(self.path)
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
        with self._turn_to_write():
            return self._file(self.path).execute(sql, params).fetchone()

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

    def pause(self, name: str, seconds: float, since: float | None = None) -> None:
        """Quiet until `since` (default now) + seconds (a later pause extends it)."""
        self._write(
            """INSERT INTO pauses (name, until) VALUES (?, ?)
               ON CONFLICT (name) DO UPDATE SET until = max(until, excluded.until)""",
            (name, (self.clock() if since is None else since) + seconds),
        )

    def paused_until(self, name: str) -> float | None:
        """A read only."""
        row = self._one(
            "SELECT until FROM pauses WHERE name = ? AND until > ?", (name, self.clock())
        )
        return row[0] if row else None

    def resume(self, name: str) -> None:
        """The pause row goes."""
        self._write("DELETE FROM pauses WHERE name = ?", (name,))

    def spent(self, name: str) -> int:
        """A read only."""
        window = int(self.clock() // self.window)
        row = self._one("SELECT count FROM spend WHERE name = ? AND window = ?", (name, window))
        return row[0] if row else 0

    def _beat(self, owner: str) -> None:
        """This process is alive for OWNER_TTL_SECONDS more: a write to the owners' file only,
        outside the process's turn-taking for the main file."""
        with self._owners() as db:
            db.execute(
                """INSERT INTO owners (owner, alive_until) VALUES (?, ?)
                   ON CONFLICT (owner) DO UPDATE SET alive_until = excluded.alive_until""",
                (owner, self.clock() + OWNER_TTL_SECONDS),
            )

    def _sweep(self) -> None:
        """Drop what expired, SWEEP_BATCH rows at a time, each table by an index: claims,
        turns whose lease ran out (the same rule as Redis's key expiry), spend windows,
        pauses, conversations, owners."""
        now = self.clock()
        with self._db() as db:
            for table in ("claims", "turns"):
                db.execute(
                    f"""DELETE FROM {table} WHERE rowid IN (
                        SELECT rowid FROM {table} WHERE expires_at < ? LIMIT {SWEEP_BATCH})""",
                    (now,),
                )
            db.execute("DELETE FROM spend WHERE window < ?", (int(now // self.window) - 1,))
            db.execute("DELETE FROM pauses WHERE until < ?", (now,))
            db.execute("DELETE FROM deletions WHERE expires_at < ?", (now,))
            db.execute("DELETE FROM sent WHERE expires_at < ?", (now,))
            self._sweep_memory(db, now)
        with self._owners() as db:
            db.execute("DELETE FROM owners WHERE alive_until < ?", (now - OWNER_TTL_SECONDS,))

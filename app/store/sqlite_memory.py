"""The conversation transcript and the Conversations API allowance, in the SQLite store."""

from __future__ import annotations

from collections.abc import Sequence

from .base import READ_WINDOW_SECONDS, Entry, Transcript

SCHEMA = """
CREATE TABLE IF NOT EXISTS transcript (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, conversation TEXT NOT NULL, id TEXT NOT NULL,
    at REAL NOT NULL, from_page INTEGER NOT NULL, text TEXT NOT NULL,
    UNIQUE (conversation, id));
CREATE INDEX IF NOT EXISTS transcript_by_time ON transcript (conversation, at);
CREATE TABLE IF NOT EXISTS conversations (
    conversation TEXT PRIMARY KEY, known INTEGER NOT NULL, expires_at REAL NOT NULL,
    told INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS conversations_by_expiry ON conversations (expires_at);
CREATE TABLE IF NOT EXISTS reads (page TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS reads_by_page ON reads (page, at);
CREATE TABLE IF NOT EXISTS read_holds (page TEXT PRIMARY KEY, until REAL NOT NULL);
"""


class SQLiteMemory:
    """Mixed into the SQLite store: uses its connection, write transaction and clock."""

    keep: int
    max_age: float
    reads_per_second: int

    def remember(self, conversation: str, entries: Sequence[Entry], known: bool = False) -> None:
        """Insert new ids, keep the newest `keep`, and push the conversation's expiry on."""
        with self._db() as db:
            self._keep(db, conversation, entries, known, self.clock())

    def _keep(
        self, db, conversation: str, entries: Sequence[Entry], known: bool, now: float
    ) -> tuple[bool, bool]:
        """remember()'s statements, inside the caller's transaction; what the conversation
        then is: known (read from Graph once), and told it talks to an AI."""
        row = db.execute(
            "SELECT known, expires_at, told FROM conversations WHERE conversation = ?",
            (conversation,),
        ).fetchone()
        alive = row is not None and row[1] >= now
        if row is not None and not alive:  # expired: start afresh, unknown again
            db.execute("DELETE FROM transcript WHERE conversation = ?", (conversation,))
        db.executemany(
            """INSERT INTO transcript (conversation, id, at, from_page, text)
               VALUES (?, ?, ?, ?, ?) ON CONFLICT (conversation, id) DO NOTHING""",
            [(conversation, e.id, e.at, int(e.from_page), e.text) for e in entries],
        )
        db.execute(
            """DELETE FROM transcript WHERE conversation = :c AND seq NOT IN (
                   SELECT seq FROM transcript WHERE conversation = :c
                   ORDER BY at DESC, seq DESC LIMIT :keep)""",
            {"c": conversation, "keep": self.keep},
        )
        db.execute(
            """INSERT INTO conversations (conversation, known, expires_at)
               VALUES (:c, :known, :until)
               ON CONFLICT (conversation) DO UPDATE
               SET known = max(excluded.known, CASE WHEN :alive THEN known ELSE 0 END),
                   told = CASE WHEN :alive THEN told ELSE 0 END,
                   expires_at = excluded.expires_at""",
            {"c": conversation, "known": int(known), "until": now + self.max_age, "alive": alive},
        )
        return known or (alive and bool(row[0])), alive and bool(row[2])

    def transcript(self, conversation: str) -> Transcript:
        """A read only: the entries oldest first, when the conversation has not expired."""
        with self._reading() as db:
            return self._transcript(db, conversation, self.clock())

    def _transcript(
        self, db, conversation: str, now: float, kept: tuple[bool, bool] | None = None
    ) -> Transcript:
        """transcript()'s statements, on the caller's connection. In arrive's transaction the
        conversation was just kept, so `kept` (known, told) is given and not read again."""
        if kept is None:
            row = db.execute(
                """SELECT known, told FROM conversations
                   WHERE conversation = ? AND expires_at >= ?""",
                (conversation, now),
            ).fetchone()
            if row is None:
                return Transcript()
            kept = bool(row[0]), bool(row[1])
        rows = db.execute(
            """SELECT id, text, from_page, at FROM transcript WHERE conversation = ?
               ORDER BY at, seq""",
            (conversation,),
        ).fetchall()
        entries = [Entry(i, text, bool(page), at) for i, text, page, at in rows]
        return Transcript(entries, *kept)

    def forget(self, conversation: str) -> None:
        """Drop the conversation's entries; it is unknown again."""
        with self._db() as db:
            db.execute("DELETE FROM transcript WHERE conversation = ?", (conversation,))
            db.execute("DELETE FROM conversations WHERE conversation = ?", (conversation,))

    def allow_read(self, page: str, longest: float) -> str | None:
        """At most `reads_per_second` places per page; a row's `at` is when its place frees:
        the longest the call may last while it is under way, its end once it ended."""
        now = self.clock()
        with self._db() as db:
            held = db.execute(
                "SELECT 1 FROM read_holds WHERE page = ? AND until > ?", (page, now)
            ).fetchone()
            if held or self.reads_per_second <= 0:
                return None
            free = now - READ_WINDOW_SECONDS
            db.execute("DELETE FROM reads WHERE page = ? AND at <= ?", (page, free))
            (used,) = db.execute("SELECT count(*) FROM reads WHERE page = ?", (page,)).fetchone()
            if used >= self.reads_per_second:
                return None
            row = db.execute(
                "INSERT INTO reads (page, at) VALUES (?, ?) RETURNING rowid", (page, now + longest)
            ).fetchone()
            return str(row[0])

    def read_done(self, page: str, ticket: str) -> None:
        """The place frees a window after now."""
        self._write(
            "UPDATE reads SET at = min(at, ?) WHERE rowid = ? AND page = ?",
            (self.clock(), int(ticket), page),
        )

    def hold_reads(self, page: str, seconds: float) -> None:
        """No reads for the page until now + seconds (a longer hold wins)."""
        self._write(
            """INSERT INTO read_holds (page, until) VALUES (?, ?)
               ON CONFLICT (page) DO UPDATE SET until = max(until, excluded.until)""",
            (page, self.clock() + seconds),
        )

    def _sweep_memory(self, db, now: float) -> None:
        """Drop expired conversations with their entries (called from the store's sweep)."""
        db.execute(
            """DELETE FROM transcript WHERE conversation IN (
                   SELECT conversation FROM conversations WHERE expires_at < ?)""",
            (now,),
        )
        db.execute("DELETE FROM conversations WHERE expires_at < ?", (now,))
        db.execute("DELETE FROM read_holds WHERE until < ?", (now,))

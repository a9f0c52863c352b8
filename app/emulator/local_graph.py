"""A Graph API stand-in on loopback, for trying the bot without Facebook.

It serves what the bot calls — the Conversations API, the Send API and sender actions — and
keeps each conversation in SQLite, so history works across turns and restarts. Whatever the
bot sends is also handed to `on_send` (the emulator prints it as it arrives). The emulated
page may have an Instagram account linked, served as Meta serves one: through the page's id
(`/{page}/messages`, `/{page}/conversations?platform=instagram`) with the page's token.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

VERSION = "v26.0"


class Conversations:
    """Every message of every emulated conversation, in one SQLite file."""

    def __init__(self, path: str) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute(
            """CREATE TABLE IF NOT EXISTS messages (
                   seq INTEGER PRIMARY KEY AUTOINCREMENT, page TEXT, person TEXT, id TEXT,
                   sender TEXT, text TEXT, created TEXT)"""
        )

    def add(self, page: str, person: str, mid: str, sender: str, text: str) -> None:
        """Store one message, as Meta does before it calls the webhook or after a send."""
        created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
        with self._lock:
            self._db.execute(
                "INSERT INTO messages (page, person, id, sender, text, created)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (page, person, mid, sender, text, created),
            )

    def latest(self, page: str, person: str, limit: int = 20) -> list[dict]:
        """The newest messages first, shaped as the Conversations API lists them."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, sender, text, created FROM messages WHERE page = ? AND person = ?"
                " ORDER BY seq DESC LIMIT ?",
                (page, person, limit),
            ).fetchall()
        return [
            {"id": mid, "message": text, "from": {"id": sender}, "created_time": created}
            for mid, sender, text, created in rows
        ]

    def knows(self, account: str, person: str) -> bool:
        """Whether the person has a conversation with this account (Meta knows which thread a
        scoped id belongs to: a PSID is the page's, an IGSID the Instagram account's)."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM messages WHERE page = ? AND person = ? LIMIT 1", (account, person)
            ).fetchone()
        return row is not None

    def clear(self, page: str, person: str) -> None:
        """Forget one conversation (the emulator's /reset)."""
        with self._lock:
            self._db.execute("DELETE FROM messages WHERE page = ? AND person = ?", (page, person))

    def count(self, page: str, person: str) -> int:
        """How many messages the conversation holds."""
        with self._lock:
            (n,) = self._db.execute(
                "SELECT count(*) FROM messages WHERE page = ? AND person = ?", (page, person)
            ).fetchone()
        return n


class JsonHandler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1 answering JSON in one write: no Nagle/delayed-ACK stall."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = 1 << 16

    def log_message(self, *args) -> None:
        """Quiet: callers print what matters."""

    def _answer(self, status: int, body: object) -> None:
        """One JSON response."""
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _Handler(JsonHandler):
    graph: LocalGraph

    def do_GET(self) -> None:
        """GET /{version}/{page}/conversations?user_id=PSID (platform=instagram: the linked
        account's thread), and /{version}/me (the page, and its linked Instagram account)."""
        url = urlparse(self.path)
        parts = url.path.strip("/").split("/")
        if parts[1:] == ["me"]:
            return self._answer(200, self.graph.me())
        if len(parts) != 3 or parts[2] != "conversations":
            return self._answer(404, {"error": {"code": 803, "message": "unknown path"}})
        query = parse_qs(url.query)
        person = query.get("user_id", [""])[0]
        account = parts[1]
        if query.get("platform") == ["instagram"] and account == self.graph.page_id:
            account = self.graph.instagram_id or account
        listed = self.graph.conversations.latest(account, person)
        self._answer(200, {"data": [{"id": "t_local", "messages": {"data": listed}}]})

    def do_POST(self) -> None:
        """POST /{version}/{page}/messages: a reply or a sender action; and
        /{version}/{page}/pass_thread_control: the bot hands the person to the team (taken, as
        by a page with Conversation Routing set up)."""
        parts = urlparse(self.path).path.strip("/").split("/")
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._answer(400, {"error": {"code": 100, "message": "invalid JSON"}})
        if len(parts) == 3 and parts[2] == "pass_thread_control" and isinstance(body, dict):
            return self._answer(200, {"success": True})
        if len(parts) != 3 or parts[2] != "messages" or not isinstance(body, dict):
            return self._answer(404, {"error": {"code": 803, "message": "unknown path"}})
        page, person = parts[1], str((body.get("recipient") or {}).get("id", ""))
        self._answer(200, self.graph.receive(page, person, body))


class LocalGraph:
    """The stand-in server: start() it, point FB_GRAPH_API_URL at `url`, stop() it."""

    def __init__(
        self,
        store_path: str,
        on_send: Callable[[str, str, dict], None],
        page_id: str,
        instagram_id: str = "",
    ) -> None:
        """`on_send` sees every Send API call; `instagram_id`: the account linked to the page."""
        self.page_id = page_id
        self.instagram_id = instagram_id  # the Instagram account linked to the page, if any
        self.conversations = Conversations(store_path)
        self.on_send = on_send
        handler = type("Handler", (_Handler,), {"graph": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True

    @property
    def url(self) -> str:
        """The Graph base URL, version included."""
        return f"http://127.0.0.1:{self._server.server_port}/{VERSION}"

    def start(self) -> LocalGraph:
        """Serve in a background thread."""
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()

    def me(self) -> dict:
        """The token's page, as `GET /me?fields=id,instagram_business_account` answers it."""
        page = {"id": self.page_id, "name": "Emulated Page"}
        if self.instagram_id:
            page["instagram_business_account"] = {"id": self.instagram_id}
        return page

    def receive(self, page: str, person: str, body: dict) -> dict:
        """Record a reply in the person's thread (the page's, or its linked Instagram
        account's) and pass any call on to `on_send`."""
        account = page
        linked = self.instagram_id
        if page == self.page_id and linked and self.conversations.knows(linked, person):
            account = linked
        message = body.get("message")
        if isinstance(message, dict) and isinstance(message.get("text"), str):
            mid = f"m_local_{uuid.uuid4().hex[:16]}"
            self.conversations.add(account, person, mid, account, message["text"])
            self.on_send(page, person, body)
            return {"recipient_id": person, "message_id": mid}
        self.on_send(page, person, body)
        return {"recipient_id": person}

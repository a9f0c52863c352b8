"""The duties reference: the floor plus only what this product must do for every message.

Run by the bench like any checkout (`--service-dir bench/duties`). On top of the floor
(`bench/floor/`: signature, one model call with the openai SDK, one send with `requests`) it
does, in the most direct way this stack allows, each duty the product cannot drop:

- keep & claim before the 200 (a 200 promises a reply; a redelivery must not make a second
  one): one store round trip that claims the message, keeps the event and reads the person's
  conversation;
- give the model the conversation (the history is the product) and the hand-over tool;
- acknowledge within 4 s (Meta's five seconds): the reply is made on a reply thread while the
  request waits for it, so a slow one can go on after the 200;
- settle after the send: one round trip that marks the message answered and keeps both turns;
- one log line per message.

No turns, recovery, typing indicator, rendering, Graph history, metrics, canned replies or
spend: what this reference costs beyond the floor is what the duties cost on this machine, and
what the service costs beyond this reference is the rest (docs/benchmark.md, "The floor").
"""

import hashlib
import hmac
import json
import logging
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor, wait

import openai
import redis
import requests
from flask import Flask, request

app = Flask(__name__)
SECRET = os.environ["FB_APP_SECRET"].encode()
GRAPH = os.environ["FB_GRAPH_API_URL"]
TOKEN = os.environ["FB_PAGE_ACCESS_TOKEN"]
HISTORY = int(os.environ.get("HISTORY_MESSAGES") or 20)
ACK_SECONDS = 4.0
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "hand_to_person",
            "description": "Hand this conversation to a person on the business's team.",
            "parameters": {
                "type": "object",
                "properties": {"reason": {"type": "string"}},
                "required": ["reason"],
            },
        },
    }
]
model = openai.OpenAI(
    base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"], timeout=15
)
replies = ThreadPoolExecutor(int(os.environ.get("WEB_THREADS") or 128))
local = threading.local()
logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
log = logging.getLogger("duties")


class SqliteStore:
    """Claims and conversations in one SQLite file (WAL), a connection per thread."""

    def __init__(self, path: str) -> None:
        self.path = path
        with self._db() as db:
            db.execute("CREATE TABLE IF NOT EXISTS claims (mid TEXT PRIMARY KEY, event TEXT, done)")
            db.execute("CREATE TABLE IF NOT EXISTS turns (person TEXT, role TEXT, text TEXT)")
            db.execute("CREATE INDEX IF NOT EXISTS turns_person ON turns (person)")

    def _db(self) -> sqlite3.Connection:
        if not hasattr(local, "db"):
            local.db = sqlite3.connect(self.path, timeout=5, isolation_level=None)
            local.db.execute("PRAGMA journal_mode=WAL")
            local.db.execute("PRAGMA synchronous=NORMAL")
        return local.db

    def claim(self, mid: str, person: str, event: str) -> list[dict] | None:
        db = self._db()
        with db:
            db.execute("BEGIN IMMEDIATE")
            new = db.execute("INSERT OR IGNORE INTO claims VALUES (?, ?, 0)", (mid, event)).rowcount
            rows = db.execute(
                "SELECT role, text FROM turns WHERE person = ? ORDER BY rowid DESC LIMIT ?",
                (person, HISTORY),
            ).fetchall()
        return [{"role": r, "content": t} for r, t in reversed(rows)] if new else None

    def settle(self, mid: str, person: str, said: str, answer: str) -> None:
        db = self._db()
        with db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("UPDATE claims SET done = 1 WHERE mid = ?", (mid,))
            db.executemany(
                "INSERT INTO turns VALUES (?, ?, ?)",
                [(person, "user", said), (person, "assistant", answer)],
            )


class RedisStore:
    """Claims and conversations in Redis, one pipeline per round trip."""

    def __init__(self, url: str) -> None:
        self.redis = redis.Redis.from_url(url, decode_responses=True)

    def claim(self, mid: str, person: str, event: str) -> list[dict] | None:
        pipe = self.redis.pipeline()
        pipe.set(f"claim:{mid}", event, nx=True, ex=86400)
        pipe.lrange(f"turns:{person}", -HISTORY, -1)
        new, rows = pipe.execute()
        return [json.loads(r) for r in rows] if new else None

    def settle(self, mid: str, person: str, said: str, answer: str) -> None:
        pipe = self.redis.pipeline()
        pipe.set(f"done:{mid}", 1, ex=86400)
        pipe.rpush(
            f"turns:{person}",
            json.dumps({"role": "user", "content": said}),
            json.dumps({"role": "assistant", "content": answer}),
        )
        pipe.ltrim(f"turns:{person}", -HISTORY, -1)
        pipe.execute()


store = (
    RedisStore(os.environ["REDIS_URL"])
    if os.environ.get("REDIS_URL")
    else SqliteStore(os.environ.get("LEDGER_PATH") or "duties.sqlite3")
)


def graph() -> requests.Session:
    """One keep-alive session per thread, as in the floor."""
    if not hasattr(local, "session"):
        local.session = requests.Session()
    return local.session


def answer(page: str, person: str, mid: str, text: str, history: list[dict]) -> None:
    """Model, send, settle, log: on a reply thread, so the 200 need not wait past 4 s."""
    started = time.monotonic()
    reply = model.chat.completions.create(
        model=os.environ.get("OPENAI_MODEL", "gpt-6-luna"),
        messages=[*history, {"role": "user", "content": text}],
        max_completion_tokens=512,
        tools=TOOLS,
    )
    content = reply.choices[0].message.content or ""
    graph().post(
        f"{GRAPH}/{page}/messages",
        params={"access_token": TOKEN},
        json={
            "recipient": {"id": person},
            "messaging_type": "RESPONSE",
            "message": {"text": content},
        },
        timeout=10,
    )
    store.settle(mid, person, text, content)
    log.info("answered mid=%s in %.3fs", mid[-8:], time.monotonic() - started)


@app.get("/healthz")
def healthz():
    """The bench waits for this before it drives."""
    return "ok"


@app.post("/webhook")
def webhook():
    """Verify, keep & claim every text message, answer on reply threads, wait at most 4 s."""
    arrived = time.monotonic()
    body = request.get_data()
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(request.headers.get("X-Hub-Signature-256", ""), expected):
        return "bad signature", 403
    started = []
    for entry in json.loads(body)["entry"]:
        for event in entry.get("messaging", []):
            message = event.get("message", {})
            if not message.get("text"):
                continue
            person, mid = event["sender"]["id"], message["mid"]
            history = store.claim(mid, person, json.dumps(event))
            if history is None:
                log.info("already claimed mid=%s", mid[-8:])
                continue
            reply = replies.submit(answer, entry["id"], person, mid, message["text"], history)
            started.append(reply)
    wait(started, timeout=max(0.0, ACK_SECONDS - (time.monotonic() - arrived)))
    return "EVENT_RECEIVED"

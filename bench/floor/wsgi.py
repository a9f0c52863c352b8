"""The floor: what the platform and the design card's stack cost with nothing of ours.

Run by the bench like any checkout (`--service-dir bench/floor`): Flask behind gunicorn's
gthread workers checks the signature, parses the body, makes one model call with the openai
SDK and one send with `requests`. No ledger, no history, no typing indicator, no dedup: a row
run against it shows the best latency and efficiency any service built on this stack can reach
on the machine, under the same load (docs/benchmark.md, "The floor").
"""

import hashlib
import hmac
import json
import os
import threading

import openai
import requests
from flask import Flask, request

app = Flask(__name__)
SECRET = os.environ["FB_APP_SECRET"].encode()
GRAPH = os.environ["FB_GRAPH_API_URL"]
TOKEN = os.environ["FB_PAGE_ACCESS_TOKEN"]
model = openai.OpenAI(
    base_url=os.environ["OPENAI_BASE_URL"], api_key=os.environ["OPENAI_API_KEY"], timeout=15
)
sessions = threading.local()


def graph() -> requests.Session:
    """One keep-alive session per thread, as the service keeps one pool per worker."""
    if not hasattr(sessions, "session"):
        sessions.session = requests.Session()
    return sessions.session


@app.get("/healthz")
def healthz():
    """The bench waits for this before it drives."""
    return "ok"


@app.post("/webhook")
def webhook():
    """Verify, then answer every text message inline: one model call, one send."""
    body = request.get_data()
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(request.headers.get("X-Hub-Signature-256", ""), expected):
        return "bad signature", 403
    for entry in json.loads(body)["entry"]:
        for event in entry.get("messaging", []):
            text = event.get("message", {}).get("text")
            if not text:
                continue
            answer = model.chat.completions.create(
                model=os.environ.get("OPENAI_MODEL", "gpt-6-luna"),
                messages=[{"role": "user", "content": text}],
                max_completion_tokens=512,
            )
            graph().post(
                f"{GRAPH}/{entry['id']}/messages",
                params={"access_token": TOKEN},
                json={
                    "recipient": {"id": event["sender"]["id"]},
                    "messaging_type": "RESPONSE",
                    "message": {"text": answer.choices[0].message.content},
                },
                timeout=10,
            )
    return "EVENT_RECEIVED"

"""A model that needs no network: it says what it received, clearly labelled as offline.

It sits behind the real openai SDK (as an httpx2 transport), so with it every stage of the
pipeline runs as in production — only the answer is not intelligent.
"""

from __future__ import annotations

import json
import time

import httpx2
import openai

LABEL = "[offline model]"


def _answer(request: httpx2.Request) -> httpx2.Response:
    """Describe the chat request instead of answering it."""
    body = json.loads(request.content)
    messages = body.get("messages", [])
    earlier = [m for m in messages[:-1] if m.get("role") != "system"]
    last = messages[-1]["content"] if messages else ""
    if isinstance(last, list):
        kinds = [part.get("type") for part in last]
        texts = [part.get("text", "") for part in last if part.get("type") == "text"]
        last = " ".join(texts) + f" (+{kinds.count('image_url')} image)"
    text = (
        f"{LABEL} I received {len(earlier)} earlier message(s) and your message: {last!r}. "
        "Set OPENAI_API_KEY for real answers."
    )
    completion = {
        "id": "chatcmpl-offline",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "offline",
        "choices": [
            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
        ],
    }
    return httpx2.Response(200, json=completion, headers={"x-request-id": "offline"})


def client() -> openai.OpenAI:
    """An openai SDK client whose every call is answered locally."""
    return openai.OpenAI(
        api_key="offline",
        base_url="http://offline.invalid/v1",
        max_retries=0,
        http_client=httpx2.Client(transport=httpx2.MockTransport(_answer)),
    )

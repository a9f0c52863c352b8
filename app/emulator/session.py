"""A local Messenger (or Instagram Direct): each line typed becomes a signed webhook event on
the real request path.

In-process by default: the bot's own app, with its Graph calls pointed at a local Graph
stand-in (`local_graph.py`) that keeps the conversation in SQLite under the instance
folder. With a URL, events go to a running or deployed instance instead (a smoke test).
The model is the configured one when OPENAI_API_KEY is set; otherwise the offline responder.
As an Instagram person the events are `object: "instagram"` ones for an Instagram account linked
to the emulated page, answered through the page as Meta does (in parts of at most 1000 bytes).
"""

from __future__ import annotations

import json
import os
import secrets
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import requests

import config as settings_module

from ..outcome import HANDOVER, Outcome
from ..signature import sign
from .local_graph import LocalGraph

PAGE_ID = "100000000000001"
PERSON_ID = "200000000000002"
INSTAGRAM_ID = "17841400000003"  # the Instagram account linked to the emulated page
INSTAGRAM_PERSON_ID = "5600000000000004"  # an IGSID
CONTINUED = "\n     "  # a reply part's further lines, under its "bot> "
PAGE_TOKEN = "emulator-page-token"
OFFLINE_KEYS = ("", "offline")


def settings_without_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings for a machine with no .env: local secrets made up now, the offline model."""
    env = dict(environ)
    made_up = {
        "FB_APP_SECRET": secrets.token_hex(16),
        "FB_VERIFY_TOKEN": secrets.token_hex(8),
        "FB_PAGE_ACCESS_TOKEN": PAGE_TOKEN,
        "OPENAI_API_KEY": "offline",
    }
    for name, value in made_up.items():
        if not env.get(name, "").strip():  # unset, or left empty as in .env.example
            env[name] = value
    return settings_module.load(env)


def is_offline(settings: Mapping[str, Any]) -> bool:
    """No model key: the offline responder answers."""
    return settings.get("OPENAI_API_KEY", "") in OFFLINE_KEYS


class Emulator:
    """Turns typed lines into webhook events and shows what the bot sends back."""

    def __init__(
        self,
        settings: Mapping[str, Any],
        instance_path: str,
        show: Callable[[str], None],
        *,
        url: str | None = None,
        instagram: bool = False,
    ) -> None:
        """`instagram`: talk as an Instagram person to the account linked to the page."""
        os.makedirs(instance_path, exist_ok=True)
        self.show = show
        self.url = url
        self.instagram = instagram
        self.account = INSTAGRAM_ID if instagram else PAGE_ID
        self.person = INSTAGRAM_PERSON_ID if instagram else PERSON_ID
        self.graph = LocalGraph(
            os.path.join(instance_path, "emulator.sqlite3"),
            self._sent,
            page_id=PAGE_ID,
            instagram_id=INSTAGRAM_ID,
        )
        self.graph.start()
        self.settings = self._settings(settings, instance_path)
        self.app = None if url else self._app()
        self.client = self.app.test_client() if self.app else None
        self.last: Outcome | None = None  # what became of the last message (--verbose)
        if self.app is not None:
            self.app.extensions["messenger"].record.listeners.append(self._outcome)

    def _settings(self, settings: Mapping[str, Any], instance_path: str) -> dict[str, Any]:
        """The bot's settings, pointed at the local Graph; never a real page or Instagram
        account."""
        names = (*settings_module.REQUIRED, *settings_module.OPTIONAL)
        local = {name: settings.get(name) for name in names}
        local.update(
            FB_GRAPH_API_URL=self.graph.url,
            FB_PAGE_ACCESS_TOKEN=PAGE_TOKEN,
            FB_PAGE_TOKENS=None,
            INSTAGRAM_ACCOUNTS=None,
            INSTAGRAM_GRAPH_API_URL=self.graph.url,
            FB_APP_ID="emulator",
            REDIS_URL=None,
            LEDGER_PATH=os.path.join(instance_path, "emulator-ledger.sqlite3"),
        )
        return local

    def _app(self):
        """The bot itself, in this process, with the offline model when there is no key."""
        from .. import create_app
        from . import offline_model

        client = offline_model.client() if is_offline(self.settings) else None
        return create_app(self.settings, openai_client=client)

    def close(self) -> None:
        """Stop the local Graph and the bot's store heartbeat: the bot ends with the session
        (in a process that goes on, a test's, it would beat into a file already gone)."""
        if self.app is not None:
            self.app.extensions["messenger"].ledger.store.stop_heartbeat()
        self.graph.stop()

    def _outcome(self, event, outcome: Outcome) -> None:
        """The bot's outcome of an event (the pipeline tells its listeners)."""
        if event.from_person:
            self.last = outcome
        if outcome.kind == HANDOVER:
            self.show(f"  [handed to a person: {outcome.note}]")

    def _sent(self, page: str, person: str, body: dict) -> None:
        """The bot called the Send API: show it as it arrives, each message (each part of a
        split reply) on a "bot> " line of its own, its further lines indented under it."""
        if "sender_action" in body:
            if body["sender_action"] == "typing_on":
                self.show("  (typing…)")
            return
        self.show("bot> " + body["message"]["text"].replace("\n", CONTINUED))

    def history(self) -> str:
        """How many earlier messages the last reply was made with, and where they came from
        (the store, Graph, or none); empty when not known."""
        last = self.last
        if last is None or last.history is None:
            return ""
        return f"{last.history} earlier messages from {last.history_from}"

    def reset(self) -> None:
        """Start the conversation afresh: in the local Graph and in the bot's store."""
        self.graph.conversations.clear(self.account, self.person)
        if self.app is not None:
            self.app.extensions["messenger"].ledger.forget(f"{self.account}:{self.person}")

    def text(self, words: str) -> int:
        """The person writes."""
        mid = _mid()
        self.graph.conversations.add(self.account, self.person, mid, self.person, words)
        return self._deliver({"message": {"mid": mid, "text": words}})

    def image(self, url: str) -> int:
        """The person sends a photo."""
        mid = _mid()
        self.graph.conversations.add(self.account, self.person, mid, self.person, "")
        attachment = {"type": "image", "payload": {"url": url}}
        return self._deliver({"message": {"mid": mid, "attachments": [attachment]}})

    def postback(self, payload: str) -> int:
        """The person taps a button whose payload (and title) is `payload`."""
        return self._deliver({"postback": {"mid": _mid(), "title": payload, "payload": payload}})

    def _deliver(self, content: dict) -> int:
        """Sign the event like Meta and POST it; return the webhook's status."""
        event = {
            "sender": {"id": self.person},
            "recipient": {"id": self.account},
            "timestamp": int(time.time() * 1000),
            **content,
        }
        kind = "instagram" if self.instagram else "page"
        body = {"object": kind, "entry": [{"id": self.account, "time": event["timestamp"]}]}
        body["entry"][0]["messaging"] = [event]
        raw = json.dumps(body).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign(raw, self.settings["FB_APP_SECRET"]),
        }
        if self.client is not None:
            return self.client.post("/webhook", data=raw, headers=headers).status_code
        return requests.post(self.url, data=raw, headers=headers, timeout=30).status_code


def _mid() -> str:
    """A message id in Meta's style."""
    return f"m_{uuid.uuid4().hex}"

"""Meta's Data Deletion Request Callback, past its HTTP layer (app/deletion.py): match the
app-scoped id Meta sends to the conversations we keep, erase them, and keep the request's
status under a confirmation code.

The id is app-scoped (an ASID), not the page-scoped id (PSID) our conversations are kept
under, and Meta documents no way from one to the other for Messenger any more: Graph's id
matching (`/{asid}/ids_for_pages`) is asked once, and the status says whether it answered.
A request is recorded and confirmed whatever matched: Meta asks for a status, not a refusal.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from .facebook import GraphClient, GraphError
from .store import Ledger

log = logging.getLogger(__name__)

MATCH_SECONDS = 3.0


class Erasure:
    """Answers Meta's deletion requests."""

    def __init__(self, graph: GraphClient, ledger: Ledger, clock=time.time) -> None:
        self.graph = graph
        self.ledger = ledger
        self.clock = clock

    def request(self, user_id: str) -> tuple[str, dict[str, Any]]:
        """Erase what can be matched to `user_id`; record and return the confirmation code
        and the status (StoreUnavailable when the status cannot be kept)."""
        matched, how = self._match(user_id)
        for conversation in matched:
            self.ledger.erase(conversation)
        status = {
            "received": datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "matched": len(matched),
            "how": how,
        }
        code = secrets.token_hex(10)
        self.ledger.record_deletion(code, json.dumps(status))
        log.warning("data deletion request %s: %d conversations erased", code, len(matched))
        return code, status

    def status(self, code: str) -> dict[str, Any] | None:
        """A recorded request's status, by its code."""
        raw = self.ledger.deletion(code)
        return json.loads(raw) if raw else None

    def _match(self, user_id: str) -> tuple[list[str], str]:
        """The conversations Graph's id matching names for this user, and how it went."""
        if not user_id.isdigit():
            return [], "the request named no user id"
        found: list[str] = []
        for page in self.graph.accounts.pages or [None]:
            try:
                answer = self.graph.api(
                    "GET", f"/{user_id}/ids_for_pages", page_id=page, seconds=MATCH_SECONDS
                )
            except GraphError as exc:
                return found, f"Graph's id matching did not answer ({exc})"
            for item in answer.get("data", []) if isinstance(answer, dict) else []:
                psid = str(item.get("id", ""))
                account = str((item.get("page") or {}).get("id", "") or page or "")
                if psid.isdigit() and account and self.graph.serves(account, 0):
                    found.append(f"{account}:{psid}")
        return found, "Graph's id matching answered"

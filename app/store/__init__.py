"""The store: claims, per-person turns, spend counters, pauses, the conversations' recent
messages and Meta's read allowance, in SQLite or Redis.

`open_ledger(config)` gives the store the configuration asks for, wrapped in the guard.
"""

from __future__ import annotations

from typing import Any

from .base import (
    ANSWERED,
    BUSY,
    LEASE_MARGIN_SECONDS,
    TAKEN,
    Arrival,
    Entry,
    Ledger,
    StoreUnavailable,
    Transcript,
)
from .guard import Guarded
from .sqlite import SQLiteLedger

__all__ = [
    "ANSWERED",
    "BUSY",
    "TAKEN",
    "Arrival",
    "Entry",
    "Guarded",
    "Ledger",
    "SQLiteLedger",
    "StoreUnavailable",
    "Transcript",
    "open_ledger",
]

# Entries kept beyond HISTORY_MESSAGES: a burst's later messages and multi-part replies.
TRANSCRIPT_MARGIN = 10


def open_ledger(config: Any) -> Guarded:
    """The store the configuration asks for: Redis when REDIS_URL is set, else SQLite."""
    options = {
        "lease": config["REQUEST_BUDGET_SECONDS"] + LEASE_MARGIN_SECONDS,
        "ttl": config["LEDGER_TTL_HOURS"] * 3600,
        "window": config["SPEND_WINDOW_MINUTES"] * 60,
        "keep": config["HISTORY_MESSAGES"] + TRANSCRIPT_MARGIN,
        "max_age": config["HISTORY_MAX_AGE_HOURS"] * 3600,
        "reads_per_second": config["GRAPH_CONVERSATIONS_PER_SECOND"],
    }
    if config["REDIS_URL"]:
        from .redis import RedisLedger

        pool = config["REDIS_MAX_CONNECTIONS"]
        return Guarded(RedisLedger(config["REDIS_URL"], max_connections=pool, **options))
    return Guarded(SQLiteLedger(config["LEDGER_PATH"], **options))

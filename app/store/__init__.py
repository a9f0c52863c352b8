"""The store: claims, per-person turns, spend counters and pauses, in SQLite or Redis.

`open_ledger(config)` gives the store the configuration asks for, wrapped in the guard.
"""

from __future__ import annotations

from typing import Any

from .base import LEASE_MARGIN_SECONDS, Ledger
from .guard import Guarded
from .sqlite import SQLiteLedger

__all__ = ["Guarded", "Ledger", "SQLiteLedger", "open_ledger"]


def open_ledger(config: Any) -> Guarded:
    """The store the configuration asks for: Redis when REDIS_URL is set, else SQLite."""
    options = {
        "lease": config["REQUEST_BUDGET_SECONDS"] + LEASE_MARGIN_SECONDS,
        "ttl": config["LEDGER_TTL_HOURS"] * 3600,
        "window": config["SPEND_WINDOW_MINUTES"] * 60,
    }
    if config["REDIS_URL"]:
        from .redis import RedisLedger

        return Guarded(RedisLedger(config["REDIS_URL"], **options))
    return Guarded(SQLiteLedger(config["LEDGER_PATH"], **options))

"""Logging set-up: one line per record, and no secret ever in a line."""

from __future__ import annotations

import logging
from collections.abc import Iterable

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class RedactSecrets(logging.Filter):
    """Masks any configured secret that reaches a log record, wherever it came from."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 6}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        """Render the message once, masked; keep the record."""
        message = record.getMessage()
        masked = message
        for secret in self.secrets:
            masked = masked.replace(secret, "[redacted]")
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def configure(level: str, secrets: Iterable[str]) -> None:
    """Give the root logger one stderr handler that redacts secrets; keep existing handlers."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    redact = RedactSecrets(secrets)
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    for handler in root.handlers:
        handler.filters = [f for f in handler.filters if not isinstance(f, RedactSecrets)]
        handler.addFilter(redact)
    # One line per model call from the HTTP client is noise next to our own line per event.
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    # Werkzeug's request log line carries the query string, where the verify token travels.
    logging.getLogger("werkzeug").addFilter(redact)

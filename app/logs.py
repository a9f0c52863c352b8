"""Logging set-up: one line per record, and no secret ever in a line or a traceback."""

from __future__ import annotations

import logging
from collections.abc import Iterable

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced, longest first (a token may contain a shorter one)."""
    for secret in sorted(
        {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True
    ):
        text = text.replace(secret, "[redacted]")
    return text


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks: messages, arguments and tracebacks alike."""

    def __init__(self, secrets: Iterable[str], fmt: str = FORMAT) -> None:
        super().__init__(fmt)
        self.secrets = list(secrets)

    def format(self, record: logging.LogRecord) -> str:
        """The whole rendered record, masked."""
        return mask(super().format(record), self.secrets)


def configure(level: str, secrets: Iterable[str]) -> None:
    """Give the root logger a stderr handler whose formatter masks every configured secret."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    formatter = RedactingFormatter(secrets)
    for handler in root.handlers:
        handler.setFormatter(formatter)
    # Request URLs and bodies (the full PSID, appsecret_proof, conversation text) appear in
    # these libraries' debug lines; one line per event from us is enough.
    for name in ("httpx2", "urllib3", "openai"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))

"""Logging set-up: one line (or one JSON object) per record, and never a secret, a full person
id or an appsecret_proof in a line or a traceback."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MIN_SECRET_LENGTH = 4  # shorter values would mask ordinary words
# What a library may print of a Graph URL or body: the proof of our secret, and whole ids.
_PROOF = re.compile(r"(appsecret_proof=)[0-9a-fA-F]+")
_PERSON = re.compile(r"((?:user_id=|recipient_id=|\"id\":\s*\")\D{0,3})\d+(\d{4})")


def short_id(person_id: str) -> str:
    """Enough of a PSID to follow one person through the logs, not enough to be the id."""
    return "…" + person_id[-4:] if len(person_id) > 4 else person_id


def mask(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced, longest first (a token may contain a shorter one),
    appsecret_proof values hidden and person ids cut to their last four digits."""
    for secret in sorted(
        {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True
    ):
        text = text.replace(secret, "[redacted]")
    text = _PROOF.sub(r"\1[redacted]", text)
    return _PERSON.sub(r"\1…\2", text)


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks: messages, arguments and tracebacks alike."""

    def __init__(self, secrets: Iterable[str], fmt: str = FORMAT) -> None:
        super().__init__(fmt)
        self.secrets = list(secrets)

    def format(self, record: logging.LogRecord) -> str:
        """The whole rendered record, masked."""
        return mask(super().format(record), self.secrets)


class JsonFormatter(RedactingFormatter):
    """One JSON object per record: time, level, logger, message, and an event line's fields
    (mid, person, kind, outcome, ms) as fields of their own; masked like the text lines."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry = {
            "time": self.formatTime(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "event", {}),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return mask(json.dumps(entry, ensure_ascii=False), self.secrets)


def configure(level: str, secrets: Iterable[str], style: str = "text") -> None:
    """Give the root logger a stderr handler whose formatter masks every configured secret;
    `style` "json" writes one JSON object per line."""
    root = logging.getLogger()
    root.setLevel(level.upper())
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    formatter = JsonFormatter(secrets) if style == "json" else RedactingFormatter(secrets)
    for handler in root.handlers:
        handler.setFormatter(formatter)
    # Request URLs and bodies (the full PSID, appsecret_proof, conversation text) appear in
    # these libraries' debug lines; one line per event from us is enough.
    for name in ("httpx2", "urllib3", "openai"):
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))

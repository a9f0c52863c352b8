"""What erasure and access requests need of either store: a tombstone's key, and what an
export holds."""

from __future__ import annotations

import hashlib

# A year: the status page of a deletion request answers for that long.
DELETION_KEEP_SECONDS = 365 * 24 * 3600.0
# An id we sent is known this long: its echo comes within seconds.
SENT_KEEP_SECONDS = 3600.0


def tombstone(conversation: str) -> str:
    """The key an erasure is remembered under: it names no person, yet the same conversation
    always finds it."""
    return hashlib.sha256(f"erased:{conversation}".encode()).hexdigest()


def message(entry) -> dict[str, str]:
    """A kept message as an export shows it."""
    return {
        "id": entry.id,
        "from": "page" if entry.from_page else "person",
        "text": entry.text,
        "at": entry.created.isoformat(),
    }

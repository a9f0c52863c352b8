"""Splitting a reply into parts the Send API accepts (at most 2000 characters each)."""

from __future__ import annotations

import re

LIMIT = 2000

# Paragraphs, then sentences, then words: each pattern keeps its separator with the piece
# before it, so joining the pieces gives back the text unchanged.
_LEVELS = (
    re.compile(r".+?(?:\n\s*\n|$)", re.S),
    re.compile(r".+?(?:[.!?…。！？]+[\"')\]]*\s+|\n|$)", re.S),
    re.compile(r"\S*\s+|\S+$"),
)


def split(text: str, limit: int = LIMIT) -> list[str]:
    """Cut text at paragraph, then sentence, then word boundaries into parts of <= limit chars."""
    text = text.strip()
    if not text:
        return []
    return [part for part in (p.strip() for p in _split(text, limit, 0)) if part]


def _split(text: str, limit: int, level: int) -> list[str]:
    """Pack pieces of one level greedily; pieces still too long go one level finer."""
    if len(text) <= limit:
        return [text]
    if level == len(_LEVELS):
        return [text[i : i + limit] for i in range(0, len(text), limit)]
    parts: list[str] = []
    current = ""
    for piece in _LEVELS[level].findall(text):
        if len(current) + len(piece) <= limit:
            current += piece
            continue
        if current:
            parts.append(current)
        if len(piece) <= limit:
            current = piece
        else:
            parts.extend(_split(piece, limit, level + 1))
            current = ""
    if current:
        parts.append(current)
    return parts

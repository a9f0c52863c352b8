"""Splitting a reply into parts its channel accepts.

Meta documents Messenger's limit as 2000 characters without saying which characters; we count
UTF-16 code units, the strictest reading (an emoji family is 11 of them). Instagram takes at
most 1000 bytes of UTF-8. A part is cut at a paragraph, else a sentence, else a word, and in
the last resort between grapheme clusters, never inside one (an emoji sequence or a letter
with its combining marks stays whole).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import regex


@dataclass(frozen=True)
class Channel:
    """Where a reply goes: how a part's size is counted, and the most a part may have."""

    name: str
    limit: int
    size: Callable[[str], int]


def utf16_units(text: str) -> int:
    """Messenger's conservative count: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def utf8_bytes(text: str) -> int:
    """Instagram's count: bytes of UTF-8."""
    return len(text.encode("utf-8"))


MESSENGER = Channel("messenger", 2000, utf16_units)
INSTAGRAM = Channel("instagram", 1000, utf8_bytes)
CHANNELS = {channel.name: channel for channel in (MESSENGER, INSTAGRAM)}

# Paragraphs, then sentences, then words: each pattern keeps its separator with the piece
# before it, so joining the pieces gives back the text unchanged.
_LEVELS = (
    re.compile(r".+?(?:\n\s*\n|$)", re.S),
    re.compile(r".+?(?:[.!?…。！？]+[\"')\]]*\s+|\n|$)", re.S),
    re.compile(r"\S*\s+|\S+$"),
)
_GRAPHEME = regex.compile(r"\X")


def split(text: str, channel: Channel = MESSENGER) -> list[str]:
    """Cut text at paragraph, then sentence, then word boundaries into parts that fit."""
    text = text.strip()
    if not text:
        return []
    parts = (p.strip() for p in _split(text, channel, 0))
    return [part for part in parts if part]


def _split(text: str, channel: Channel, level: int) -> list[str]:
    """Pack pieces of one level greedily; pieces still too big go one level finer."""
    if channel.size(text) <= channel.limit:
        return [text]
    if level == len(_LEVELS):
        return _cut(_GRAPHEME.findall(text), channel)
    parts: list[str] = []
    current, used = "", 0  # both counts are additive: a part's size is the sum of its pieces'
    for piece in _LEVELS[level].findall(text):
        size = channel.size(piece)
        if used + size <= channel.limit:
            current, used = current + piece, used + size
            continue
        if current:
            parts.append(current)
        if size <= channel.limit:
            current, used = piece, size
        else:
            parts.extend(_split(piece, channel, level + 1))
            current, used = "", 0
    if current:
        parts.append(current)
    return parts


def _cut(units: list[str], channel: Channel) -> list[str]:
    """The last resort: as many whole graphemes as fit, part after part (a single grapheme
    larger than the limit, which no real text has, is cut by code points)."""
    parts: list[str] = []
    current, used = "", 0
    for unit in units:
        size = channel.size(unit)
        if size > channel.limit:
            parts.extend(p for p in (current, *_cut(list(unit), channel)) if p)
            current, used = "", 0
        elif used + size > channel.limit:
            parts.append(current)
            current, used = unit, size
        else:
            current, used = current + unit, used + size
    if current:
        parts.append(current)
    return parts

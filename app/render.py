"""Markdown → text that reads well on Messenger, which shows Markdown as raw symbols.

Models write Markdown whatever they are told. A maintained parser (markdown-it-py, CommonMark
with tables and strikethrough) reads it, and the tokens are written out as plain chat text:
emphasis markers go, headings become plain lines, list items "• " lines (ordered ones keep
their numbers, nested ones are indented), links "text (url)", code stays as its text without
fences, a table one line per row. Nothing of the content is dropped.
"""

from __future__ import annotations

import re
from typing import Any

from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])
# What could make a reply more than paragraphs of text to the parser above: an inline marker
# anywhere (emphasis, code, HTML, escapes, entities, strikethrough, tables); a link ("](" or
# "][", or a line opening with a link definition's "[label]:": other brackets are text); a block
# marker opening a line (headings, lists, quotes, rules, underlines); an indented line (code);
# whitespace other than space and newline; NUL. Most chat replies have none of these and need
# no parse: the parser would give their lines back as they are.
_MAY_BE_MARKDOWN = re.compile(
    r"[\\`*_<|~\x00]|\]\(|\]\[|&[#A-Za-z0-9]|[^\S \n]|^ +\S|^[-+=#>]|^\[[^\]]*\]:|^\d+[.)]",
    re.MULTILINE,
)
BULLET = "• "
RULE = "———"


def to_text(markdown: str) -> str:
    """The reply as plain chat text, its content intact."""
    if _MAY_BE_MARKDOWN.search(markdown):
        return _parsed(markdown)
    writer = _Writer()  # plain text: its lines as the parser would give them back
    writer.lines = [line.rstrip() for line in markdown.split("\n")]
    return writer.text()


def _parsed(markdown: str) -> str:
    """Whatever the text holds, through the parser (tests/test_render.py holds the shortcut
    above to it)."""
    writer = _Writer()
    for token in _MARKDOWN.parse(markdown):
        writer.take(token)
    return writer.text()


class _Writer:
    """Walks markdown-it's block tokens, keeping track of lists and table rows."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.lists: list[str] = []  # "bullet" or "ordered", innermost last
        self.marker = ""  # the list marker the next line of text starts with
        self.row: list[str] | None = None

    def text(self) -> str:
        """The lines, with at most one blank line between blocks."""
        out: list[str] = []
        for line in self.lines:
            if line or (out and out[-1]):
                out.append(line.rstrip())
        return "\n".join(out).strip()

    def take(self, token: Any) -> None:
        """One block token."""
        kind = token.type
        if kind in ("bullet_list_open", "ordered_list_open"):
            self.lists.append(kind.split("_")[0])
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self.lists.pop()
            self._end_block()
        elif kind == "list_item_open":
            number = f"{token.info}{token.markup} " if self.lists[-1] == "ordered" else BULLET
            self.marker = number
        elif kind == "inline":
            self._inline(_inline(token.children or []))
        elif kind in ("fence", "code_block", "html_block"):
            self._write(token.content.rstrip("\n"))
            self._end_block()
        elif kind == "hr":
            self._write(RULE)
            self._end_block()
        elif kind == "tr_open":
            self.row = []
        elif kind == "tr_close":
            self._write(" | ".join(self.row or []))
            self.row = None
        elif kind in ("paragraph_close", "heading_close", "table_close") and not token.hidden:
            self._end_block()

    def _inline(self, text: str) -> None:
        """Text of a paragraph, heading or table cell."""
        if self.row is not None:
            self.row.append(" ".join(text.split()))
        else:
            self._write(text)

    def _write(self, text: str) -> None:
        """Lines at the current list depth; the first carries a pending list marker."""
        indent = "  " * max(0, len(self.lists) - 1)
        hang = " " * len(self.marker)
        for i, line in enumerate(text.split("\n")):
            lead = self.marker if i == 0 and self.marker else hang if self.lists else ""
            self.lines.append(indent + lead + line if line or lead else "")
        self.marker = ""

    def _end_block(self) -> None:
        """A blank line after a block, except between the items of a list."""
        if not self.lists:
            self.lines.append("")


def _inline(children: list[Any]) -> str:
    """Inline tokens as text: markers dropped, links and images followed by their address."""
    out: list[str] = []
    links: list[tuple[str, int]] = []
    for child in children:
        kind = child.type
        if kind in ("text", "code_inline", "html_inline"):
            out.append(child.content)
        elif kind in ("softbreak", "hardbreak"):
            out.append("\n")
        elif kind == "link_open":
            links.append((str(child.attrs.get("href", "")), len(out)))
        elif kind == "link_close" and links:
            href, start = links.pop()
            shown = "".join(out[start:]).strip()
            if href and shown not in (href, href.removeprefix("mailto:")):
                out.append(f" ({href})" if shown else href)
        elif kind == "image":
            alt, src = child.content, str(child.attrs.get("src", ""))
            out.append(f"{alt} ({src})" if alt else src)
    return "".join(out)

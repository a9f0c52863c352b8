"""Operator tools: the `flask messenger …` commands, the Messenger Profile and the doctor."""

from .cli import messenger

__all__ = ["messenger"]

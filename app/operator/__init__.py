"""Operator tools: the `flask messenger …` commands: the Messenger Profile, the doctor, the
page's webhook subscription, pause, resume and status for one person, and their data
(forget, export)."""

from . import control, people  # noqa: F401  (register their commands on the group)
from .cli import messenger

__all__ = ["messenger"]

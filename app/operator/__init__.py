"""Operator tools: the `flask messenger …` commands: the Messenger Profile, the doctor, the
page's webhook subscription, pause, resume and status for one person, and their data
(forget, export)."""

from . import (  # noqa: F401  (each registers its commands on the group)
    control,
    people,
    profile_cli,
)
from .cli import messenger

__all__ = ["messenger"]

"""Operator tools: the `flask messenger …` commands: the Messenger Profile, the doctor, the
page's webhook subscription, and pause, resume and status for one person."""

from . import (
    control,  # noqa: F401  (registers pause, resume and status on the group)
    profile_cli,  # noqa: F401  (registers profile apply, show and clear)
)
from .cli import messenger

__all__ = ["messenger"]

"""The terminal emulator: `flask chat`, a local Graph API stand-in and an offline model."""

from .cli import chat

__all__ = ["chat"]

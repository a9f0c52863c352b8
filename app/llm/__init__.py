"""The model: messages in, reply text and usage out, in the form the server accepts."""

from .chat import (
    MIN_ATTEMPT_SECONDS,
    ChatModel,
    ModelError,
    Reply,
    ToolCall,
    Usage,
    make_client,
)

__all__ = [
    "MIN_ATTEMPT_SECONDS",
    "ChatModel",
    "ModelError",
    "Reply",
    "ToolCall",
    "Usage",
    "make_client",
]

"""The Graph API: one client for history, sends and sender actions; its errors; its retries."""

from .client import GraphClient, HistoryMessage, instagram_accounts, page_tokens
from .errors import GraphError

__all__ = [
    "GraphClient",
    "GraphError",
    "HistoryMessage",
    "instagram_accounts",
    "page_tokens",
]

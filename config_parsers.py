"""How each setting's text becomes its value: one parser per kind of setting, for config.py.

Each parser takes the stripped text of a variable and returns its value, or raises ValueError
with what is wrong (config.py prefixes the variable's name), never a traceback for the operator.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
KNOWLEDGE_MAX_CHARS = 50_000  # it goes with every message: about 12,000 tokens at most


def text(raw: str) -> str:
    """Keep a string setting as it is."""
    return raw


def url(raw: str) -> str:
    """Accept an http(s) base URL and drop a trailing slash so paths join cleanly."""
    if not raw.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return raw.rstrip("/")


def absolute_path(raw: str) -> str:
    """Flask wants the instance folder as an absolute path."""
    return os.path.abspath(raw)


def log_level(raw: str) -> str:
    """One of Python's level names."""
    level = raw.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


def effort(raw: str) -> str | None:
    """A reasoning effort the API names, or "off" never to send one."""
    value = raw.lower()
    if value == "off":
        return None
    if value not in REASONING_EFFORTS:
        raise ValueError("must be off or one of " + ", ".join(REASONING_EFFORTS))
    return value


def knowledge_file(raw: str) -> str:
    """A readable UTF-8 text file of at most KNOWLEDGE_MAX_CHARS; its absolute path."""
    try:
        with open(raw, encoding="utf-8") as file:
            size = len(file.read(KNOWLEDGE_MAX_CHARS + 1))
    except OSError as exc:
        raise ValueError(f"cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ValueError("is not UTF-8 text") from None
    if size > KNOWLEDGE_MAX_CHARS:
        raise ValueError(
            f"is longer than {KNOWLEDGE_MAX_CHARS} characters (it is sent with every message)"
        )
    return os.path.abspath(raw)


def prices(raw: str) -> dict[str, dict[str, float]]:
    """OPENAI_PRICES: {"model": {"input": 0.10, "cached": 0.01, "output": 0.50}}, US dollars
    per 1M tokens."""
    try:
        data = json.loads(raw)
    except ValueError:
        raise ValueError("is not valid JSON") from None
    if not isinstance(data, dict):
        raise ValueError("must map model names to prices")
    prices = {}
    for model, price in data.items():
        if (
            not isinstance(price, dict)
            or not price
            or not all(
                key in ("input", "cached", "output") and isinstance(value, (int, float))
                for key, value in price.items()
            )
        ):
            raise ValueError(f'{model}: give numbers for "input", "cached" and "output"')
        prices[model] = {key: float(value) for key, value in price.items()}
    return prices


def app_id(raw: str) -> str:
    """One app id (digits)."""
    if not raw.isdigit():
        raise ValueError("must be an app id (digits)")
    return raw


def app_ids(raw: str) -> frozenset[str]:
    """Comma-separated app ids."""
    ids = frozenset(part.strip() for part in raw.split(",") if part.strip())
    if not all(i.isdigit() for i in ids):
        raise ValueError("must be app ids (digits), separated by commas")
    return ids


def log_format(raw: str) -> str:
    """text (one line per record) or json (one object per line)."""
    if raw.lower() not in ("text", "json"):
        raise ValueError("must be text or json")
    return raw.lower()


def flag(raw: str) -> bool:
    """Booleans the way people write them in .env files."""
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def redis_url(raw: str) -> str:
    """Accept the URL forms redis-py understands."""
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must start with redis://, rediss:// or unix://")
    return raw


def pages(raw: str) -> dict[str, dict[str, str]]:
    """A page-id → token map, as JSON or a path to a JSON file; a value may be an object
    with "token" and an optional "system_prompt", "knowledge_file" and "instagram_id" (the
    Instagram professional account linked to the page, answered with the page's token)."""
    return _accounts(raw, "page", linked=True)


def instagram_accounts(raw: str) -> dict[str, dict[str, str]]:
    """INSTAGRAM_ACCOUNTS (Instagram API with Instagram Login): an Instagram account id →
    its Instagram user token, or an object with "token" and an optional "system_prompt" and
    "knowledge_file"; as JSON or a path to a JSON file."""
    return _accounts(raw, "instagram account", linked=False)


def _accounts(raw: str, what: str, *, linked: bool) -> dict[str, dict[str, str]]:
    """Accounts with their tokens, prompts and knowledge files, from JSON or a JSON file."""
    text = raw
    if not raw.lstrip().startswith("{"):
        try:
            with open(raw, encoding="utf-8") as file:
                text = file.read()
        except OSError as exc:
            raise ValueError(
                f"is neither a JSON object nor a readable file ({exc.strerror})"
            ) from None
    try:
        data = json.loads(text)
    except ValueError:
        raise ValueError("is not valid JSON") from None
    if not isinstance(data, dict) or not data:
        raise ValueError(f"must map {what} ids to tokens")
    pages = {}
    for page_id, value in data.items():
        entry = {"token": value} if isinstance(value, str) else value
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("token"), str)
            or not entry["token"]
        ):
            raise ValueError(f"{what} {page_id}: needs a token")
        prompt = entry.get("system_prompt", "")
        if not isinstance(prompt, str):
            raise ValueError(f"{what} {page_id}: system_prompt must be text")
        knowledge = entry.get("knowledge_file", "")
        if not isinstance(knowledge, str):
            raise ValueError(f"{what} {page_id}: knowledge_file must be a path")
        if knowledge:
            try:
                knowledge = knowledge_file(knowledge)
            except ValueError as exc:
                raise ValueError(f"{what} {page_id}: knowledge_file {exc}") from None
        instagram = entry.get("instagram_id", "") if linked else ""
        if isinstance(instagram, int) and not isinstance(instagram, bool):
            instagram = str(instagram)
        if not isinstance(instagram, str) or (instagram and not instagram.isdigit()):
            raise ValueError(f"{what} {page_id}: instagram_id must be an account id (digits)")
        pages[str(page_id)] = {
            "token": entry["token"],
            "system_prompt": prompt,
            "knowledge_file": knowledge,
            "instagram_id": instagram,
        }
    return pages


def number(kind: type, low: float, high: float) -> Callable[[str], Any]:
    """Parse an int or float and keep it inside [low, high]."""

    def parse(raw: str) -> Any:
        try:
            value = kind(raw)
        except ValueError:
            raise ValueError(f"must be a {kind.__name__}") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value

    return parse

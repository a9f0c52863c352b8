"""Every setting the service reads, its default, and start-up validation.

Settings come from the environment; for local runs a `.env` file is read too through
python-dotenv (values in the environment win), without writing it into the environment: a
gunicorn master that did would hand the old values to the workers of every `kill -HUP`.
`load()` returns a plain dict that `create_app()` puts into `app.config` as it is; tests load
their own strings and never read the machine's environment.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

REQUIRED = ("FB_APP_SECRET", "FB_VERIFY_TOKEN", "FB_PAGE_ACCESS_TOKEN", "OPENAI_API_KEY")

#: Values whose appearance in a log line would be a leak; the log filter masks them.
SECRETS = (
    "FB_APP_SECRET",
    "FB_VERIFY_TOKEN",
    "FB_PAGE_ACCESS_TOKEN",
    "OPENAI_API_KEY",
    "REDIS_URL",
    "METRICS_TOKEN",
)

DEFAULT_GRAPH_API_URL = "https://graph.facebook.com/v26.0"
DEFAULT_MODEL = "gpt-6-luna"
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
DEFAULT_SPEND_NOTICE = (
    "You've sent a lot of messages in a short time. Please wait a while before writing again."
)
DEFAULT_IMAGE_REPLY = "I can only read text for now. Could you tell me in words?"
DEFAULT_ATTACHMENT_REPLY = (
    "Thanks! I can only read text messages for now. Could you write what you need?"
)
DEFAULT_FALLBACK = "Sorry, I can't answer right now. Please try again in a moment."
DEFAULT_DISCLOSURE = "Hi! Just so you know: I'm an AI assistant, here to help for this page."
KNOWLEDGE_MAX_CHARS = 50_000  # it goes with every message: about 12,000 tokens at most
# The pipeline starts no model call with less time than this left (app/llm/chat.py uses it);
# defined here so the start-up check below needs no import of the app.
MIN_ATTEMPT_SECONDS = 1.0
# What a message needs before the model: the store's arrival round trip and its history.
ARRIVAL_SECONDS = 1.0

#: Text settings where an empty value (`STICKER_REPLY=`) means "off", not "the default".
EMPTY_MEANS_OFF = frozenset(
    {
        "AI_DISCLOSURE",
        "SPEND_LIMIT_REPLY",
        "IMAGE_REPLY",
        "STICKER_REPLY",
        "ATTACHMENT_REPLY",
        "WELCOME_MESSAGE",
        "SYSTEM_PROMPT",
    }
)


def _text(raw: str) -> str:
    """Keep a string setting as it is."""
    return raw


def _url(raw: str) -> str:
    """Accept an http(s) base URL and drop a trailing slash so paths join cleanly."""
    if not raw.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return raw.rstrip("/")


def _absolute_path(raw: str) -> str:
    """Flask wants the instance folder as an absolute path."""
    return os.path.abspath(raw)


def _log_level(raw: str) -> str:
    """One of Python's level names."""
    level = raw.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ValueError("must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
    return level


def _effort(raw: str) -> str | None:
    """A reasoning effort the API names, or "off" never to send one."""
    value = raw.lower()
    if value == "off":
        return None
    if value not in REASONING_EFFORTS:
        raise ValueError("must be off or one of " + ", ".join(REASONING_EFFORTS))
    return value


def _knowledge_file(raw: str) -> str:
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


def _prices(raw: str) -> dict[str, dict[str, float]]:
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


def _app_ids(raw: str) -> frozenset[str]:
    """Comma-separated app ids."""
    ids = frozenset(part.strip() for part in raw.split(",") if part.strip())
    if not all(i.isdigit() for i in ids):
        raise ValueError("must be app ids (digits), separated by commas")
    return ids


def _log_format(raw: str) -> str:
    """text (one line per record) or json (one object per line)."""
    if raw.lower() not in ("text", "json"):
        raise ValueError("must be text or json")
    return raw.lower()


def _flag(raw: str) -> bool:
    """Booleans the way people write them in .env files."""
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be true or false")


def _redis_url(raw: str) -> str:
    """Accept the URL forms redis-py understands."""
    if not raw.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must start with redis://, rediss:// or unix://")
    return raw


def _pages(raw: str) -> dict[str, dict[str, str]]:
    """A page-id → token map, as JSON or a path to a JSON file; a value may be an object
    with "token" and an optional "system_prompt"."""
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
        raise ValueError("must map page ids to tokens")
    pages = {}
    for page_id, value in data.items():
        entry = {"token": value} if isinstance(value, str) else value
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("token"), str)
            or not entry["token"]
        ):
            raise ValueError(f"page {page_id}: needs a token")
        prompt = entry.get("system_prompt", "")
        if not isinstance(prompt, str):
            raise ValueError(f"page {page_id}: system_prompt must be text")
        knowledge = entry.get("knowledge_file", "")
        if not isinstance(knowledge, str):
            raise ValueError(f"page {page_id}: knowledge_file must be a path")
        if knowledge:
            try:
                knowledge = _knowledge_file(knowledge)
            except ValueError as exc:
                raise ValueError(f"page {page_id}: knowledge_file {exc}") from None
        pages[str(page_id)] = {
            "token": entry["token"],
            "system_prompt": prompt,
            "knowledge_file": knowledge,
        }
    return pages


def _number(kind: type, low: float, high: float) -> Callable[[str], Any]:
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


#: name -> (default, parser). A default of None means "unset unless given".
OPTIONAL: dict[str, tuple[Any, Callable[[str], Any]]] = {
    "FB_PAGE_TOKENS": (None, _pages),
    "FB_APP_ID": ("", _text),
    "FB_GRAPH_API_URL": (DEFAULT_GRAPH_API_URL, _url),
    "OPENAI_BASE_URL": (None, _url),
    "OPENAI_MODEL": (DEFAULT_MODEL, _text),
    "OPENAI_TEMPERATURE": (0.2, _number(float, 0.0, 2.0)),
    "OPENAI_TOP_P": (0.2, _number(float, 0.0, 1.0)),
    "OPENAI_MAX_TOKENS": (512, _number(int, 1, 100_000)),
    "OPENAI_MAX_RETRIES": (1, _number(int, 0, 5)),
    "OPENAI_REASONING_EFFORT": ("none", _effort),
    "SYSTEM_PROMPT": ("", _text),
    "KNOWLEDGE_FILE": ("", _knowledge_file),
    "AI_DISCLOSURE": (DEFAULT_DISCLOSURE, _text),
    "HISTORY_MESSAGES": (10, _number(int, 0, 20)),
    "HISTORY_MAX_AGE_HOURS": (24.0, _number(float, 0.0, 24.0 * 365)),
    # Meta: "Your app can make 2 calls per second per Facebook Page" to the Conversations API.
    "GRAPH_CONVERSATIONS_PER_SECOND": (2, _number(int, 0, 100)),
    "FALLBACK_REPLY": (DEFAULT_FALLBACK, _text),
    # Meta gives up on a webhook call after 20 s and sends it again.
    "REQUEST_BUDGET_SECONDS": (15.0, _number(float, 2.0, 19.0)),
    "SEND_RESERVE_SECONDS": (2.5, _number(float, 0.5, 10.0)),
    "GRAPH_TIMEOUT_SECONDS": (5.0, _number(float, 0.5, 20.0)),
    "MAX_BODY_BYTES": (1 << 20, _number(int, 1024, 16 << 20)),
    "INSTANCE_PATH": ("", _absolute_path),
    "LEDGER_PATH": ("", _text),
    "REDIS_URL": (None, _redis_url),
    "LEDGER_TTL_HOURS": (24.0, _number(float, 0.1, 24.0 * 30)),
    "SPEND_LIMIT": (30, _number(int, 1, 1_000_000)),
    "SPEND_WINDOW_MINUTES": (60.0, _number(float, 1.0, 24.0 * 60 * 7)),
    "SPEND_LIMIT_REPLY": (DEFAULT_SPEND_NOTICE, _text),
    "HUMAN_PAUSE_MINUTES": (30.0, _number(float, 0.0, 24.0 * 60 * 7)),
    "GET_STARTED_PAYLOAD": ("GET_STARTED", _text),
    "WELCOME_MESSAGE": ("", _text),
    "MODEL_ACCEPTS_IMAGES": (True, _flag),
    "IMAGE_REPLY": (DEFAULT_IMAGE_REPLY, _text),
    "STICKER_REPLY": ("👍", _text),
    "ATTACHMENT_REPLY": (DEFAULT_ATTACHMENT_REPLY, _text),
    "LOG_LEVEL": ("INFO", _log_level),
    "LOG_FORMAT": ("text", _log_format),
    "METRICS_TOKEN": ("", _text),
    "OPENAI_PRICES": ({}, _prices),
    "AUTOMATION_APP_IDS": (frozenset(), _app_ids),
    # Threads per gunicorn worker; also the size of each worker's Graph connection pool.
    "WEB_THREADS": (128, _number(int, 1, 4096)),
}

#: gunicorn's own settings, read by gunicorn.conf.py only (Heroku sets PORT and
#: WEB_CONCURRENCY); None: cores + 1 workers.
SERVING: dict[str, tuple[Any, Callable[[str], Any]]] = {
    "PORT": (8000, _number(int, 1, 65535)),
    "WEB_CONCURRENCY": (None, _number(int, 1, 256)),
}


def cores() -> int:
    """The cores this process may run on: its affinity where the system has one (Linux),
    else the machine's count (macOS, Windows)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


class ConfigError(Exception):
    """Raised with one line that names every missing or invalid variable."""


def _parse(table, environ: Mapping[str, str], invalid: list[str]) -> dict[str, Any]:
    """Each setting of `table` from `environ`, or its default; problems go to `invalid`."""
    values = {}
    for name, (default, parse) in table.items():
        raw = environ.get(name, "").strip()
        if not raw and name in EMPTY_MEANS_OFF and name in environ:
            values[name] = ""  # set, and set empty: turned off
            continue
        try:
            values[name] = parse(raw) if raw else default
        except ValueError as exc:
            invalid.append(f"{name} {exc}")
    return values


def serving(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """gunicorn's own settings (PORT, WEB_CONCURRENCY), checked like the others."""
    invalid: list[str] = []
    values = _parse(SERVING, os.environ if environ is None else environ, invalid)
    if invalid:
        raise ConfigError("invalid settings: " + "; ".join(invalid) + " (see .env.example)")
    return values


def environment(*, dotenv: bool = True) -> dict[str, str]:
    """The process environment over the values of `.env` (found from the working directory
    up), read afresh each time and never written into os.environ, so an edited file counts
    at the next start or reload."""
    values: dict[str, str] = {}
    if dotenv:
        from dotenv import dotenv_values, find_dotenv

        path = find_dotenv(usecwd=True)
        if path:
            # A bare `NAME` line has no value (None): it sets nothing, as with load_dotenv.
            values = {k: v for k, v in dotenv_values(path).items() if v is not None}
    return {**values, **os.environ}


def load(environ: Mapping[str, str] | None = None, *, dotenv: bool = True) -> dict[str, Any]:
    """Read, parse and check every setting; raise ConfigError naming all problems at once.
    Without `environ`, the process environment and `.env` (see `environment()`)."""
    if environ is None:
        environ = environment(dotenv=dotenv)
    missing = [name for name in REQUIRED if not environ.get(name, "").strip()]
    if environ.get("FB_PAGE_TOKENS", "").strip() and "FB_PAGE_ACCESS_TOKEN" in missing:
        missing.remove("FB_PAGE_ACCESS_TOKEN")  # several pages, each with its own token
    invalid = []
    settings: dict[str, Any] = {name: environ.get(name, "").strip() for name in REQUIRED}
    settings.update(_parse(OPTIONAL, environ, invalid))
    budget_problem = _budget_problem(settings)
    if budget_problem:
        invalid.append(budget_problem)
    problems = []
    if missing:
        problems.append("missing required settings: " + ", ".join(missing))
    if invalid:
        problems.append("invalid settings: " + "; ".join(invalid))
    if problems:
        raise ConfigError(
            "; ".join(problems) + " (see .env.example for every setting and its default)"
        )
    return settings


def _budget_problem(settings: Mapping[str, Any]) -> str | None:
    """A budget too small ever to answer: the pipeline refuses to start an answer with less
    than SEND_RESERVE_SECONDS + MIN_ATTEMPT_SECONDS left, after about ARRIVAL_SECONDS for the
    arrival and history, so every delivery would get a 503 for ever."""
    if "REQUEST_BUDGET_SECONDS" not in settings or "SEND_RESERVE_SECONDS" not in settings:
        return None  # one of them is invalid and already named
    budget, reserve = settings["REQUEST_BUDGET_SECONDS"], settings["SEND_RESERVE_SECONDS"]
    needed = reserve + MIN_ATTEMPT_SECONDS + ARRIVAL_SECONDS
    if budget >= needed:
        return None
    return (
        f"REQUEST_BUDGET_SECONDS ({budget:g}) must be at least SEND_RESERVE_SECONDS ({reserve:g})"
        f" + {MIN_ATTEMPT_SECONDS:g} s for a model attempt + {ARRIVAL_SECONDS:g} s for the"
        f" arrival and history = {needed:g}: with less, no message could ever be answered"
    )


def secrets(settings: Mapping[str, Any]) -> list[str]:
    """Every configured secret value, page tokens included, for the log filter."""
    values = [settings.get(name) or "" for name in SECRETS]
    values += [page["token"] for page in (settings.get("FB_PAGE_TOKENS") or {}).values()]
    return [value for value in values if value]

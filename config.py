"""Every setting the service reads, its default, and start-up validation.

Settings come from the environment; for local runs a `.env` file is read too through
python-dotenv (values in the environment win), without writing it into the environment: a
gunicorn master that did would hand the old values to the workers of every `kill -HUP`.
`load()` returns a plain dict that `create_app()` puts into `app.config` as it is; tests load
their own strings and never read the machine's environment.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import config_parsers as parse
from config_parsers import KNOWLEDGE_MAX_CHARS  # noqa: F401  (read as config.KNOWLEDGE_MAX_CHARS)

REQUIRED = ("FB_APP_SECRET", "FB_VERIFY_TOKEN", "FB_PAGE_ACCESS_TOKEN", "OPENAI_API_KEY")

#: Values whose appearance in a log line would be a leak; the log filter masks them.
SECRETS = (
    "FB_APP_SECRET",
    "FB_VERIFY_TOKEN",
    "FB_PAGE_ACCESS_TOKEN",
    "OPENAI_API_KEY",
    "REDIS_URL",
    "METRICS_TOKEN",
    "INSTAGRAM_APP_SECRET",
)

DEFAULT_GRAPH_API_URL = "https://graph.facebook.com/v26.0"
DEFAULT_INSTAGRAM_API_URL = "https://graph.instagram.com/v26.0"
DEFAULT_STORY_MENTION_REPLY = "Thanks for the mention! 🙌"
DEFAULT_HANDOVER_REPLY = (
    "I've asked someone from our team to take over. They'll reply here and can see our "
    "conversation."
)
DEFAULT_FORGET_REPLY = (
    "Done: I've deleted everything I kept of our conversation. Messenger still shows it to "
    "you, and I won't read it back."
)
DEFAULT_MODEL = "gpt-6-luna"
DEFAULT_SPEND_NOTICE = (
    "You've sent a lot of messages in a short time. Please wait a while before writing again."
)
DEFAULT_IMAGE_REPLY = "I can only read text for now. Could you tell me in words?"
DEFAULT_ATTACHMENT_REPLY = (
    "Thanks! I can only read text messages for now. Could you write what you need?"
)
DEFAULT_FALLBACK = "Sorry, I can't answer right now. Please try again in a moment."
DEFAULT_DISCLOSURE = "Hi! Just so you know: I'm an AI assistant, here to help for this page."
# The pipeline starts no model call with less time than this left (app/llm/chat.py uses it);
# defined here so the start-up check below needs no import of the app.
MIN_ATTEMPT_SECONDS = 1.0
# What a message needs before the model: the store's arrival round trip and its history.
ARRIVAL_SECONDS = 1.0

#: Why a Heroku dyno must not keep the store in SQLite: said at start-up and by the doctor.
HEROKU_DISK = (
    "each dyno's disk starts empty after every restart: kept conversations, claims and "
    "messages waiting for recovery are lost"
)

#: Text settings where an empty value (`STICKER_REPLY=`) means "off", not "the default".
EMPTY_MEANS_OFF = frozenset(
    {
        "AI_DISCLOSURE",
        "SPEND_LIMIT_REPLY",
        "IMAGE_REPLY",
        "STICKER_REPLY",
        "STORY_MENTION_REPLY",
        "FORGET_MENU_TITLE",
        "HANDOVER_REPLY",
        "HANDOVER_MENU_TITLE",
        "ATTACHMENT_REPLY",
        "WELCOME_MESSAGE",
        "SYSTEM_PROMPT",
    }
)


#: name -> (default, parser). A default of None means "unset unless given".
OPTIONAL: dict[str, tuple[Any, Callable[[str], Any]]] = {
    "FB_PAGE_TOKENS": (None, parse.pages),
    "FB_APP_ID": ("", parse.text),
    "FB_GRAPH_API_URL": (DEFAULT_GRAPH_API_URL, parse.url),
    # Instagram API with Instagram Login: accounts with their own tokens, on their own host.
    "INSTAGRAM_ACCOUNTS": (None, parse.instagram_accounts),
    "INSTAGRAM_GRAPH_API_URL": (DEFAULT_INSTAGRAM_API_URL, parse.url),
    # Whether Meta signs Instagram Login webhooks with it or with FB_APP_SECRET is not
    # documented: a body signed with either is accepted.
    "INSTAGRAM_APP_SECRET": ("", parse.text),
    "OPENAI_BASE_URL": (None, parse.url),
    "OPENAI_MODEL": (DEFAULT_MODEL, parse.text),
    "OPENAI_TEMPERATURE": (0.2, parse.number(float, 0.0, 2.0)),
    "OPENAI_TOP_P": (0.2, parse.number(float, 0.0, 1.0)),
    "OPENAI_MAX_TOKENS": (512, parse.number(int, 1, 100_000)),
    "OPENAI_MAX_RETRIES": (1, parse.number(int, 0, 5)),
    "OPENAI_REASONING_EFFORT": ("none", parse.effort),
    "SYSTEM_PROMPT": ("", parse.text),
    "KNOWLEDGE_FILE": ("", parse.knowledge_file),
    "AI_DISCLOSURE": (DEFAULT_DISCLOSURE, parse.text),
    "HISTORY_MESSAGES": (10, parse.number(int, 0, 20)),
    "HISTORY_MAX_AGE_HOURS": (24.0, parse.number(float, 0.0, 24.0 * 365)),
    # Meta: "Your app can make 2 calls per second per Facebook Page" to the Conversations API.
    "GRAPH_CONVERSATIONS_PER_SECOND": (2, parse.number(int, 0, 100)),
    "FALLBACK_REPLY": (DEFAULT_FALLBACK, parse.text),
    # Meta wants the webhook's 200 within 5 s: it goes out by then, and a reply not ready
    # goes on after it.
    "ACK_SECONDS": (4.0, parse.number(float, 0.5, 5.0)),
    # The most one reply may take in all; at most 19 s, so that a reply in flight at SIGTERM
    # still ends inside Heroku's 30 s (gunicorn.conf.py's graceful timeout is this + 5 s).
    "REQUEST_BUDGET_SECONDS": (15.0, parse.number(float, 2.0, 19.0)),
    # A message acknowledged but left unanswered by a process that died is answered by another
    # this long at most after it arrived; older ones are given up (logged and counted).
    "RECOVER_WITHIN_MINUTES": (10.0, parse.number(float, 0.5, 24.0 * 60)),
    # A reply not ready this long after it started shows the typing indicator: a Graph call
    # each, which a host under a burst feels; above REQUEST_BUDGET_SECONDS, never one.
    "TYPING_AFTER_SECONDS": (1.5, parse.number(float, 0.0, 60.0)),
    "SEND_RESERVE_SECONDS": (2.5, parse.number(float, 0.5, 10.0)),
    "GRAPH_TIMEOUT_SECONDS": (5.0, parse.number(float, 0.5, 20.0)),
    "MAX_BODY_BYTES": (1 << 20, parse.number(int, 1024, 16 << 20)),
    "INSTANCE_PATH": ("", parse.absolute_path),
    "LEDGER_PATH": ("", parse.text),
    "REDIS_URL": (None, parse.redis_url),
    # Connections each process may hold (requests wait for a free one): workers × this must fit
    # the Redis plan's client limit.
    "REDIS_MAX_CONNECTIONS": (10, parse.number(int, 1, 1000)),
    "LEDGER_TTL_HOURS": (24.0, parse.number(float, 0.1, 24.0 * 30)),
    "SPEND_LIMIT": (30, parse.number(int, 1, 1_000_000)),
    "SPEND_WINDOW_MINUTES": (60.0, parse.number(float, 1.0, 24.0 * 60 * 7)),
    "SPEND_LIMIT_REPLY": (DEFAULT_SPEND_NOTICE, parse.text),
    "HUMAN_PAUSE_MINUTES": (30.0, parse.number(float, 0.0, 24.0 * 60 * 7)),
    "GET_STARTED_PAYLOAD": ("GET_STARTED", parse.text),
    "WELCOME_MESSAGE": ("", parse.text),
    "MODEL_ACCEPTS_IMAGES": (True, parse.flag),
    "IMAGE_REPLY": (DEFAULT_IMAGE_REPLY, parse.text),
    "STICKER_REPLY": ("👍", parse.text),
    "STORY_MENTION_REPLY": (DEFAULT_STORY_MENTION_REPLY, parse.text),
    # "Delete my data": a button (persistent menu, ice breaker) with this payload erases what
    # the bot keeps of the person and answers FORGET_REPLY.
    "FORGET_PAYLOAD": ("FORGET_ME", parse.text),
    "FORGET_REPLY": (DEFAULT_FORGET_REPLY, parse.text),
    "FORGET_MENU_TITLE": ("Delete my data", parse.text),
    # "Talk to a person": the model may hand the conversation to the page's team (a tool it
    # is offered), and so does a button with HANDOVER_PAYLOAD. Empty HANDOVER_REPLY: no tool.
    "HANDOVER_REPLY": (DEFAULT_HANDOVER_REPLY, parse.text),
    "HANDOVER_PAYLOAD": ("TALK_TO_HUMAN", parse.text),
    # The app that gets the thread; empty: the channel's inbox (Page Inbox, Instagram Inbox).
    "HANDOVER_APP_ID": ("", parse.app_id),
    "HANDOVER_MENU_TITLE": ("Talk to a person", parse.text),
    "ATTACHMENT_REPLY": (DEFAULT_ATTACHMENT_REPLY, parse.text),
    "LOG_LEVEL": ("INFO", parse.log_level),
    "LOG_FORMAT": ("text", parse.log_format),
    "METRICS_TOKEN": ("", parse.text),
    "OPENAI_PRICES": ({}, parse.prices),
    "AUTOMATION_APP_IDS": (frozenset(), parse.app_ids),
    # Threads per gunicorn worker; also the size of each worker's Graph connection pool.
    "WEB_THREADS": (128, parse.number(int, 1, 4096)),
}

#: gunicorn's own settings, read by gunicorn.conf.py only (Heroku sets PORT and
#: WEB_CONCURRENCY); None: cores + 1 workers.
SERVING: dict[str, tuple[Any, Callable[[str], Any]]] = {
    "PORT": (8000, parse.number(int, 1, 65535)),
    "WEB_CONCURRENCY": (None, parse.number(int, 1, 256)),
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
    for name, (default, parser) in table.items():
        raw = environ.get(name, "").strip()
        if not raw and name in EMPTY_MEANS_OFF and name in environ:
            values[name] = ""  # set, and set empty: turned off
            continue
        try:
            values[name] = parser(raw) if raw else default
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
    has_accounts = any(environ.get(n, "").strip() for n in ("FB_PAGE_TOKENS", "INSTAGRAM_ACCOUNTS"))
    if has_accounts and "FB_PAGE_ACCESS_TOKEN" in missing:
        missing.remove("FB_PAGE_ACCESS_TOKEN")  # pages or Instagram accounts with their tokens
    invalid = []
    settings: dict[str, Any] = {name: environ.get(name, "").strip() for name in REQUIRED}
    settings.update(_parse(OPTIONAL, environ, invalid))
    if settings.get("REDIS_URL") and environ.get("DYNO"):
        settings["REDIS_URL"] = heroku_redis_url(settings["REDIS_URL"])
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


def dyno_without_redis(
    settings: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> bool:
    """On Heroku (it sets DYNO in every dyno, one-off ones too) with the SQLite store: what
    one dyno writes, no other dyno reads, and a restart empties it."""
    environ = os.environ if environ is None else environ
    return bool(environ.get("DYNO")) and not settings.get("REDIS_URL")


def heroku_redis_url(url: str) -> str:
    """Heroku Key-Value Store serves TLS with a self-signed certificate, and sets REDIS_URL
    itself (its credentials change with maintenance), so no one can append what redis-py needs
    to accept it: on a dyno, a rediss:// URL that says nothing of certificates gets
    ssl_cert_reqs=none. The connection stays encrypted; an operator's own choice stands."""
    if not url.startswith("rediss://") or "ssl_cert_reqs" in parse_qs(urlsplit(url).query):
        return url
    joint = "&" if urlsplit(url).query else "" if url.endswith("?") else "?"
    return url + joint + "ssl_cert_reqs=none"


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
    for accounts in ("FB_PAGE_TOKENS", "INSTAGRAM_ACCOUNTS"):
        values += [entry["token"] for entry in (settings.get(accounts) or {}).values()]
    return [value for value in values if value]

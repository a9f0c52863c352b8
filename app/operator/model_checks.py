"""The doctor's model checks: key and model, the model's shutdown date, one real reply.

The reply is asked exactly as the bot asks it (the same `ChatModel`, so the same adaptation),
and the line says what the server refused and what was changed.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import openai

from config import DEFAULT_MODEL

from ..deadline import Deadline
from ..llm import ChatModel, ModelError
from .checks import Check

MODEL_SECONDS = 5.0
SHUTDOWN_FAIL_DAYS = 30
# Announced shutdowns (the openai SDK's ChatModel list, OpenAI's deprecations page), for
# servers whose models endpoint carries no shutdown_date.
KNOWN_SHUTDOWNS = {
    **dict.fromkeys(
        ("gpt-5", "gpt-5-mini", "gpt-5-nano", "o3"),
        date(2026, 12, 11),
    ),
    **dict.fromkeys(
        ("gpt-4.1", "gpt-4.1-mini", "gpt-4o", "gpt-4o-mini"),
        date(2027, 1, 14),
    ),
    **dict.fromkeys(("gpt-5.1", "gpt-5.4-nano"), date(2027, 4, 1)),
}


def model_checks(chat: ChatModel, today: date) -> list[Check]:
    """The key and model (with its shutdown date), then one tiny reply as the bot asks it."""
    check, found = model_check(chat.client, chat.model)
    if check.failed:
        return [check]
    return [check, lifetime_check(chat.model, _shutdown_of(found), today), chat_check(chat)]


def model_check(client: openai.OpenAI, model: str) -> tuple[Check, Any]:
    """The key is accepted and the configured model is there, through the openai SDK; and
    the model as the server describes it."""
    try:
        found = client.models.retrieve(model, timeout=MODEL_SECONDS)
    except openai.OpenAIError as exc:
        return _model_failed(exc, model), None
    name = "OpenAI key and model"
    return Check(
        "ok", name, f"key accepted, model {getattr(found, 'id', model)!r} available"
    ), found


def _model_failed(exc: openai.OpenAIError, model: str) -> Check:
    """Why the models endpoint did not describe the model, and the fix."""
    name = "OpenAI key and model"
    network = "check OPENAI_BASE_URL and the network"
    if isinstance(exc, openai.AuthenticationError):
        return Check("fail", name, "the key was refused (http 401)", "set a valid OPENAI_API_KEY")
    if isinstance(exc, openai.PermissionDeniedError):
        fix = "give the key's project access to the model, or set OPENAI_MODEL"
        return Check("fail", name, f"the key may not use {model} (http 403)", fix)
    if isinstance(exc, openai.NotFoundError):
        fix = "set OPENAI_MODEL to a model this key can use (check OPENAI_BASE_URL too)"
        return Check("fail", name, f"model {model!r} not found (http 404)", fix)
    if isinstance(exc, openai.APITimeoutError):  # before its base class, APIConnectionError
        return Check("fail", name, f"no answer within {MODEL_SECONDS:.0f}s", network)
    if isinstance(exc, openai.APIConnectionError):
        return Check("fail", name, "server unreachable", network)
    if isinstance(exc, openai.APIStatusError):
        fix = "try again later; check the provider's status page"
        return Check("fail", name, f"the server answered http {exc.status_code}", fix)
    detail = f"client error ({type(exc).__name__})"
    return Check("fail", name, detail, "check OPENAI_* settings")


def lifetime_check(model: str, shutdown: date | None, today: date) -> Check:
    """A model with an announced shutdown: ✗ within SHUTDOWN_FAIL_DAYS of it, ⚠ before."""
    name = "model lifetime"
    if shutdown is None:
        return Check("ok", name, f"no shutdown date announced for {model}")
    left = (shutdown - today).days
    fix = f"set OPENAI_MODEL to a model with no shutdown date (default: {DEFAULT_MODEL})"
    if left < 0:
        return Check("fail", name, f"{model} was shut down on {shutdown.isoformat()}", fix)
    detail = f"{model} shuts down on {shutdown.isoformat()} ({left} days)"
    return Check("fail" if left <= SHUTDOWN_FAIL_DAYS else "warn", name, detail, fix)


def chat_check(chat: ChatModel) -> Check:
    """One real, tiny reply with exactly the bot's parameters, and what had to be adapted."""
    name = "model reply"
    try:
        chat.reply([{"role": "user", "content": "Say OK."}], Deadline(2 * MODEL_SECONDS))
    except ModelError as exc:
        also = (
            f" (adapted first: {'; '.join(chat.adapter.changes)})" if chat.adapter.changes else ""
        )
        fix = "check OPENAI_MODEL, OPENAI_BASE_URL and OPENAI_REASONING_EFFORT"
        return Check("fail", name, f"no reply: {exc.reason}{also}", fix)
    sent = ", ".join(
        f"{k}={v}" if k != "tools" else "tools=" + "+".join(t["function"]["name"] for t in v)
        for k, v in chat.adapter.params().items()
    )
    detail = f"{chat.model} answered ({sent})"
    if chat.adapter.changes:
        return Check("ok", name, detail, "adapted: " + "; ".join(chat.adapter.changes))
    return Check("ok", name, detail)


def _shutdown_of(found: Any) -> date | None:
    """The models endpoint's `shutdown_date`, else the date the SDK's own model list names."""
    announced = getattr(found, "shutdown_date", None)
    if announced:
        try:
            return date.fromisoformat(str(announced)[:10])
        except ValueError:
            pass
    return KNOWN_SHUTDOWNS.get(getattr(found, "id", ""))

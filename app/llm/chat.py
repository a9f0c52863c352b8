"""The model: chat messages in, reply text and token usage out, through the openai SDK's
typed `chat.completions.create`.

Works with any OpenAI-compatible server (OPENAI_BASE_URL), and with today's reasoning models as
well as classic ones: the request adapts to what the server takes (`params.Adapter`).
Every call is bounded by the time the request has left; a reply cut off at the token limit
ends with "…"; anything that keeps us from a usable reply becomes `ModelError`, logged by the
caller with the request id.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx2
import openai
from openai.types.chat import ChatCompletion

from config import MIN_ATTEMPT_SECONDS  # no model call starts with less time left

from ..deadline import Deadline
from .params import Adapter, refused_parameter

log = logging.getLogger(__name__)

CUT_OFF_MARK = "…"
CONNECT_SECONDS = 3.0
RETRY_PAUSE_SECONDS = 0.25


@dataclass(frozen=True)
class Usage:
    """Tokens one reply cost, as the server reported them (summed over its attempts)."""

    prompt: int = 0
    completion: int = 0
    cached: int = 0
    reasoning: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt + other.prompt,
            self.completion + other.completion,
            self.cached + other.cached,
            self.reasoning + other.reasoning,
        )

    def __str__(self) -> str:
        return (
            f"tokens_prompt={self.prompt} tokens_completion={self.completion} "
            f"tokens_cached={self.cached} tokens_reasoning={self.reasoning}"
        )


@dataclass(frozen=True)
class ToolCall:
    """A function the model asked us to call instead of (or beside) answering in words."""

    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """The model's answer: its text (marked when cut off), what it cost, and a function it
    called, if any."""

    text: str
    usage: Usage
    request_id: str | None = None
    tool_call: ToolCall | None = None


class ModelError(Exception):
    """No usable reply: an API error, a timeout, a refusal we cannot repair, or no text."""

    def __init__(
        self,
        reason: str,
        request_id: str | None = None,
        usage: Usage = Usage(),
        *,
        kind: str = "error",
    ):
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id
        self.usage = usage
        self.kind = kind  # a short, bounded name for metrics: timeout, http_429, empty…

    def __str__(self) -> str:
        return f"{self.reason} request_id={self.request_id or '-'}"


def make_client(api_key: str, base_url: str | None) -> openai.OpenAI:
    """An SDK client whose own retries are off: retries must respect the request's budget."""
    return openai.OpenAI(
        api_key=api_key,
        base_url=base_url,
        max_retries=0,
        timeout=httpx2.Timeout(15.0, connect=CONNECT_SECONDS),
    )


class ChatModel:
    """Asks the configured model for one reply, in the form its server accepts."""

    def __init__(
        self,
        client: openai.OpenAI,
        model: str,
        *,
        temperature: float,
        top_p: float,
        max_tokens: int,
        reasoning_effort: str | None = None,
        retries: int = 1,
        tools: list[dict[str, Any]] | None = None,
    ) -> None:
        self.client = client
        self.model = model
        self.retries = retries
        self.adapter = Adapter(
            model,
            str(client.base_url),
            temperature=temperature,
            top_p=top_p,
            max_tokens=max_tokens,
            effort=reasoning_effort,
            tools=tools,
        )

    def reply(
        self,
        messages: list[dict[str, Any]],
        deadline: Deadline,
        answered: Callable[[], None] = lambda: None,
    ) -> Reply:
        """The model's answer to messages, finished before the deadline, or ModelError.
        `answered()` is called the moment the server's answer is in, before it is read: what
        is left is our own work (the typing indicator is for the model's wait, not for ours)."""
        retries = self.retries
        lowest_effort = False  # after a reply spent wholly on reasoning
        usage = Usage()
        while True:
            timeout = deadline.remaining()
            if timeout < MIN_ATTEMPT_SECONDS:
                raise ModelError("no time left in the request budget", usage=usage, kind="no_time")
            params = self.adapter.params(lowest_effort=lowest_effort)
            try:
                completion = self._create(messages, params, timeout, answered)
            except openai.APITimeoutError:
                reason = f"model did not answer within {timeout:.1f}s"
                raise ModelError(reason, usage=usage, kind="timeout") from None
            except openai.APIStatusError as exc:
                refused = refused_parameter(exc, params)
                if refused:
                    self.adapter.learn(refused, params)
                    if self.adapter.params(lowest_effort=lowest_effort) != params:
                        continue  # repaired: ask again at once; the next message pays nothing
                kind = f"http_{exc.status_code}"
                error = ModelError(_status_reason(exc), exc.request_id, usage, kind=kind)
                if retries == 0 or not _retryable(exc.status_code):
                    raise error from None
                log.warning("model call failed, retrying: %s", error)
                retries -= 1
            except openai.APIConnectionError:
                if retries == 0:
                    raise ModelError(
                        "model server unreachable", usage=usage, kind="unreachable"
                    ) from None
                log.warning("model server unreachable, retrying")
                retries -= 1
            except openai.OpenAIError as exc:
                name = type(exc).__name__
                raise ModelError(
                    f"model client error ({name})", usage=usage, kind="client"
                ) from None
            else:
                answer = _reply_of(completion, usage)
                usage = answer.usage
                if answer.text or answer.tool_call:
                    return answer
                spent_thinking = completion.choices and completion.choices[0].finish_reason == (
                    "length"
                )
                if spent_thinking and answer.usage.reasoning and not lowest_effort:
                    log.warning(
                        "model %s spent the %d-token limit on reasoning; asking again at the "
                        "lowest effort",
                        self.model,
                        self.adapter.max_tokens,
                    )
                    lowest_effort = True
                    continue
                raise ModelError(
                    "model answered with empty text", answer.request_id, usage, kind="empty"
                )
            time.sleep(min(RETRY_PAUSE_SECONDS, deadline.remaining()))

    def _create(self, messages: list[dict[str, Any]], params: dict, timeout: float, answered):
        """One typed Chat Completions call, its timeout inside the budget (connect kept short).
        The SDK's raw response comes as soon as the server's answer is in; parsing it is
        ours, and on a busy host may wait its turn for the CPU."""
        raw = self.client.chat.completions.with_raw_response.create(
            model=self.model,
            messages=messages,
            timeout=httpx2.Timeout(timeout, connect=min(CONNECT_SECONDS, timeout)),
            **params,
        )
        answered()
        return raw.parse()


def _retryable(status: int) -> bool:
    """Throttling and server faults may pass; a bad request or bad key will not."""
    return status == 429 or status >= 500


def _status_reason(exc: openai.APIStatusError) -> str:
    """The HTTP status and, for a refusal, the server's own words (never the request)."""
    reason = f"model API error http={exc.status_code}"
    message = exc.body.get("message") if isinstance(exc.body, dict) else None
    if exc.status_code in (400, 404, 422) and isinstance(message, str):
        reason += f": {message[:200]}"
    return reason


def _reply_of(completion: ChatCompletion, earlier: Usage) -> Reply:
    """The reply text (marked when cut off, empty when there is none) and the usage so far."""
    request_id = getattr(completion, "_request_id", None)
    usage = earlier + usage_of(completion)
    choices = getattr(completion, "choices", None) or []
    if not choices:
        raise ModelError("model answered with no choices", request_id, usage, kind="empty")
    choice = choices[0]
    text = (getattr(choice.message, "content", None) or "").strip()
    if text and choice.finish_reason == "length":
        text = text.rstrip() + CUT_OFF_MARK
    return Reply(text, usage, request_id, _tool_call(choice.message))


def _tool_call(message: Any) -> ToolCall | None:
    """The first function the model called, its arguments as a dict (arguments that are not
    a JSON object count as none: the model's JSON is not guaranteed)."""
    calls = getattr(message, "tool_calls", None) or []
    function = getattr(calls[0], "function", None) if calls else None
    if function is None or not getattr(function, "name", None):
        return None
    try:
        arguments = json.loads(function.arguments or "{}")
    except ValueError:
        arguments = {}
    return ToolCall(function.name, arguments if isinstance(arguments, dict) else {})


def usage_of(completion: Any) -> Usage:
    """Prompt, completion, cached and reasoning tokens; zeros where the server says nothing."""
    usage = getattr(completion, "usage", None)
    if usage is None:
        return Usage()
    prompt_details = getattr(usage, "prompt_tokens_details", None)
    completion_details = getattr(usage, "completion_tokens_details", None)
    return Usage(
        prompt=usage.prompt_tokens or 0,
        completion=usage.completion_tokens or 0,
        cached=getattr(prompt_details, "cached_tokens", None) or 0,
        reasoning=getattr(completion_details, "reasoning_tokens", None) or 0,
    )

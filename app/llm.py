"""The model: chat messages in, reply text out, through the openai SDK's chat.completions.

Works with any OpenAI-compatible server (OPENAI_BASE_URL). Every call is bounded by the time
the request has left; a reply cut off at the token limit ends with "…"; anything that keeps
us from a usable reply becomes `ModelError`, logged by the caller with the request id.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx2
import openai
from openai.types.chat import ChatCompletion

from .deadline import Deadline

log = logging.getLogger(__name__)

CUT_OFF_MARK = "…"
MIN_ATTEMPT_SECONDS = 1.0  # not worth starting a model call with less time than this
RETRY_PAUSE_SECONDS = 0.25


class ModelError(Exception):
    """No usable reply: an API error, a timeout, or an empty answer."""

    def __init__(self, reason: str, request_id: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.request_id = request_id

    def __str__(self) -> str:
        return f"{self.reason} request_id={self.request_id or '-'}"


def make_client(api_key: str, base_url: str | None) -> openai.OpenAI:
    """An SDK client whose own retries are off: retries must respect the request's budget."""
    return openai.OpenAI(
        api_key=api_key,
        base_url=base_url,
        max_retries=0,
        timeout=httpx2.Timeout(15.0, connect=3.0),
    )


class ChatModel:
    """Asks the configured model for one reply."""

    def __init__(
        self,
        client: openai.OpenAI,
        model: str,
        *,
        temperature: float,
        top_p: float,
        max_tokens: int,
        retries: int = 1,
    ) -> None:
        self.client = client
        self.model = model
        self.params = {"temperature": temperature, "top_p": top_p, "max_tokens": max_tokens}
        self.retries = retries

    def reply(self, messages: list[dict[str, Any]], deadline: Deadline) -> str:
        """The model's answer to messages, finished before the deadline, or ModelError."""
        attempts = 1 + self.retries
        for attempt in range(1, attempts + 1):
            timeout = deadline.remaining()
            if timeout < MIN_ATTEMPT_SECONDS:
                raise ModelError("no time left in the request budget")
            try:
                completion = self._create(messages, timeout)
            except openai.APITimeoutError:
                raise ModelError(f"model did not answer within {timeout:.1f}s") from None
            except openai.APIStatusError as exc:
                error = ModelError(f"model API error http={exc.status_code}", exc.request_id)
                if attempt == attempts or not _retryable(exc.status_code):
                    raise error from None
                log.warning("model call failed, retrying: %s", error)
            except openai.APIConnectionError:
                if attempt == attempts:
                    raise ModelError("model server unreachable") from None
                log.warning("model server unreachable, retrying")
            except openai.OpenAIError as exc:
                raise ModelError(f"model client error ({type(exc).__name__})") from None
            else:
                return _text_of(completion)
            time.sleep(min(RETRY_PAUSE_SECONDS, deadline.remaining()))
        raise ModelError("model gave no reply")  # pragma: no cover - the loop always returns

    def _create(self, messages: list[dict[str, Any]], timeout: float) -> ChatCompletion:
        """POST /chat/completions through the SDK's client: its auth, base URL, timeouts, error
        types and ChatCompletion parsing. Not `chat.completions.create`, whose client-side
        transform of the typed parameters made a call cost 1.7 ms of CPU instead of 0.29 ms
        (docs/benchmark.md) and changes nothing in plain JSON messages like ours."""
        body = {"model": self.model, "messages": messages, **self.params}
        return self.client.post(
            "/chat/completions", body=body, cast_to=ChatCompletion, options={"timeout": timeout}
        )


def _retryable(status: int) -> bool:
    """Throttling and server faults may pass; a bad request or bad key will not."""
    return status == 429 or status >= 500


def _text_of(completion: Any) -> str:
    """The reply text, marked when it was cut off at the token limit."""
    request_id = getattr(completion, "_request_id", None)
    choices = getattr(completion, "choices", None) or []
    if not choices:
        raise ModelError("model answered with no choices", request_id)
    choice = choices[0]
    text = (getattr(choice.message, "content", None) or "").strip()
    if not text:
        raise ModelError("model answered with empty text", request_id)
    if choice.finish_reason == "length":
        text = text.rstrip() + CUT_OFF_MARK
    return text

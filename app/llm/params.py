"""What a model's server takes: the request's optional parameters, repaired when refused.

Servers differ: OpenAI's reasoning models refuse `max_tokens` and sampling other than 1; strict
proxies (LiteLLM) refuse parameters a model does not know, `reasoning_effort` on a classic
model among them; Ollama documents `max_tokens` only. We send the seed's settings, read a
refusal (a 400 naming the parameter), change the one thing refused, and remember it for this
model and base URL for the life of the process, so only the first message pays.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

log = logging.getLogger(__name__)

# Reasoning efforts from the least to the most; a refused value steps up to the next one.
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
TOKEN_PARAMS = ("max_completion_tokens", "max_tokens")
SAMPLING = ("temperature", "top_p")
# When a message names several of our parameters, the first of these is the one refused
# ("only supports top_p when reasoning_effort resolves to 'none'" refuses top_p).
TOOLS = ("tools", "tool_choice")
BLAME_ORDER = (*SAMPLING, "reasoning_effort", *TOKEN_PARAMS, *TOOLS)
REFUSAL_CODES = frozenset({"unsupported_parameter", "unsupported_value"})
REFUSAL_WORDS = re.compile(
    r"unsupported|not supported|does not support|doesn't support|only supports|"
    r"unknown|unrecogni[sz]ed|unexpected|not permitted|not allowed|only .{0,40}is supported|"
    r"tool choice requires",
    re.IGNORECASE,
)
# Models known to reason neither by name nor by default: they never get `reasoning_effort`.
CLASSIC_PREFIXES = ("gpt-4", "gpt-3.5", "chatgpt-4o")
OPENAI_HOSTS = ("api.openai.com", ".openai.azure.com")


@dataclass(frozen=True)
class Refusal:
    """A parameter the server refused: unknown to it, or not with the value we sent."""

    param: str
    value_only: bool


def refused_parameter(exc: Any, sent: dict[str, Any]) -> Refusal | None:
    """The parameter a 400/422 refuses, if it is one we sent; None for any other error."""
    if getattr(exc, "status_code", None) not in (400, 422):
        return None
    body = exc.body if isinstance(getattr(exc, "body", None), dict) else {}
    message = str(body.get("message") or getattr(exc, "message", "") or "")
    code = str(body.get("code") or "")
    param = body.get("param")
    value_only = code == "unsupported_value" or "value" in message.lower()
    if isinstance(param, str) and param in sent and (code in REFUSAL_CODES or param in message):
        return Refusal(param, value_only)
    if code not in REFUSAL_CODES and not REFUSAL_WORDS.search(message):
        return None
    named = [p for p in BLAME_ORDER if p in sent and re.search(rf"\b{p}\b", message)]
    if not named and "tools" in sent and re.search(r"\btool", message, re.IGNORECASE):
        named = ["tools"]  # "does not support tools", '"auto" tool choice requires …'
    return Refusal(named[0], value_only) if named else None


class Adapter:
    """The optional parameters for one model at one base URL, and what the server taught us."""

    def __init__(
        self,
        model: str,
        base_url: str,
        *,
        temperature: float,
        top_p: float,
        max_tokens: int,
        effort: str | None,
        tools: list[dict[str, Any]] | None = None,
    ) -> None:
        """`tools`: functions the model may call (Chat Completions function calling)."""
        self.model = model
        self._tools = tools or None
        self._no_tools = False
        self.max_tokens = max_tokens
        self._sampling = {"temperature": temperature, "top_p": top_p}
        self._effort = None if model.startswith(CLASSIC_PREFIXES) else effort
        host = urlparse(base_url).hostname or ""
        # OpenAI takes max_completion_tokens on every current model; other servers document
        # max_tokens (Ollama honours nothing else).
        self._token_param = TOKEN_PARAMS[0] if host.endswith(OPENAI_HOSTS) else TOKEN_PARAMS[1]
        self._refused_tokens: set[str] = set()
        self._refused_efforts: set[str] = set()
        self._no_sampling = False
        self._no_effort = False
        self._lock = threading.Lock()
        self.changes: list[str] = []  # what was adapted, for the log and the doctor

    def params(self, *, lowest_effort: bool = False) -> dict[str, Any]:
        """The keyword arguments of the next call, as far as the server is known to take them."""
        with self._lock:
            params: dict[str, Any] = {self._token_param: self.max_tokens}
            if not self._no_sampling:
                params.update(self._sampling)
            wanted = EFFORTS[0] if lowest_effort and self._effort else self._effort
            effort = self._accepted_effort(wanted)
            if effort:
                params["reasoning_effort"] = effort
            if self._tools and not self._no_tools:
                params.update(tools=self._tools, tool_choice="auto")
            return params

    def _accepted_effort(self, wanted: str | None) -> str | None:
        """The wanted effort, or the next higher one the server did not refuse."""
        if wanted is None or self._no_effort:
            return None
        if wanted not in EFFORTS:
            return wanted if wanted not in self._refused_efforts else None
        for effort in EFFORTS[EFFORTS.index(wanted) :]:
            if effort not in self._refused_efforts:
                return effort
        return None

    def learn(self, refusal: Refusal, sent: dict[str, Any]) -> None:
        """Take a refusal in, and log what changed the first time it is learned."""
        with self._lock:
            change = self._repair(refusal, sent)
            if change and change not in self.changes:
                self.changes.append(change)
                log.warning("model %s: the server refused %s", self.model, change)

    def _repair(self, refusal: Refusal, sent: dict[str, Any]) -> str:
        """Change the one thing refused; say what changed (empty when nothing could)."""
        param = refusal.param
        if param in SAMPLING and not self._no_sampling:
            self._no_sampling = True
            return "temperature/top_p other than the default: not sent any more"
        if param == "reasoning_effort":
            effort = sent.get(param)
            if refusal.value_only and effort in EFFORTS and effort not in self._refused_efforts:
                self._refused_efforts.add(effort)
                return f"reasoning_effort={effort}: a higher effort is sent"
            if not self._no_effort:
                self._no_effort = True
                return "reasoning_effort: not sent any more"
        if param in TOOLS and not self._no_tools:
            self._no_tools = True
            return "tools (function calling): not sent any more; buttons still work"
        if param in TOKEN_PARAMS and param == self._token_param:
            self._refused_tokens.add(param)
            other = next((p for p in TOKEN_PARAMS if p not in self._refused_tokens), None)
            if other:
                self._token_param = other
                return f"{param}: the limit goes as {other}"
        return ""

"""How kinds of OpenAI-compatible servers answer a chat request, for the stand-ins and tests.

Each kind refuses what its real counterpart refuses, with the same error bodies
(../shared/models.md): an OpenAI reasoning model, a classic OpenAI model, an open model behind
a strict LiteLLM-style proxy, and Ollama. `answer(kind, body, text)` returns (status, JSON).
"""

from __future__ import annotations

import time
from typing import Any

KINDS = ("openai-reasoning", "openai-classic", "strict-proxy", "ollama")
# Reasoning tokens an OpenAI reasoning model spends per effort (medium is its default).
THINKING = {"none": 0, "low": 40, "medium": 900, "high": 3000, "xhigh": 6000, "max": 12000}


def _openai_refusal(param: str, code: str, message: str) -> tuple[int, dict]:
    """OpenAI's 400 for a parameter or value a model does not take."""
    error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
    return 400, {"error": error}


def _proxy_refusal(param: str, model: str) -> tuple[int, dict]:
    """LiteLLM's 400: no `param`, the code "400", the parameter named in the message only."""
    message = (
        f"litellm.UnsupportedParamsError: openai does not support parameters: ['{param}'], "
        f"for model={model}. To drop these, set `litellm.drop_params=True` or for proxy: "
        "`litellm_settings: drop_params: true`."
    )
    return 400, {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": "400"}
    }


def refusal(kind: str, body: dict[str, Any]) -> tuple[int, dict] | None:
    """The error this kind of server answers for `body`, or None when it takes it."""
    if kind == "openai-reasoning":
        if "max_tokens" in body:
            return _openai_refusal(
                "max_tokens",
                "unsupported_parameter",
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
            )
        effort = body.get("reasoning_effort", "medium")
        if effort not in THINKING:
            return _openai_refusal(
                "reasoning_effort",
                "unsupported_value",
                f"Unsupported value: 'reasoning_effort' does not support '{effort}' with this "
                "model. Supported values are: " + ", ".join(f"'{e}'" for e in THINKING) + ".",
            )
        for param in ("temperature", "top_p"):
            if effort != "none" and body.get(param, 1) != 1:
                return _openai_refusal(
                    param,
                    "unsupported_value",
                    f"Unsupported value: '{param}' does not support {body[param]} with this "
                    "model. Only the default (1) value is supported.",
                )
    elif kind == "openai-classic" and "reasoning_effort" in body:
        return _openai_refusal(
            "reasoning_effort",
            "unsupported_parameter",
            "Unsupported parameter: 'reasoning_effort' is not supported with this model.",
        )
    elif kind == "strict-proxy" and "reasoning_effort" in body:
        return _proxy_refusal("reasoning_effort", str(body.get("model")))
    return None


def answer(kind: str, body: dict[str, Any], text: str) -> tuple[int, dict]:
    """What this kind of server answers: a refusal, or a completion of `text` with usage."""
    refused = refusal(kind, body)
    if refused:
        return refused
    thinking = 0
    limit = body.get("max_tokens")
    if kind == "openai-reasoning":
        thinking = THINKING[body.get("reasoning_effort", "medium")]
        limit = body.get("max_completion_tokens")
    elif kind != "ollama":
        limit = limit or body.get("max_completion_tokens")
    written = max(1, len(text) // 4)
    finish = "stop"
    if limit is not None and thinking + written > limit:
        thinking = min(thinking, limit)
        words = text.split()[: max(0, limit - thinking)]
        text, written, finish = " ".join(words), len(words), "length"
    prompt = sum(len(str(m.get("content", ""))) // 4 + 1 for m in body.get("messages", []))
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": written + thinking,
        "total_tokens": prompt + written + thinking,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": thinking},
    }
    completion = {
        "id": "chatcmpl-standin",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", kind),
        "choices": [
            {"index": 0, "finish_reason": finish, "message": {"role": "assistant", "content": text}}
        ],
        "usage": usage,
    }
    return 200, completion

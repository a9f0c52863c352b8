"""Prometheus metrics: the numbers an operator watches. Their names are a contract that
dashboards and alerts are built on (docs/operations.md); change them only with care.

Under gunicorn every worker writes its samples to PROMETHEUS_MULTIPROC_DIR (set up by
gunicorn.conf.py before the workers fork), and /metrics sums them; elsewhere (the Flask dev
server, the emulator, tests) the process's own registry is served.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

EVENTS = Counter(
    "messenger_events",
    "Webhook events, each once, by outcome",
    ["page", "channel", "kind", "outcome"],
)
REPLY_SECONDS = Histogram(
    "messenger_reply_seconds",
    "From the webhook's receipt to the reply's last part sent",
    ["page"],
    buckets=(0.5, 1, 1.5, 2, 3, 5, 8, 12, 15, 20),
)
TOKENS = Counter(
    "messenger_model_tokens", "Tokens the model reported", ["page", "channel", "model", "type"]
)
COST = Counter(
    "messenger_model_cost_usd", "Model spend from OPENAI_PRICES, in US dollars", ["page", "model"]
)
MODEL_ERRORS = Counter("messenger_model_errors", "Model calls with no reply", ["model", "reason"])
GRAPH_ERRORS = Counter("messenger_graph_errors", "Failed Graph calls", ["call", "code", "channel"])
HISTORY = Counter("messenger_history", "Where each prompt's history came from", ["source"])
ACK_SECONDS = Histogram(
    "messenger_ack_seconds",
    "From the webhook's receipt to its answer (Meta wants the 200 within 5 s)",
    buckets=(0.1, 0.25, 0.5, 1, 1.5, 2, 3, 4, 4.5, 5, 8),
)
DELIVERIES = Counter(
    "messenger_deliveries",
    "Webhook deliveries by how Meta sees them: ok, late (a 200 after 5 s) or failed (5xx)",
    ["result"],
)
HANDOVERS = Counter(
    "messenger_handovers",
    "Conversations handed to the page's team, by how the person asked (words, button)",
    ["page", "channel", "via"],
)
HANDOVER_FAILURES = Counter(
    "messenger_handover_failures",
    "Hand-overs Meta refused (Conversation Routing not set up, the inbox app not connected)",
    ["page", "channel", "code"],
)
RECOVERY = Counter(
    "messenger_recovery",
    "Acknowledged messages whose process died: recovered by another, or given up",
    ["result"],
)


def graph_code(exc) -> str:
    """Meta's error code as a label; what has none says why: timeout, unreachable, http_5xx."""
    if exc.code is not None:
        return str(exc.code)
    if exc.timed_out:
        return "timeout"
    return f"http_{exc.status}" if exc.status else "unreachable"


def count_tokens(
    page: str, channel: str, model: str, usage, prices: Mapping[str, Mapping[str, float]]
):
    """Add one reply's usage, and its cost when the model has prices (per 1M tokens)."""
    for kind in ("prompt", "completion", "cached", "reasoning"):
        amount = getattr(usage, kind)
        if amount:
            TOKENS.labels(page, channel, model, kind).inc(amount)
    price = prices.get(model)
    if price:
        uncached = usage.prompt - usage.cached
        cost = (
            uncached * price.get("input", 0)
            + usage.cached * price.get("cached", price.get("input", 0))
            + usage.completion * price.get("output", 0)
        ) / 1_000_000
        if cost:
            COST.labels(page, model).inc(cost)


def exposition() -> tuple[bytes, str]:
    """Every metric in Prometheus's text format, summed over the workers when there are."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST

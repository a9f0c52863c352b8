"""GET /metrics: for operators with the token only; every event counted once; tokens and
errors as the upstreams reported them."""

import json

import httpx2
import pytest
from prometheus_client import REGISTRY

from tests.conftest import PAGE, body_of, build_app, graph_ok, text_event


def sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture
def watched(settings, model):
    prices = {"gpt-6-luna": {"input": 0.10, "cached": 0.01, "output": 0.50}}
    values = dict(settings, METRICS_TOKEN="metrics-token-1", OPENAI_PRICES=json.dumps(prices))
    return build_app(values, openai_client=model.client())


def test_metrics_are_off_without_a_token(client):
    assert client.get("/metrics").status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", "metrics-token-1"])
def test_metrics_refuse_a_missing_or_wrong_token(watched, header):
    headers = {"Authorization": header} if header else {}
    answer = watched.test_client().get("/metrics", headers=headers)
    assert answer.status_code == 401 and b"metrics-token-1" not in answer.data


def test_events_tokens_and_cost_are_counted_as_reported(watched, graph, model, post_to):
    graph_ok(graph)

    model.reply_with_usage("Hi!", prompt=2000, completion=100, cached=1000, reasoning=40)
    labels = {"page": PAGE, "model": "gpt-6-luna"}
    before = {
        t: sample("messenger_model_tokens_total", **labels, channel="messenger", type=t)
        for t in ("prompt", "cached")
    }
    events = sample(
        "messenger_events_total", page=PAGE, channel="messenger", kind="text", outcome="model"
    )
    cost = sample("messenger_model_cost_usd_total", **labels)
    post_to(watched, body_of(text_event("hi", "m_metrics_1")))
    post_to(watched, body_of(text_event("hi", "m_metrics_1")))  # a redelivery: a duplicate
    assert (
        sample(
            "messenger_events_total", page=PAGE, channel="messenger", kind="text", outcome="model"
        )
        == events + 1
    )
    assert (
        sample("messenger_model_tokens_total", **labels, channel="messenger", type="prompt")
        == before["prompt"] + 2000
    )
    assert (
        sample("messenger_model_tokens_total", **labels, channel="messenger", type="cached")
        == before["cached"] + 1000
    )
    expected = (1000 * 0.10 + 1000 * 0.01 + 100 * 0.50) / 1_000_000
    assert sample("messenger_model_cost_usd_total", **labels) == pytest.approx(cost + expected)
    answer = watched.test_client().get(
        "/metrics", headers={"Authorization": "Bearer metrics-token-1"}
    )
    assert answer.status_code == 200 and b"messenger_events_total" in answer.data


def test_model_and_graph_errors_and_history_sources_are_counted(watched, graph, model, post_to):
    graph_ok(graph)
    model.handler = lambda body: httpx2.Response(400, json={"error": {"message": "bad"}})
    refused = {"model": "gpt-6-luna", "reason": "http_400"}
    fell_back = {"page": PAGE, "channel": "messenger", "kind": "text", "outcome": "fallback"}
    errors = sample("messenger_model_errors_total", **refused)
    fallbacks = sample("messenger_events_total", **fell_back)
    graph_source = sample("messenger_history_total", source="graph")
    post_to(watched, body_of(text_event("hi", "m_metrics_2", person="2000009")))
    assert (
        sample("messenger_model_errors_total", model="gpt-6-luna", reason="http_400") == errors + 1
    )
    assert (
        sample(
            "messenger_events_total",
            page=PAGE,
            channel="messenger",
            kind="text",
            outcome="fallback",
        )
        == fallbacks + 1
    )
    assert sample("messenger_history_total", source="graph") == graph_source + 1


def test_a_graph_failure_is_counted_by_call_and_code(watched, graph, post_to):
    import responses

    from tests.conftest import GRAPH

    refused = {"error": {"code": 10, "error_subcode": 2018278, "message": "outside the window"}}
    graph.add(responses.POST, f"{GRAPH}/{PAGE}/messages", json=refused, status=400)
    graph_ok(graph)
    before = sample(
        "messenger_graph_errors_total", call="sender_action", code="10", channel="messenger"
    )
    sent = sample("messenger_graph_errors_total", call="send", code="10", channel="messenger")
    post_to(watched, body_of(text_event("hi", "m_metrics_3", person="2000010")))
    counted = (
        sample("messenger_graph_errors_total", call="sender_action", code="10", channel="messenger")
        - before
    )
    counted += (
        sample("messenger_graph_errors_total", call="send", code="10", channel="messenger") - sent
    )
    assert counted == 1  # the first POST (typing or the reply) met the refusal


def test_pages_we_do_not_serve_share_one_label(watched, graph, post_to):
    graph_ok(graph)
    other = body_of(text_event("hi", mid="m_x1"), page="987654321")
    other["entry"][0]["messaging"][0]["recipient"]["id"] = "987654321"
    post_to(watched, other)
    assert (
        sample(
            "messenger_events_total",
            page="other",
            channel="messenger",
            kind="text",
            outcome="ignored",
        )
        >= 1
    )
    assert (
        sample(
            "messenger_events_total",
            page="987654321",
            channel="messenger",
            kind="text",
            outcome="ignored",
        )
        == 0
    )


def test_the_time_to_the_200_and_how_meta_counts_it_are_measured(watched, graph, post_to):
    graph_ok(graph)
    before = sample("messenger_deliveries_total", result="ok")
    count = sample("messenger_ack_seconds_count")
    post_to(watched, body_of(text_event("hi", mid="m_ack")))
    assert sample("messenger_deliveries_total", result="ok") == before + 1
    assert sample("messenger_ack_seconds_count") == count + 1

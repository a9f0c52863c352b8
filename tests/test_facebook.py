import json

import pytest
import requests
import responses

from app.deadline import Deadline
from app.facebook import GraphClient, GraphError
from app.signature import appsecret_proof
from tests.conftest import GRAPH, PAGE, PERSON

TOKEN = "page-token-xyz"
SECRET = "app-secret-xyz"


@pytest.fixture
def fb():
    return GraphClient(GRAPH, TOKEN, SECRET, timeout=2)


def msg(mid, text, sender, created):
    return {"id": mid, "message": text, "from": {"id": sender}, "created_time": created}


def test_history_is_one_request_with_fields_and_oldest_first(fb, graph):
    graph.add(
        responses.GET,
        f"{GRAPH}/{PAGE}/conversations",
        json={
            "data": [
                {
                    "messages": {
                        "data": [
                            msg("m_3", "third", PERSON, "2026-11-24T12:00:03+0000"),
                            msg("m_2", "second", PAGE, "2026-11-24T12:00:02+0000"),
                            msg("m_1", "", PERSON, "2026-11-24T12:00:01+0000"),
                        ]
                    }
                }
            ]
        },
    )
    listed = fb.history(PAGE, PERSON, 5, Deadline(5))
    assert [m.text for m in listed] == ["[attachment]", "second", "third"]
    assert [m.from_page for m in listed] == [False, True, False]
    (call,) = graph.calls
    params = call.request.params
    assert params["fields"] == "messages.limit(5){message,from,created_time}"
    assert params["user_id"] == PERSON and params["platform"] == "messenger"
    assert params["appsecret_proof"] == appsecret_proof(TOKEN, SECRET)
    assert call.request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in call.request.url


@pytest.mark.parametrize(
    "body",
    [{"data": []}, {"data": ["x"]}, {"data": [{"messages": []}]}, {"data": {}}, [], {}],
)
def test_history_of_a_new_conversation_or_odd_shape_is_empty(fb, graph, body):
    graph.add(responses.GET, f"{GRAPH}/{PAGE}/conversations", json=body)
    assert fb.history(PAGE, PERSON, 5, Deadline(5)) == []


def test_send_is_a_response_with_token_in_header(fb, graph):
    graph.add(responses.POST, f"{GRAPH}/{PAGE}/messages", json={"message_id": "m_9"})
    assert fb.send_text(PAGE, PERSON, "hello", Deadline(5)) == "m_9"
    (call,) = graph.calls
    assert json.loads(call.request.body) == {
        "recipient": {"id": PERSON},
        "messaging_type": "RESPONSE",
        "message": {"text": "hello"},
    }
    assert TOKEN not in call.request.url and "access_token" not in call.request.url


@pytest.mark.parametrize(
    "code, subcode, meaning, transient",
    [
        (190, None, "access token invalid or expired", False),
        (10, 2018278, "outside the 24-hour messaging window", False),
        (551, None, "this person is not available right now", False),
        (613, None, "throttled: rate limit exceeded", True),
        (4, None, "throttled: application request limit reached", True),
        (17, None, "throttled: user request limit reached", True),
        (32, None, "throttled: page request limit reached", True),
    ],
)
def test_graph_errors_carry_code_and_meaning(fb, graph, code, subcode, meaning, transient):
    error = {"message": "x", "type": "OAuthException", "code": code, "fbtrace_id": "Ab1"}
    if subcode:
        error["error_subcode"] = subcode
    graph.add(responses.POST, f"{GRAPH}/{PAGE}/messages", json={"error": error}, status=400)
    with pytest.raises(GraphError) as caught:
        fb.send_text(PAGE, PERSON, "hi", Deadline(5))
    assert caught.value.meaning == meaning and caught.value.code == code
    assert caught.value.transient is transient
    assert caught.value.sent is False
    assert "Ab1" in str(caught.value)


def test_refused_connection_is_not_sent_and_retried():
    closed = GraphClient("http://127.0.0.1:9/v26.0", TOKEN, SECRET, timeout=2)
    with pytest.raises(GraphError) as caught:
        closed.send_text(PAGE, PERSON, "hi", Deadline(5))
    assert caught.value.sent is False and caught.value.transient


def test_connection_dropped_after_sending_is_not_retried(fb, graph):
    import requests

    dropped = requests.ConnectionError("Connection aborted: remote end closed without response")
    graph.add(responses.POST, f"{GRAPH}/{PAGE}/messages", body=dropped)
    with pytest.raises(GraphError) as caught:
        fb.send_text(PAGE, PERSON, "hi", Deadline(5))
    assert caught.value.sent is None and len(graph.calls) == 1


def test_send_answered_with_5xx_error_body_is_retried_once_then_sent(fb, graph):
    error = {"error": {"code": 2, "message": "Service temporarily unavailable"}}
    graph.add(responses.POST, f"{GRAPH}/{PAGE}/messages", json=error, status=500)
    graph.add(responses.POST, f"{GRAPH}/{PAGE}/messages", json={"message_id": "m_ok"})
    assert fb.send_text(PAGE, PERSON, "hi", Deadline(5)) == "m_ok"
    assert len(graph.calls) == 2


def test_send_timeout_is_not_retried(fb, graph):
    import requests

    graph.add(responses.POST, f"{GRAPH}/{PAGE}/messages", body=requests.ReadTimeout("slow"))
    with pytest.raises(GraphError) as caught:
        fb.send_text(PAGE, PERSON, "hi", Deadline(5))
    assert caught.value.sent is None and len(graph.calls) == 1


@pytest.mark.parametrize("code", [190, 10, 551, 100])
def test_permanent_send_errors_are_not_retried(fb, graph, code):
    graph.add(
        responses.POST, f"{GRAPH}/{PAGE}/messages", json={"error": {"code": code}}, status=400
    )
    with pytest.raises(GraphError):
        fb.send_text(PAGE, PERSON, "hi", Deadline(5))
    assert len(graph.calls) == 1


@pytest.mark.parametrize("code", [1, 2])
def test_reads_retry_graph_hiccups_once_but_history_is_one_call(fb, graph, code):
    """Meta counts every Conversations call against 2 per second per page, and the
    allowance granted one: a history read is never repeated. Other reads are."""
    url = f"{GRAPH}/{PAGE}/conversations"
    graph.add(responses.GET, url, json={"error": {"code": code}}, status=500)
    graph.add(responses.GET, url, json={"data": []})
    with pytest.raises(GraphError):
        fb.history(PAGE, PERSON, 5, Deadline(5))
    assert len(graph.calls) == 1
    graph.add(responses.GET, f"{GRAPH}/me", json={"error": {"code": code}}, status=500)
    graph.add(responses.GET, f"{GRAPH}/me", json={"id": PAGE})
    assert fb.api("GET", "/me", page_id=PAGE) == {"id": PAGE}
    assert len(graph.calls) == 3


@pytest.mark.parametrize("code", [4, 17, 32, 613, 80006])
def test_history_is_never_repeated_into_throttling(fb, graph, code):
    url = f"{GRAPH}/{PAGE}/conversations"
    graph.add(responses.GET, url, json={"error": {"code": code}}, status=400)
    with pytest.raises(GraphError) as caught:
        fb.history(PAGE, PERSON, 5, Deadline(5))
    assert caught.value.throttled and len(graph.calls) == 1


def test_a_read_after_a_dropped_connection_is_made_again_but_not_after_a_timeout(fb, graph):
    import requests

    url = f"{GRAPH}/me"
    graph.add(responses.GET, url, body=requests.ConnectionError("reset by peer"))
    graph.add(responses.GET, url, json={"id": PAGE})
    assert fb.api("GET", "/me", page_id=PAGE) == {"id": PAGE}
    graph.add(responses.GET, url, body=requests.ReadTimeout("slow"))
    with pytest.raises(GraphError) as caught:
        fb.api("GET", "/me", page_id=PAGE)
    assert caught.value.timed_out and len(graph.calls) == 3


def test_a_failing_read_makes_two_tries_in_all(fb, graph):
    graph.add(responses.GET, f"{GRAPH}/me", json={"error": {"code": 2}}, status=500)
    with pytest.raises(GraphError):
        fb.api("GET", "/me", page_id=PAGE)
    assert len(graph.calls) == 2


def test_a_5xx_from_a_real_server_is_read_again_once():
    import http.server
    import threading

    hits = []

    class Flaky(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(1)
            status, body = (503, b"{}") if len(hits) == 1 else (200, b'{"data": []}')
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        local = GraphClient(f"http://127.0.0.1:{server.server_port}/v26.0", TOKEN, SECRET)
        assert local.api("GET", "/me", page_id=PAGE) == {"data": []}
        assert len(hits) == 2
    finally:
        server.shutdown()


def test_no_call_once_budget_is_spent(fb, graph):
    with pytest.raises(GraphError):
        fb.send_text(PAGE, PERSON, "hi", Deadline(0))
    assert not graph.calls


def test_operator_settings_for_tls_reach_each_call(graph, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/company-ca.pem")
    fb = GraphClient(GRAPH, TOKEN, SECRET, timeout=2)  # as the process starts
    graph.add(responses.POST, f"{GRAPH}/{PAGE}/messages", json={"message_id": "m_1"})
    fb.send_text(PAGE, PERSON, "hi", Deadline(5))
    assert graph.calls[0].request.req_kwargs["verify"] == "/etc/ssl/company-ca.pem"


@pytest.mark.parametrize(
    "environ, proxy",
    [
        ({"HTTPS_PROXY": "http://proxy.test:3128"}, "http://proxy.test:3128"),
        ({"ALL_PROXY": "http://proxy.test:3128"}, "http://proxy.test:3128"),
        ({"HTTPS_PROXY": "http://proxy.test:3128", "NO_PROXY": "graph.test"}, None),
        ({}, None),
    ],
)
def test_the_operators_proxy_reaches_each_call_unless_no_proxy_covers_graph(
    graph, monkeypatch, environ, proxy
):
    for name in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    fb = GraphClient("https://graph.test:8443/v26.0", TOKEN, SECRET, timeout=2)
    url = f"https://graph.test:8443/v26.0/{PAGE}/messages"
    graph.add(responses.POST, url, json={"message_id": "m"})
    fb.send_text(PAGE, PERSON, "hi", Deadline(5))
    proxies = graph.calls[0].request.req_kwargs["proxies"]
    assert requests.utils.select_proxy(graph.calls[0].request.url, proxies) == proxy


def test_the_environment_is_read_once_per_process_not_on_every_call(fb, graph, monkeypatch):
    # requests reads proxies from the whole environment twice per call when left to it.
    reads = []
    real = requests.utils.getproxies
    monkeypatch.setattr(requests.utils, "getproxies", lambda: reads.append(1) or real())
    graph.add(responses.POST, f"{GRAPH}/{PAGE}/messages", json={"message_id": "m_1"})
    fb.send_text(PAGE, PERSON, "hi", Deadline(5))
    fb.send_text(PAGE, PERSON, "again", Deadline(5))
    assert reads == []


def test_a_fact_is_asked_of_graph_once_even_by_a_burst_that_fails():
    import threading

    from app.facebook.lookup import Once

    asked = []
    together = threading.Barrier(10)

    def ask(seconds):
        asked.append(1)
        raise GraphError("Graph unreachable", sent=False)

    once = Once("our page")
    results = []

    def burst():
        together.wait(5)
        results.append(once.get(ask, 5))

    threads = [threading.Thread(target=burst) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [None] * 10 and len(asked) == 1


def test_nobody_waits_on_a_lookup_longer_than_they_may():
    import threading

    from app.facebook.lookup import Once

    started, finish = threading.Event(), threading.Event()

    def slow(seconds):
        started.set()
        finish.wait(10)  # Graph hanging on /me at a worker's start
        return "1000001"

    once = Once("our page")
    first = threading.Thread(target=lambda: once.get(slow, 10))
    first.start()
    started.wait(5)
    assert once.get(slow, 0.05) is None  # goes on without the answer, at once
    finish.set()
    first.join(5)
    assert once.get(slow, 0.05) == "1000001"


def test_the_lookup_asks_with_the_callers_time(graph):
    from app.facebook import GraphClient

    graph.add(responses.GET, f"{GRAPH}/me", json={"id": PAGE})
    fb = GraphClient(GRAPH, "token-abc", "secret")
    assert fb.serves(PAGE, wait=0.5) and not fb.serves("999")
    assert graph.calls[0].request.req_kwargs["timeout"][1] <= 0.5


def test_a_caller_with_no_time_never_spoils_the_lookup_for_the_others():
    from app.facebook.lookup import Once

    asked = []
    once = Once("our page")
    assert once.get(lambda seconds: asked.append(seconds) or "1000001", 0) is None
    assert asked == []  # not asked with no time (it would fail, and wait 5 minutes)
    assert once.get(lambda seconds: asked.append(seconds) or "1000001", 2) == "1000001"

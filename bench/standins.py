"""Local stand-ins for the Graph API and an OpenAI-compatible server, for trying and measuring.

    python -m bench.standins --graph-port 8101 --model-port 8102 --model-latency 1.0

Graph: `GET /{version}/{page}/conversations` lists the stored conversation newest first;
`POST /{version}/{page}/messages` records replies and sender actions. Meta's limits apply
(bench/limits.py): `--conversations-per-second` (default 2, Meta's; 0 = no cap) per page in
any 1 s window, throttled calls counted too; send text over 2000 characters refused. A
person's message is stored with `POST /_inbound` (the benchmark does this before posting the
webhook, as Meta stores a message before it calls the webhook). `POST /_mark` starts the
measured phase; `GET /_stats` returns counts, every reply with its arrival time, and the
Conversations API figures since the mark.
Model: `POST /v1/chat/completions` answers after the configured latency, refusing what the
chosen kind of server refuses (`--model-kind`, bench/model_kinds.py). `--model-tail 0.1:8` gives
the latency a heavy tail: one call in ten takes 8 s, the others `--model-latency`; which calls
is fixed by their count since the latency was set (one in each ten calls in a row, at a place
drawn from a fixed seed), so runs compare.
`POST /_model` with `{"latency": 6.0, "tail": [0.1, 8.0]}` (or `"tail": null`) sets both at
run time and starts the count again. Faults are injected by name (see FAULTS) and can be
changed at run time with `POST /_fault`.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import random
import re
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from . import limits, model_kinds
from .driver import PAGE_ID

FAULTS = {
    "none": "no faults",
    "model500": "every model call answers 500",
    "model500once": "the first model call answers 500, the others answer",
    "model429": "every model call answers 429",
    "model_slow": "every model call takes 30 s (past any request budget)",
    "graph500": "every history call answers 500",
    "graph613": "every history call answers Graph error 613 (throttled), whatever the rate",
    "send500once": "the first send of each reply answers 500 with an error body",
}


def parse_tail(text: str) -> tuple[float, float]:
    """`SHARE:SECONDS`, e.g. `0.1:8`: one call in ten takes 8 s."""
    share, _, seconds = text.partition(":")
    tail = (float(share), float(seconds or "nan"))
    if not 0 < tail[0] <= 1 or not tail[1] >= 0:
        raise ValueError(f"model tail {text!r}: want SHARE:SECONDS, 0 < SHARE <= 1, SECONDS >= 0")
    return tail


def model_delay(n: int, latency: float, tail: tuple[float, float] | None) -> float:
    """Seconds the n-th model call (from 1) takes: `latency`, or the tail's seconds.

    With a share p/q (0.1 = 1/10), each block of q calls in a row has exactly p slow ones, at
    places a fixed seed draws per block: every run slows the same calls, and a slow call does
    not always fall last in a block (with people writing in rounds, the slow person of one
    round starts the next one last and would be slowed every time)."""
    if tail:
        share = Fraction(tail[0]).limit_denominator(1000)  # 0.1 is exactly 1/10
        block, place = divmod(n - 1, share.denominator)
        slow = random.Random(f"model-tail:{block}").sample(
            range(share.denominator), share.numerator
        )
        if place in slow:
            return tail[1]
    return latency


class State:
    """Everything the stand-ins remember, shared by both servers' threads."""

    def __init__(
        self,
        graph_latency: float,
        model_latency: float,
        fault: str,
        model_kind: str = "ollama",
        conversations_per_second: int = limits.CONVERSATIONS_PER_SECOND,
        model_tail: tuple[float, float] | None = None,
        routing: bool = True,
    ) -> None:
        """Latencies in seconds; the cap is Meta's unless a row asks for another; `routing`:
        the page has Conversation Routing set up (a pass of the thread succeeds)."""
        self.lock = threading.Lock()
        self.routing = routing
        self.model_kind = model_kind
        self.graph_latency = graph_latency
        self.model_latency = model_latency
        self.model_tail = model_tail
        self.model_calls = 0  # calls since the latency was set: which ones the tail slows
        self.fault = fault
        self.conversations: dict[tuple[str, str], list[dict]] = defaultdict(list)
        self.replies: dict[str, list[str]] = defaultdict(list)
        self.reply_times: dict[str, list[float]] = defaultdict(list)  # epoch seconds
        self.conversations_limit = limits.ConversationsLimit(conversations_per_second)
        self.counts: dict[str, int] = defaultdict(int)
        self.failed_once: set[str] = set()
        self.ids = itertools.count(1)

    def count(self, name: str) -> int:
        """Add one to a counter; its new value."""
        with self.lock:
            self.counts[name] += 1
            return self.counts[name]

    def set_model(self, latency: float, tail: tuple[float, float] | None) -> None:
        """A new latency distribution, its count of calls from zero."""
        with self.lock:
            self.model_latency, self.model_tail, self.model_calls = latency, tail, 0

    def model_seconds(self) -> float:
        """How long this model call takes, by its place in the count."""
        with self.lock:
            self.model_calls += 1
            return model_delay(self.model_calls, self.model_latency, self.model_tail)

    def stats(self) -> dict:
        """Counts, replies and their arrival times, and the Conversations API figures."""
        with self.lock:
            out = {
                "counts": dict(self.counts),
                "replies": dict(self.replies),
                "reply_times": dict(self.reply_times),
                "fault": self.fault,
            }
        out["conversations"] = self.conversations_limit.stats()
        return out


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


class Handler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1, one write per answer (no Nagle/delayed-ACK stall), shared state."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    wbufsize = 1 << 16
    state: State

    def log_message(self, *args) -> None:
        """Quiet: the benchmark counts what matters."""

    def _json(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        """One JSON response, headers and body in one write."""
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _body(self) -> dict:
        """The JSON request body, {} when there is none."""
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}


class GraphHandler(Handler):
    """The Graph API calls the service makes, with Meta's limits, plus the bench's controls."""

    def do_GET(self) -> None:
        """Conversations API reads (rate-limited per page) and the stats."""
        url = urlparse(self.path)
        if url.path == "/_stats":
            return self._json(200, self.state.stats())
        parts = url.path.strip("/").split("/")
        if parts[1:] == ["me"]:  # a page token asks which page it belongs to
            return self._json(200, {"id": PAGE_ID, "name": "Bench Page"})
        if len(parts) != 3 or parts[2] != "conversations":
            return self._json(404, {"error": {"code": 803, "message": "unknown path"}})
        st = self.state
        st.count("history")
        allowed = st.conversations_limit.admit(parts[1])  # on arrival, as Meta counts it
        time.sleep(st.graph_latency)
        if st.fault == "graph500":
            return self._json(500, {"error": {"code": 2, "message": "service unavailable"}})
        if st.fault == "graph613" or not allowed:
            st.count("history_throttled")
            return self._json(400, limits.throttled_error(), limits.usage_header(parts[1]))
        query = parse_qs(url.query)
        person = query.get("user_id", [""])[0]
        asked = re.search(r"messages\.limit\((\d+)\)", query.get("fields", [""])[0])
        # Only the 20 most recent messages can be read; fewer when the field expansion says so.
        count = min(int(asked.group(1)), 20) if asked else 20
        with st.lock:
            listed = list(reversed(st.conversations[(parts[1], person)][-count:])) if count else []
        return self._json(200, {"data": [{"id": "t_1", "messages": {"data": listed}}]})

    def do_POST(self) -> None:
        """Send API calls and sender actions, and the bench's inbound/mark/fault controls."""
        url = urlparse(self.path)
        body = self._body()
        st = self.state
        if url.path == "/_inbound":
            with st.lock:
                st.conversations[(body["page"], body["person"])].append(
                    {
                        "id": body["mid"],
                        "message": body["text"],
                        "from": {"id": body["person"]},
                        "created_time": _now(),
                    }
                )
            return self._json(200, {"ok": True})
        if url.path == "/_mark":
            st.conversations_limit.start_measuring()
            return self._json(200, {"ok": True})
        if url.path == "/_fault":
            st.fault = body.get("fault", "none")
            return self._json(200, {"fault": st.fault})
        if url.path == "/_model":
            tail = body.get("tail")
            st.set_model(float(body["latency"]), (float(tail[0]), float(tail[1])) if tail else None)
            return self._json(200, {"latency": st.model_latency, "tail": st.model_tail})
        parts = url.path.strip("/").split("/")
        if len(parts) == 3 and parts[2] == "pass_thread_control" and st.routing:
            st.count("pass_thread_control")  # a page with Conversation Routing set up
            return self._json(200, {"success": True})
        if len(parts) != 3 or parts[2] != "messages":
            return self._json(404, {"error": {"code": 803, "message": "unknown path"}})
        page, person = parts[1], str(body.get("recipient", {}).get("id", ""))
        if "sender_action" in body:
            st.count("sender_action")
            time.sleep(st.graph_latency)
            return self._json(200, {"recipient_id": person})
        st.count("send")
        time.sleep(st.graph_latency)
        text = body.get("message", {}).get("text", "")
        if limits.text_too_long(text):
            st.count("send_refused")
            return self._json(400, limits.too_long_error())
        if st.fault == "send500once":
            key = f"{person}:{text}"
            with st.lock:
                first = key not in st.failed_once
                st.failed_once.add(key)
            if first:
                return self._json(500, {"error": {"code": 2, "message": "temporarily unavailable"}})
        mid = f"m_out_{next(st.ids)}"
        with st.lock:
            st.replies[person].append(text)
            st.reply_times[person].append(time.time())
            st.conversations[(page, person)].append(
                {"id": mid, "message": text, "from": {"id": page}, "created_time": _now()}
            )
        return self._json(200, {"recipient_id": person, "message_id": mid})


class ModelHandler(Handler):
    """An OpenAI-compatible server whose reply says how many earlier messages it was given."""

    def do_POST(self) -> None:
        """A chat completion after the configured latency, or the injected failure."""
        body = self._body()
        st = self.state
        calls = st.count("model")
        if st.fault == "model500once" and calls == 1:
            return self._json(500, {"error": {"message": "server error"}})
        if st.fault == "model500":
            return self._json(500, {"error": {"message": "server error"}})
        if st.fault == "model429":
            return self._json(429, {"error": {"message": "rate limited"}})
        messages = body.get("messages", [])
        last = messages[-1]["content"] if messages else ""
        text = f"[offline model] {len(messages) - 1} earlier messages; you said: {last}"
        status, answer = model_kinds.answer(st.model_kind, body, text)
        if status == 200 and _asks_for_a_person(body, last):
            answer = _hand_over(answer, last)
        if status == 200:
            time.sleep(30 if st.fault == "model_slow" else st.model_seconds())
        else:
            st.count("model_refused")
        self._json(status, answer)


def _asks_for_a_person(body: dict, said) -> bool:
    """A model offered the hand-over function that sees the person ask for a human."""
    offered = any(
        (tool.get("function") or {}).get("name") == "hand_to_person"
        for tool in body.get("tools") or []
    )
    words = said.lower() if isinstance(said, str) else ""
    return offered and any(w in words for w in ("a person", "a human", "real person"))


def _hand_over(answer: dict, said: str) -> dict:
    """The completion, as a call of hand_to_person with a reason instead of words."""
    call = {
        "id": "call_standin",
        "type": "function",
        "function": {
            "name": "hand_to_person",
            "arguments": json.dumps({"reason": f"asked for a person: {said[:80]}"}),
        },
    }
    choice = dict(answer["choices"][0], finish_reason="tool_calls")
    choice["message"] = {"role": "assistant", "content": None, "tool_calls": [call]}
    return dict(answer, choices=[choice])


class Server(ThreadingHTTPServer):
    """A listen backlog that holds a burst of new connections: socketserver's default of 5
    drops SYNs (a 1 s retransmit) or resets connections under load. It must be set on the
    class, as the constructor already listens."""

    request_queue_size = 1024
    daemon_threads = True


def serve(port: int, handler: type[Handler], state: State) -> ThreadingHTTPServer:
    """Start one stand-in on loopback in a daemon thread."""
    bound = type(handler.__name__, (handler,), {"state": state})
    server = Server(("127.0.0.1", port), bound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--graph-port", type=int, default=8101)
    parser.add_argument("--model-port", type=int, default=8102)
    parser.add_argument("--graph-latency", type=float, default=0.05)
    parser.add_argument("--model-latency", type=float, default=1.0)
    parser.add_argument(
        "--model-tail",
        type=parse_tail,
        metavar="SHARE:SECONDS",
        help="heavy tail: e.g. 0.1:8, one model call in ten takes 8 s (the same calls every run)",
    )
    parser.add_argument("--fault", choices=sorted(FAULTS), default="none")
    parser.add_argument(
        "--conversations-per-second",
        type=int,
        default=limits.CONVERSATIONS_PER_SECOND,
        help="Conversations API calls per page in any 1 s window (Meta: 2; 0 = no cap)",
    )
    parser.add_argument(
        "--model-kind",
        choices=model_kinds.KINDS,
        default="ollama",
        help="which server's refusals the model stand-in copies (ollama refuses nothing)",
    )
    parser.add_argument(
        "--no-routing",
        action="store_true",
        help="the page has no Conversation Routing: passing a thread is refused (404)",
    )
    args = parser.parse_args()
    state = State(
        args.graph_latency,
        args.model_latency,
        args.fault,
        args.model_kind,
        args.conversations_per_second,
        args.model_tail,
        routing=not args.no_routing,
    )
    serve(args.graph_port, GraphHandler, state)
    serve(args.model_port, ModelHandler, state)
    print(
        f"graph http://127.0.0.1:{args.graph_port}/v26.0  model http://127.0.0.1:{args.model_port}/v1",
        flush=True,
    )
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()


if __name__ == "__main__":
    main()

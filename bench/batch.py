"""One webhook POST carrying many people's messages, because Meta batches events under load.

Every message is stored in the Graph stand-in first, then one signed body goes out with the
events split over several entries (Meta sends several entries, each with several events). It
is delivered like any other: a failed delivery (no 2xx within 5 s) is redelivered at once, then
after 1, 2, 4, 8, 16 s.
"""

from __future__ import annotations

import json
import threading
import time

from .driver import JSON, PAGE_ID, Conn, Delivery, Outcome, Target, deliver, message_text, sign

EVENTS_PER_ENTRY = 50


def batch_body(people: list[str], timestamp: int) -> bytes:
    """One body with each person's first message, EVENTS_PER_ENTRY events to an entry."""
    events = [
        {
            "sender": {"id": who},
            "recipient": {"id": PAGE_ID},
            "timestamp": timestamp,
            "message": {"mid": f"m_{who}_0", "text": message_text(who, 0)},
        }
        for who in people
    ]
    entries = [
        {"id": PAGE_ID, "time": timestamp, "messaging": events[i : i + EVENTS_PER_ENTRY]}
        for i in range(0, len(events), EVENTS_PER_ENTRY)
    ]
    return json.dumps({"object": "page", "entry": entries}).encode()


def drive_batch(
    target: Target, people: list[str], delivery: Delivery, limit: float
) -> tuple[Outcome, float, bool]:
    """Store every message, then deliver the one batched POST; (outcome, wall, finished)."""
    outcome = Outcome()
    graph = Conn(target.graph_port, 10.0)
    hook = Conn(target.service_port, delivery.ack_seconds)
    try:
        for who in people:
            stored = {"page": PAGE_ID, "person": who, "mid": f"m_{who}_0"}
            stored["text"] = message_text(who, 0)
            graph.post("/_inbound", json.dumps(stored).encode(), JSON)
        hook.connect()
        body = batch_body(people, int(time.time() * 1000))
        headers = {**JSON, "X-Hub-Signature-256": sign(body, target.app_secret)}
        stop = threading.Event()
        thread = threading.Thread(
            target=deliver, args=(hook, body, headers, delivery, outcome, stop), daemon=True
        )
        started = time.perf_counter()
        outcome.started_at = time.time()
        thread.start()
        thread.join(limit)
        finished = not thread.is_alive()
        stop.set()
        return outcome, time.perf_counter() - started, finished
    finally:  # a delivery still running after the limit fails on its closed socket and stops
        graph.close()
        hook.close()

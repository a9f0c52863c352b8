"""The HTTP layer, thin: verify the caller, parse the body, hand the events over, answer within
ACK_SECONDS: 200 once every message is kept (app/acknowledge.py), 503 when the store could not
keep one."""

from __future__ import annotations

import json
import logging

from flask import Blueprint, current_app, request

from . import events, metrics, signature
from .deadline import Deadline

META_SECONDS = 5.0  # Meta counts a 200 later than this as a failed delivery

log = logging.getLogger(__name__)

bp = Blueprint("webhook", __name__)


@bp.get("/webhook")
def verify():
    """Meta's subscription handshake: echo the challenge when the verify token matches."""
    args = request.args
    token = args.get("hub.verify_token", "")
    expected = current_app.config["FB_VERIFY_TOKEN"]
    if args.get("hub.mode") == "subscribe" and signature.same_secret(token, expected):
        return args.get("hub.challenge", ""), 200, {"Content-Type": "text/plain"}
    # repr(): the mode comes from anyone on the internet and must not forge a log line.
    log.warning("webhook verification refused (mode=%r)", args.get("hub.mode", "-")[:20])
    return "verification failed", 403


@bp.post("/webhook")
def receive():
    """Check the signature over the raw bytes, parse, hand the events over; say 200 when all
    are kept, within ACK_SECONDS."""
    ack = Deadline(current_app.config["ACK_SECONDS"])
    body = request.get_data(cache=False)  # over MAX_CONTENT_LENGTH: 413 before we get here
    # Meta signs with the app secret; Instagram Login's webhooks may be signed with the
    # Instagram app secret instead (undocumented which): either proves the body is Meta's.
    secrets = (current_app.config["FB_APP_SECRET"], current_app.config["INSTAGRAM_APP_SECRET"])
    header = request.headers.get("X-Hub-Signature-256")
    if not any(secret and signature.is_valid(body, header, secret) for secret in secrets):
        log.warning("webhook refused: missing or wrong X-Hub-Signature-256 (%d bytes)", len(body))
        return "invalid signature", 403
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        log.warning("webhook refused: body is not JSON (%d bytes)", len(body))
        return "body is not valid JSON", 400
    received = list(events.parse(payload))
    if not received:
        log.info("webhook body with no events we handle (object=%r)", _object_of(payload))
        return "EVENT_RECEIVED", 200
    if not current_app.extensions["messenger"].receive(received, ack):
        # What was kept dedups when Meta sends the body again; the rest is kept then.
        return _answered(ack, "some events could not be kept now; deliver again", 503)
    return _answered(ack, "EVENT_RECEIVED", 200)


def _answered(ack: Deadline, text: str, status: int):
    """The answer, with the time it took and how Meta will see it counted."""
    took = ack.elapsed()
    metrics.ACK_SECONDS.observe(took)
    result = "failed" if status >= 500 else "late" if took > META_SECONDS else "ok"
    metrics.DELIVERIES.labels(result).inc()
    return text, status


def _object_of(payload) -> str:
    """What kind of body it was, for the log line."""
    if isinstance(payload, dict):
        return str(payload.get("object", "-"))[:20]
    return type(payload).__name__

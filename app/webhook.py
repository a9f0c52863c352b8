"""The HTTP layer, thin: verify the caller, parse the body, hand the events over, answer 200."""

from __future__ import annotations

import json
import logging

from flask import Blueprint, current_app, request

from . import events, signature
from .deadline import Deadline

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
    log.warning("webhook verification refused (mode=%s)", args.get("hub.mode", "-")[:20])
    return "verification failed", 403


@bp.post("/webhook")
def receive():
    """Check the signature over the raw bytes, parse, answer every event, then say 200."""
    body = request.get_data(cache=False)  # over MAX_CONTENT_LENGTH: 413 before we get here
    secret = current_app.config["FB_APP_SECRET"]
    if not signature.is_valid(body, request.headers.get("X-Hub-Signature-256"), secret):
        log.warning("webhook refused: missing or wrong X-Hub-Signature-256 (%d bytes)", len(body))
        return "invalid signature", 403
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        log.warning("webhook refused: body is not JSON (%d bytes)", len(body))
        return "body is not valid JSON", 400
    deadline = Deadline(current_app.config["REQUEST_BUDGET_SECONDS"])
    received = list(events.parse(payload))
    if not received:
        log.info("webhook body with no events we handle (object=%s)", _object_of(payload))
        return "EVENT_RECEIVED", 200
    if not current_app.extensions["messenger"].handle_all(received, deadline):
        # Answered events dedup when Meta sends the body again; the rest get answered then.
        return "some events could not be answered now; deliver again", 503
    return "EVENT_RECEIVED", 200


def _object_of(payload) -> str:
    """What kind of body it was, for the log line."""
    if isinstance(payload, dict):
        return str(payload.get("object", "-"))[:20]
    return type(payload).__name__

"""Meta's Data Deletion Request Callback, the HTTP layer: `POST /data-deletion` with the form
field `signed_request` (checked with the app secret), answered with the status URL and a
confirmation code; `GET /data-deletion/<code>` shows that status in plain words. The work is
in app/erasure.py. Put `https://YOUR-HOST/data-deletion` in the App Dashboard (App settings →
Basic → Data deletion callback URL)."""

from __future__ import annotations

import logging
import time

from flask import Blueprint, current_app, jsonify, request, url_for

from . import signature
from .store import StoreUnavailable

log = logging.getLogger(__name__)

bp = Blueprint("deletion", __name__)


@bp.post("/data-deletion")
def requested():
    """Check Meta's signed request, erase what matches, confirm with a code."""
    raw = request.form.get("signed_request", "")
    secrets = (current_app.config["FB_APP_SECRET"], current_app.config["INSTAGRAM_APP_SECRET"])
    payload, reason = None, "no signed_request"
    for secret in (s for s in secrets if s):
        try:
            payload = signature.signed_request(raw, secret, time.time())
            break
        except ValueError as exc:
            reason = str(exc)
    if payload is None:
        log.warning("data deletion request refused: %s", reason)
        return f"signed_request refused: {reason}", 400
    erasure = current_app.extensions["erasure"]
    try:
        code, _ = erasure.request(str(payload.get("user_id", "")))
    except StoreUnavailable:
        return "the request cannot be recorded now; send it again", 503
    url = url_for("deletion.status", code=code, _external=True, _scheme="https")
    return jsonify(url=url, confirmation_code=code)


@bp.get("/data-deletion/<code>")
def status(code: str):
    """The request's status in plain words, its code included."""
    try:
        found = current_app.extensions["erasure"].status(code[:64])
    except StoreUnavailable:
        return "the status cannot be read now; try again in a moment", 503
    if found is None:
        return "No deletion request with this confirmation code.", 404, _TEXT
    erased = found["matched"]
    lines = [
        f"Data deletion request {code}",
        f"Received: {found['received']}.",
        f"Status: done. {found['how'][:1].upper() + found['how'][1:]}; "
        + (
            f"{erased} conversation{'s' if erased != 1 else ''} kept by this bot "
            "matched and were erased."
            if erased
            else "nothing kept by this bot matched the id Meta sent, so nothing was kept "
            "about it to erase."
        ),
        "What this bot keeps of a conversation is erased at once when you send "
        '"Delete my data" in the chat.',
    ]
    return "\n".join(lines) + "\n", 200, _TEXT


_TEXT = {"Content-Type": "text/plain; charset=utf-8"}

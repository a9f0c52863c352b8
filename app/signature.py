"""Meta's request signature, its signed_request (the deletion callback), and the
appsecret_proof that Graph calls carry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

PREFIX = "sha256="


def is_valid(body: bytes, header: str | None, app_secret: str) -> bool:
    """Tell whether X-Hub-Signature-256 is the HMAC-SHA256 of the exact bytes received."""
    if not header or not header.startswith(PREFIX) or not app_secret:
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    given = header[len(PREFIX) :].strip().lower().encode("utf-8", "replace")
    return hmac.compare_digest(expected.encode(), given)


def same_secret(given: str, expected: str) -> bool:
    """Compare a secret someone sent (the verify token) in constant time."""
    return hmac.compare_digest(given.encode(), expected.encode())


def sign(body: bytes, app_secret: str) -> str:
    """Build the header value Meta would send for body (tests, emulator, benchmark)."""
    return PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def appsecret_proof(access_token: str, app_secret: str) -> str:
    """Prove to Graph that a call comes from the app that owns the token."""
    return hmac.new(app_secret.encode(), access_token.encode(), hashlib.sha256).hexdigest()


def signed_request(raw: str, app_secret: str, now: float) -> dict:
    """The payload of Meta's `signed_request` (the Data Deletion Request Callback's form
    field): `<signature>.<payload>`, both base64url, the signature the HMAC-SHA256 of the
    payload part as received. ValueError, with the reason, when it is not one of ours."""
    signature_part, dot, payload_part = (raw or "").partition(".")
    if not dot or not signature_part or not payload_part or not app_secret:
        raise ValueError("not a signed request")
    try:
        given = _unbase64(signature_part)
        payload = json.loads(_unbase64(payload_part))
    except (ValueError, UnicodeDecodeError):
        raise ValueError("not base64url JSON") from None
    if not isinstance(payload, dict):
        raise ValueError("the payload is not an object")
    if str(payload.get("algorithm", "")).upper() != "HMAC-SHA256":
        raise ValueError("unknown algorithm")
    expected = hmac.new(app_secret.encode(), payload_part.encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(expected, given):
        raise ValueError("wrong signature")
    expires = payload.get("expires")
    if isinstance(expires, (int, float)) and not isinstance(expires, bool) and 0 < expires < now:
        raise ValueError("expired")
    return payload


def _unbase64(part: str) -> bytes:
    """base64url without its padding, as Meta sends it."""
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))

"""Meta's request signature, and the appsecret_proof that Graph calls carry."""

from __future__ import annotations

import hashlib
import hmac

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

"""Error answers: a short reason for the caller, never a stack trace or a 5xx page."""

from __future__ import annotations

import logging

from flask import Flask
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Answer HTTP errors with their reason and anything unexpected with a logged 200."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return f"{exc.code} {exc.name}", exc.code, {"Content-Type": "text/plain"}

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        # A 5xx makes Meta redeliver the whole batch; the events were already handled or logged.
        log.exception("unexpected error while serving a request")
        return "EVENT_RECEIVED", 200, {"Content-Type": "text/plain"}

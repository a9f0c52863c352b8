"""Liveness for load balancers and uptime checks."""

from flask import Blueprint

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Answer 200 while the process serves requests."""
    return {"status": "ok"}

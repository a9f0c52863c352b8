"""Operations endpoints: liveness for load balancers, and Prometheus metrics for operators."""

from flask import Blueprint, current_app, request

from . import metrics, signature

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Answer 200 while the process serves requests."""
    return {"status": "ok"}


@bp.get("/metrics")
def prometheus():
    """The metrics, summed over every worker, for a caller with METRICS_TOKEN; off (404)
    while no token is set."""
    token = current_app.config["METRICS_TOKEN"]
    if not token:
        return "not found", 404, {"Content-Type": "text/plain"}
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not signature.same_secret(given.strip(), token):
        return "a valid Authorization: Bearer token is needed", 401, {"WWW-Authenticate": "Bearer"}
    body, content_type = metrics.exposition()
    return body, 200, {"Content-Type": content_type}

"""Gunicorn settings: threads wait on the model, so one 2-core host keeps many replies in flight.

Sizing rule: conversations in flight ≈ messages per second × seconds per reply. Give *each*
worker at least that many threads (WEB_THREADS, default 128): Meta's keep-alive connections
do not spread evenly over the workers, and a request queued behind a full worker waits a whole
model call (measured in docs/benchmark.md). Workers follow the cores (WEB_CONCURRENCY, which
Heroku sets; default cores + 1); threads only wait on upstreams, so they are cheap.
"""

import sys

from config import ConfigError, cores, serving
from config import load as _load_settings  # a module named `config` would clash with a setting

# Refuse to start, in the master and before any worker forks, when a setting is missing:
# one clear line, no traceback, never a service that accepts unsigned requests.
try:
    _settings = _load_settings()
    _serving = serving()
except ConfigError as exc:
    sys.exit(f"error: {exc}")

bind = f"0.0.0.0:{_serving['PORT']}"
worker_class = "gthread"
# One more worker than cores: bursts are GIL-bound, and an extra process keeps both cores busy
# (measured: 3 workers on 2 cores, p99 1.43 s against 1.57 s with 2; docs/benchmark.md).
workers = _serving["WEB_CONCURRENCY"] or cores() + 1
threads = _settings["WEB_THREADS"]
# Above the request budget, so a slow reply is finished rather than killed half-sent.
timeout = int(_settings["REQUEST_BUDGET_SECONDS"]) + 15
# On SIGTERM (a deploy, a restart) a worker stops accepting and finishes the replies in flight:
# each ends within the budget (at most 19 s), so budget + 5 s is enough, and stays under the
# 30 s Heroku allows between SIGTERM and SIGKILL.
graceful_timeout = int(_settings["REQUEST_BUDGET_SECONDS"]) + 5
keepalive = 75
# No access log by default: each event already gets a log line with its outcome, Heroku's
# router logs every request, and the line cost about 0.5 ms of CPU per message (bench/).
# Turn it on with GUNICORN_CMD_ARGS="--access-logfile -". Its format leaves out query
# strings: Meta's verification request carries the verify token in one.
accesslog = None
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'

"""Gunicorn settings: threads wait on the model, so one 2-core host keeps many replies in flight.

Sizing rule: conversations in flight ≈ messages per second × seconds per reply. Give *each*
worker at least that many threads (WEB_THREADS, default 128): Meta's keep-alive connections
do not spread evenly over the workers. At most half of them wait for replies before their 200,
and none once all are taken (app/acknowledge.py), so a burst never queues a delivery behind a
full worker. Workers follow the cores (WEB_CONCURRENCY, which Heroku sets; default cores + 1);
threads only wait on upstreams, so they are cheap.
"""

import os
import shutil
import sys
import tempfile

from config import HEROKU_DISK, ConfigError, cores, dyno_without_redis, serving
from config import load as _load_settings  # (a module named `config` would clash)

# Refuse to start, in the master and before any worker forks (or any metrics directory is
# made), when a setting is missing: one clear line, no traceback, never a service that accepts
# unsigned requests.
try:
    _settings = _load_settings()
    _serving = serving()
except ConfigError as exc:
    sys.exit(f"error: {exc}")

# Prometheus's multiprocess mode: every worker writes its samples into one directory, which
# must be known before prometheus_client is first imported (in the workers, after the fork:
# gunicorn sets raw_env in the master before it forks any) and must not hold a previous run's
# files. So it is always a directory this service made itself, inside the operator's
# PROMETHEUS_MULTIPROC_DIR when set (else the temp dir), and only that one is ever removed:
# the operator's directory and what it holds are never touched. Its path is also kept in the
# master's environment under MADE_MARK with the master's pid: a reload (kill -HUP) runs this
# file again in the same master, keeps the directory (the counters go on), and on_exit knows
# exactly what it may remove.
MADE_MARK = "MESSENGER_OWN_METRICS_DIR"


def made_metrics_dir() -> str | None:
    """The metrics directory this master made, if it made one."""
    pid, _, made = os.environ.get(MADE_MARK, "").partition(":")
    return made if pid == str(os.getpid()) and os.path.isdir(made) else None


def _metrics_dir() -> str:
    """This master's metrics directory: the one it made before a reload, or a fresh one."""
    made = made_metrics_dir()
    if made:
        return made
    parent = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.gettempdir()
    try:
        os.makedirs(parent, exist_ok=True)
        made = tempfile.mkdtemp(prefix="messenger-metrics-", dir=parent)
    except OSError as exc:
        sys.exit(
            f"error: PROMETHEUS_MULTIPROC_DIR {parent}: cannot make the metrics directory there"
            f" ({exc.strerror or exc})"
        )
    os.environ[MADE_MARK] = f"{os.getpid()}:{made}"
    return made


raw_env = [f"PROMETHEUS_MULTIPROC_DIR={_metrics_dir()}"]  # gunicorn sets it in every worker

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


def when_ready(server):
    """Once, in the master, at start-up: a Heroku dyno keeping the store in SQLite loses it
    with every restart (the workers each load the settings, but one line is enough)."""
    if dyno_without_redis(_settings):
        server.log.warning("on Heroku %s; set REDIS_URL", HEROKU_DISK)


def post_worker_init(worker):
    """A worker starts beating, and so recovering what a dead process acknowledged, before its
    first request: after a crash, Meta sends none of the messages it already had a 200 for."""
    worker.wsgi.extensions["messenger"].start()


def child_exit(server, worker):
    """A worker ended: its live gauges leave the sums (counters keep what it counted). The
    directory comes from gunicorn's own settings: this file's globals are gone by now."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, server.cfg.env["PROMETHEUS_MULTIPROC_DIR"])


def on_exit(server):
    """The service stops: the metrics directory it made goes with it, and nothing else (not
    whatever another setting of PROMETHEUS_MULTIPROC_DIR may name by now)."""
    made = made_metrics_dir()
    if made:
        shutil.rmtree(made, ignore_errors=True)

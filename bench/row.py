"""One benchmark row: fresh stand-ins, ledger and service; warm-up; the measured run; a tally."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import config

from . import procs as P
from .driver import Delivery, Target, drive
from .tally import percentile, tally

FALLBACK = "BENCH FALLBACK: sorry, no answer right now."
HISTORY_MESSAGES = 10
WARMUP_MESSAGES = 2
APP_SECRET = "bench-app-secret"


@dataclass(frozen=True)
class Row:
    """What one row drives and which fault it injects."""

    name: str
    people: int
    messages: int
    fault: str = "none"
    budget: float = 15.0
    delivery: Delivery = field(default_factory=Delivery)
    kill_worker: bool = False


@dataclass(frozen=True)
class Setup:
    """What every row shares."""

    model_latency: float = 1.0
    graph_latency: float = 0.05
    store: str = "sqlite"
    redis_url: str = ""
    warmup_people: int = 24
    workers: int | None = None
    threads: int | None = None
    keep: bool = False


def _call(port: int, method: str, path: str, body: dict | None = None) -> dict:
    """One JSON request to a stand-in's control endpoint."""
    conn = http.client.HTTPConnection(P.LOOPBACK, port, timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, data, {"Content-Type": "application/json"})
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def _settle(graph_port: int, quiet: float, limit: float) -> dict:
    """Stand-in stats once no reply has arrived for `quiet` seconds (late sends count too)."""
    deadline = time.monotonic() + limit
    stats = _call(graph_port, "GET", "/_stats")
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        total = sum(len(r) for r in stats["replies"].values())
        if total != last:
            last, since = total, time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
        time.sleep(0.25)
        stats = _call(graph_port, "GET", "/_stats")
    return stats


def _start(row: Row, setup: Setup, procs: P.Procs) -> tuple[Target, object, object, object]:
    """Stand-ins, optional Redis and the service, each ready; (target, procs of each)."""
    graph_port, model_port, port = P.free_port(), P.free_port(), P.free_port()
    standins = procs.start(
        "standins",
        [sys.executable, "-m", "bench.standins", "--graph-port", str(graph_port)]
        + ["--model-port", str(model_port), "--fault", "none"]
        + ["--graph-latency", str(setup.graph_latency)]
        + ["--model-latency", str(setup.model_latency)],
    )
    P.wait_http(graph_port, "/_stats", standins, 15, "standins", procs)
    redis = None
    redis_url = setup.redis_url
    if setup.store == "redis" and not redis_url:
        redis_url = P.start_redis(procs)
        redis = procs.started[-1]
    settings = {
        "FB_APP_SECRET": APP_SECRET,
        "FB_VERIFY_TOKEN": "bench-verify-token",
        "FB_PAGE_ACCESS_TOKEN": "bench-page-token",
        "OPENAI_API_KEY": "bench-model-key",
        "FB_GRAPH_API_URL": f"http://{P.LOOPBACK}:{graph_port}/v26.0",
        "OPENAI_BASE_URL": f"http://{P.LOOPBACK}:{model_port}/v1",
        "PORT": str(port),
        "GUNICORN_CMD_ARGS": f"--bind {P.LOOPBACK}:{port}",  # loopback only
        "REQUEST_BUDGET_SECONDS": str(row.budget),
        "LEDGER_PATH": str(procs.workdir / "ledger.sqlite3"),
        "SPEND_LIMIT": "1000",
        "FALLBACK_REPLY": FALLBACK,
        "SYSTEM_PROMPT": "",
        "HISTORY_MESSAGES": str(HISTORY_MESSAGES),
    }
    if setup.store == "redis":
        settings["REDIS_URL"] = redis_url
    if setup.workers:
        settings["WEB_CONCURRENCY"] = str(setup.workers)
    if setup.threads:
        settings["WEB_THREADS"] = str(setup.threads)
    env = P.service_env(settings)
    service = procs.start("service", P.procfile_command(env), env)
    P.wait_http(port, "/healthz", service, 60, "service", procs)
    workers = setup.workers or config.cores() + 1  # gunicorn.conf.py default
    deadline = time.monotonic() + 30
    while len(P.children(service.pid)) < workers and time.monotonic() < deadline:
        time.sleep(0.1)
    return Target(port, graph_port, APP_SECRET), standins, service, redis


def _killer(service_pid: int, at: float, log: dict):
    """A callback that SIGKILLs one gunicorn worker `at` seconds after the clock starts."""

    def on_start(started: float) -> None:
        """Arm the timer when the measured phase begins."""

        def kill() -> None:
            """Kill the first worker found, mid-request; remember which and when."""
            workers = P.children(service_pid)
            if workers:
                os.kill(workers[0], signal.SIGKILL)
                log.update(pid=workers[0], at=round(time.perf_counter() - started, 2))

        timer = threading.Timer(at, kill)
        timer.daemon = True
        timer.start()

    return on_start


def run_row(row: Row, setup: Setup) -> dict:
    """Run one row on fresh processes and return every figure it measured."""
    workdir = Path(tempfile.mkdtemp(prefix=f"bench-{row.name}-"))
    procs = P.Procs(workdir)
    try:
        return _measure(row, setup, procs)
    finally:
        procs.stop()
        if not setup.keep:
            shutil.rmtree(workdir, ignore_errors=True)


def _measure(row: Row, setup: Setup, procs: P.Procs) -> dict:
    """Start, warm up, measure, settle, tally."""
    target, standins, service, redis = _start(row, setup, procs)
    nonce = str(secrets.randbelow(900_000) + 100_000)  # ids unique even on a shared Redis
    warm = [f"9{nonce}{i:05d}" for i in range(setup.warmup_people)]
    warm_out, warm_wall, _ = drive(target, warm, WARMUP_MESSAGES, Delivery(), 120)
    if row.fault != "none":
        _call(target.graph_port, "POST", "/_fault", {"fault": row.fault})

    rtt = {
        "graph_standin": P.round_trip_ms(target.graph_port, "/_nagle_check"),
        "service_healthz": P.round_trip_ms(target.service_port, "/healthz"),
    }
    people = [f"1{nonce}{i:05d}" for i in range(row.people)]
    d = row.delivery
    attempts = len(d.backoffs) + 1
    limit = row.messages * attempts * (d.timeout + max(d.backoffs, default=0)) * 2 + 30
    per_message = setup.model_latency + 3 * setup.graph_latency
    killed: dict = {}
    on_start = None
    if row.kill_worker:  # mid model call of the second message
        at = per_message + 2 * setup.graph_latency + setup.model_latency / 2
        on_start = _killer(service.pid, at, killed)

    before_counts = _call(target.graph_port, "GET", "/_stats")["counts"]
    cpu0 = _cpu(service, standins, redis)
    box0, tcp0 = P.box_ticks(), P.tcp_counters()
    outcome, wall, finished = drive(target, people, row.messages, d, limit, on_start)
    cpu1 = _cpu(service, standins, redis)
    box1, tcp1 = P.box_ticks(), P.tcp_counters()
    stats = _settle(target.graph_port, quiet=1.0, limit=row.budget + 10)

    counted = tally(stats["replies"], people, row.messages, FALLBACK, HISTORY_MESSAGES)
    counts = {k: v - before_counts.get(k, 0) for k, v in stats["counts"].items()}
    graph_calls = sum(counts.get(k, 0) for k in ("history", "sender_action", "send"))
    sent = row.people * row.messages
    ideal = row.messages * per_message
    busy, total = (b - a for a, b in zip(box0, box1, strict=True))
    cpu_ms = {k: (cpu1[k] - cpu0[k]) * 1000 / sent for k in cpu0}
    return {
        "row": row.name,
        "fault": row.fault,
        "people": row.people,
        "messages": row.messages,
        "budget_s": row.budget,
        "sent": sent,
        "replies": counted.replies,
        "lost": counted.lost,
        "duplicated": counted.duplicated,
        "fallbacks": counted.fallbacks,
        "unknown_replies": counted.unknown,
        "wrong_context": counted.wrong_context,
        "posts": outcome.posts,
        "redeliveries": outcome.redeliveries,
        "undelivered": outcome.undelivered,
        "statuses": {str(k): v for k, v in outcome.statuses.items()},
        "p50_ms": percentile(outcome.latencies, 50) * 1000,
        "p99_ms": percentile(outcome.latencies, 99) * 1000,
        "max_ms": max(outcome.latencies, default=float("nan")) * 1000,
        "msgs_per_s": sent / wall,
        "wall_s": wall,
        "ideal_s": ideal,
        "efficiency": ideal / wall,
        "graph_calls_per_reply": graph_calls / counted.replies if counted.replies else None,
        "model_calls": counts.get("model", 0),
        "stand_in_counts": counts,
        "service_cpu_ms_per_msg": cpu_ms["service"],
        "standins_cpu_ms_per_msg": cpu_ms["standins"],
        "driver_cpu_ms_per_msg": cpu_ms["driver"],
        "redis_cpu_ms_per_msg": cpu_ms.get("redis"),
        "box_busy_pct": 100.0 * busy / total if total else 0.0,
        "round_trip_ms": {k: round(v, 2) for k, v in rtt.items()},
        "tcp": {k: tcp1[k] - tcp0[k] for k in tcp0},
        "latency_histogram_ms": _histogram(outcome.latencies),
        "warmup": {
            "people": len(warm),
            "messages": len(warm) * WARMUP_MESSAGES,
            "wall_s": round(warm_wall, 2),
            "undelivered": warm_out.undelivered,
        },
        "killed_worker": killed or None,
        "finished": finished,
        "workdir": str(procs.workdir) if setup.keep else None,
        "pass": finished and counted.lost == 0 and counted.duplicated == 0,
    }


def _histogram(latencies: list[float], step: float = 0.25) -> dict[str, int]:
    """How many POSTs answered in each 250 ms band: shows a second mode (e.g. +1 s stalls)."""
    bands: dict[str, int] = {}
    for seconds in sorted(latencies):
        low = int(seconds / step) * step
        label = f"{low * 1000:.0f}-{(low + step) * 1000:.0f}"
        bands[label] = bands.get(label, 0) + 1
    return bands


def _cpu(service, standins, redis) -> dict[str, float]:
    """CPU seconds so far of the service's group, the stand-ins, Redis and the driver."""
    out = {
        "service": P.group_cpu(service.pid),
        "standins": P.group_cpu(standins.pid),
        "driver": P.self_cpu(),
    }
    if redis is not None:
        out["redis"] = P.group_cpu(redis.pid)
    return out

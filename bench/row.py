"""One benchmark row: fresh stand-ins, ledger and service; warm-up; the measured run; a tally."""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import kills, limits
from . import procs as P
from .batch import drive_batch
from .driver import CONNECTION, Delivery, Target, drive
from .router import Router
from .tally import percentile, tally

FALLBACK = "BENCH FALLBACK: sorry, no answer right now."
HISTORY_MESSAGES = 10
WARMUP_MESSAGES = 2
APP_SECRET = "bench-app-secret"
CRASH_AT, CRASH_DOWN = 2.0, 1.0  # seconds into the run; seconds before the restart
AFTER_ACK = 1.0  # an after-ack fault: seconds after the first POST ended (its 200 or deadline)
WARMUP_MODEL_LATENCY = 1.0  # at most: a warm-up only needs every worker to have made calls
# The warm-up is not measured: it waits long for its answers rather than redeliver.
WARMUP_DELIVERY = Delivery(ack_seconds=30.0)
CRASHED_HOST = 0  # the host a host crash kills: the first one (people 0, N, 2N, ...)
# A dead process is found after 10 s without a heartbeat, by a recovery scan every 2 s
# (README, "Inside Meta's five seconds"); its messages are then answered within the budget.
RECOVERY_SECONDS = 12.0
FAULT_LIMIT = 120.0  # seconds: a fault not over by then is not waited for any longer


def host_name(host: int) -> str:
    """A host's process name (and log file) in a row with several: host1, host2, ..."""
    return f"host{host + 1}"


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
    crash: bool = False  # the whole service SIGKILLed and started again
    # The kill or crash comes AFTER_ACK s after the first POST ended (its 200, or the 5 s
    # deadline): after the 200s went out, before the replies. Otherwise at a fixed moment,
    # mid-request.
    after_ack: bool = False
    batch: bool = False  # every person's one message in a single POST
    model_latency: float | None = None  # this row's model latency (default: the setup's)
    model_tail: tuple[float, float] | None = None  # (share, seconds); default: the setup's
    # Several services ("hosts") on one Redis, each person routed to one (bench/router.py).
    hosts: int = 1
    host_crash: bool = False  # one host SIGKILLed (master and workers), never restarted
    # Every message after the first waits until the fault is over and each person's first
    # message has its reply: then people write again (a dead host's people through the router).
    write_again: bool = False

    def excused(self) -> frozenset[str]:
        """Failed deliveries the row's fault causes by itself: a worker or host killed
        mid-request cuts the connections of the POSTs in flight. After the 200s, none."""
        cut = (self.kill_worker or self.crash or self.host_crash) and not self.after_ack
        return frozenset({CONNECTION}) if cut else frozenset()


@dataclass(frozen=True)
class Setup:
    """What every row shares."""

    model_latency: float = 1.0
    model_tail: tuple[float, float] | None = None  # (share, seconds): one call in 1/share slow
    graph_latency: float = 0.05
    store: str = "sqlite"
    redis_url: str = ""
    warmup_people: int = 24
    workers: int | None = None
    threads: int | None = None
    keep: bool = False
    conversations_per_second: int = limits.CONVERSATIONS_PER_SECOND
    service_dir: Path = P.ROOT
    host_workers: int = 1  # WEB_CONCURRENCY of each host in a row with several


def _call(port: int, method: str, path: str, body: dict | None = None) -> dict:
    """One JSON request to a stand-in's control endpoint."""
    conn = http.client.HTTPConnection(P.LOOPBACK, port, timeout=10)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, data, {"Content-Type": "application/json"})
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


def _settle(graph_port: int, people: list[str], messages: int, grace: float, limit: float) -> dict:
    """Stand-in stats once every person has a reply for every message, then `grace` seconds
    more for late duplicates; or once `limit` seconds passed. Replies may follow the 200 (and
    a message recovered after a crash much later), so waiting for a quiet spell is not enough."""
    deadline = time.monotonic() + limit
    while True:
        stats = _call(graph_port, "GET", "/_stats")
        answered = tally(stats["replies"], people, messages, FALLBACK, HISTORY_MESSAGES).lost == 0
        if answered:
            time.sleep(max(0.0, min(grace, deadline - time.monotonic())))
            return _call(graph_port, "GET", "/_stats")
        if time.monotonic() >= deadline:
            return stats
        time.sleep(0.25)


def _wait_workers(service, wanted: int | None) -> int:
    """Wait for gunicorn's workers: `wanted` of them, or until their number holds for 1 s."""
    deadline = time.monotonic() + 30
    seen, steady = 0, time.monotonic()
    while time.monotonic() < deadline:
        now = len(P.children(service.pid))
        if wanted and now >= wanted:
            return now
        if now != seen:
            seen, steady = now, time.monotonic()
        elif not wanted and now and time.monotonic() - steady >= 1.0:
            return now
        time.sleep(0.1)
    return seen


def _start(row: Row, setup: Setup, procs: P.Procs) -> tuple[Target, int, str]:
    """Stand-ins, optional Redis and the service (or each host), each ready; the target, the
    number of workers (over every host), the service's cwd."""
    graph_port, model_port = P.free_port(), P.free_port()
    standins = procs.start(
        "standins",
        [sys.executable, "-m", "bench.standins", "--graph-port", str(graph_port)]
        + ["--model-port", str(model_port), "--fault", "none"]
        + ["--graph-latency", str(setup.graph_latency)]
        + ["--model-latency", str(min(setup.model_latency, WARMUP_MODEL_LATENCY))]
        + ["--conversations-per-second", str(setup.conversations_per_second)],
    )
    P.wait_http(graph_port, "/_stats", standins, 15, "standins", procs)
    if row.hosts > 1 and setup.store != "redis":
        raise RuntimeError(f"{row.name}: several hosts share one store only with --store redis")
    redis_url = setup.redis_url
    if setup.store == "redis" and not redis_url:
        redis_url = P.start_redis(procs)
    settings = {
        "FB_APP_SECRET": APP_SECRET,
        "FB_VERIFY_TOKEN": "bench-verify-token",
        "FB_PAGE_ACCESS_TOKEN": "bench-page-token",
        "OPENAI_API_KEY": "bench-model-key",
        "FB_GRAPH_API_URL": f"http://{P.LOOPBACK}:{graph_port}/v26.0",
        "OPENAI_BASE_URL": f"http://{P.LOOPBACK}:{model_port}/v1",
        "REQUEST_BUDGET_SECONDS": str(row.budget),
        "LEDGER_PATH": str(procs.workdir / "ledger.sqlite3"),
        # Set even when empty: a .env beside the service must not point it at another Redis.
        "REDIS_URL": redis_url if setup.store == "redis" else "",
        "SPEND_LIMIT": "1000",
        "FALLBACK_REPLY": FALLBACK,
        "SYSTEM_PROMPT": "",
        "HISTORY_MESSAGES": str(HISTORY_MESSAGES),
    }
    workers = setup.host_workers if row.hosts > 1 else setup.workers
    if workers:
        settings["WEB_CONCURRENCY"] = str(workers)
    if setup.threads:
        settings["WEB_THREADS"] = str(setup.threads)
    names = [host_name(h) for h in range(row.hosts)] if row.hosts > 1 else ["service"]
    ports = [P.free_port() for _ in names]
    started = []
    for name, port in zip(names, ports, strict=True):
        own = {
            "PORT": str(port),
            "GUNICORN_CMD_ARGS": f"--bind {P.LOOPBACK}:{port}",  # loopback only
        }
        if row.hosts > 1:  # a host's local files are its own, as on a machine of its own
            instance = procs.workdir / name
            instance.mkdir(exist_ok=True)
            own |= {"INSTANCE_PATH": str(instance), "LEDGER_PATH": str(instance / "ledger.sqlite3")}
        env = P.service_env({**settings, **own}, setup.service_dir)
        argv = P.procfile_command(env, setup.service_dir)
        started.append(procs.start(name, argv, env, cwd=setup.service_dir))
    total = 0
    for name, port, service in zip(names, ports, started, strict=True):
        P.wait_http(port, "/healthz", service, 60, name, procs)
        total += _wait_workers(service, workers)
    router = Router(ports) if row.hosts > 1 else None
    target = Target(ports[0], graph_port, APP_SECRET, router)
    return target, total, os.readlink(f"/proc/{started[0].pid}/cwd")


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
    target, workers, service_cwd = _start(row, setup, procs)
    nonce = str(secrets.randbelow(900_000) + 100_000)  # ids unique even on a shared Redis
    warm = [f"9{nonce}{i:05d}" for i in range(setup.warmup_people)]
    warm_out, warm_wall, _ = drive(target, warm, WARMUP_MESSAGES, WARMUP_DELIVERY, 300)
    time.sleep(1.0)  # the warm-up's history reads leave Meta's 1 s window
    if row.fault != "none":
        _call(target.graph_port, "POST", "/_fault", {"fault": row.fault})
    latency = setup.model_latency if row.model_latency is None else row.model_latency
    tail = row.model_tail or setup.model_tail
    _call(target.graph_port, "POST", "/_model", {"latency": latency, "tail": tail})

    rtt = {
        "graph_standin": P.round_trip_ms(target.graph_port, "/_nagle_check"),
        "service_healthz": P.round_trip_ms(target.service_port, "/healthz"),
    }
    people = [f"1{nonce}{i:05d}" for i in range(row.people)]
    d = row.delivery
    limit = row.messages * d.worst() + 30
    per_message = latency + 3 * setup.graph_latency
    killed: dict = {}
    on_start = None
    if row.kill_worker:  # mid model call of the second message, or after the first 200s
        at = per_message + 2 * setup.graph_latency + latency / 2
        when = kills.after_first_end(AFTER_ACK) if row.after_ack else kills.at(at)
        on_start = kills.kill_worker(procs, when, killed)
    if row.crash:
        when = kills.after_first_end(AFTER_ACK) if row.after_ack else kills.at(CRASH_AT)
        on_start = kills.crash(procs, target.service_port, when, CRASH_DOWN, killed)
    if row.host_crash:
        when = kills.after_first_end(AFTER_ACK) if row.after_ack else kills.at(CRASH_AT)
        on_start = kills.crash_host(procs, host_name(CRASHED_HOST), when, killed)
    if target.router:
        target.router.clear()  # the warm-up's POSTs are not counted
    gate, gated = None, {}
    if row.write_again:
        gate = threading.Event()
        wait = row.budget + RECOVERY_SECONDS + 10  # after the fault: the first replies' time
        limit += wait + AFTER_ACK + d.ack_seconds + 10
        fault = killed if row.kill_worker or row.crash or row.host_crash else None
        on_start = _gated(on_start, target.graph_port, people, fault, gate, wait, gated)

    before_counts = _call(target.graph_port, "GET", "/_stats")["counts"]
    _call(target.graph_port, "POST", "/_mark")
    cpu0 = _cpu(procs)
    box0, tcp0 = P.box_ticks(), P.tcp_counters()
    if row.batch:
        outcome, wall, finished = drive_batch(target, people, d, limit)
    else:
        outcome, wall, finished = drive(target, people, row.messages, d, limit, on_start, gate)
    box1, tcp1 = P.box_ticks(), P.tcp_counters()
    deadline = time.monotonic() + AFTER_ACK + d.ack_seconds + CRASH_AT + CRASH_DOWN + 70
    faulty = row.kill_worker or row.crash or row.host_crash
    while faulty and "done" not in killed and time.monotonic() < deadline:
        time.sleep(0.1)  # a short run must not end before the fault (and the restart) did
    sent = row.people * row.messages
    slowest = max(latency, tail[1] if tail else 0.0)
    # Until every message has its reply (bounded: the budget + 10 s), then time for duplicates.
    stats = _settle(target.graph_port, people, row.messages, max(0.5, slowest), row.budget + 10)
    cpu1 = _cpu(procs)  # after the settle: work done after the 200 counts too

    counted = tally(stats["replies"], people, row.messages, FALLBACK, HISTORY_MESSAGES)
    counts = {k: v - before_counts.get(k, 0) for k, v in stats["counts"].items()}
    graph_calls = sum(counts.get(k, 0) for k in ("history", "sender_action", "send"))
    conversations = stats["conversations"]
    # Until the last POST returned or the last reply arrived, whichever was later.
    last_reply = max((t for p in people for t in stats["reply_times"].get(p, [])), default=0)
    total_wall = max(wall, last_reply - outcome.started_at)
    ideal = row.messages * per_message
    if tail and sent * tail[0] >= 1:  # some person waits for one slow call
        ideal += tail[1] - latency
    excused = sum(n for kind, n in outcome.failed.items() if kind in row.excused())
    failed = outcome.failed_deliveries
    busy, total = (b - a for a, b in zip(box0, box1, strict=True))
    cpu_ms = {k: (cpu1[k] - cpu0[k]) * 1000 / sent for k in cpu0}
    fallbacks_ok = not row.batch or counted.fallbacks == 0
    # Meta's cap is per page, whichever host reads: several hosts must hold it together.
    cap_held = row.hosts == 1 or conversations["peak_per_second"] <= limits.CONVERSATIONS_PER_SECOND
    return {
        "row": row.name,
        "fault": row.fault,
        "people": row.people,
        "messages": row.messages,
        "budget_s": row.budget,
        "model_latency_s": latency,
        "model_tail": list(tail) if tail else None,
        "ack_seconds": d.ack_seconds,
        "graph_latency_s": setup.graph_latency,
        "store": setup.store,
        "service_dir": service_cwd,  # where the running service was started, read from /proc
        "workers": workers,
        "hosts": row.hosts,
        "router": target.router.stats() if target.router else None,
        "sent": sent,
        "replies": counted.replies,
        "lost": counted.lost,
        "duplicated": counted.duplicated,
        "fallbacks": counted.fallbacks,
        "unknown_replies": counted.unknown,
        "wrong_context": counted.wrong_context,
        "fidelity_pct": counted.fidelity_pct,
        "later_replies": counted.later_replies,
        "faithful_replies": counted.faithful,
        "conversations_cap": conversations["cap_per_second"],
        "conversation_calls": conversations["calls"],
        "conversations_throttled": conversations["throttled"],
        "conversations_peak_per_s": conversations["peak_per_second"],
        "send_refused": counts.get("send_refused", 0),
        "posts": outcome.posts,
        "failed_deliveries": failed,
        "failed_by": dict(outcome.failed),
        "excused_failures": excused,
        "ack_p50_ms": percentile(outcome.acks, 50) * 1000,
        "ack_p99_ms": percentile(outcome.acks, 99) * 1000,
        "redeliveries": outcome.redeliveries,
        "undelivered": outcome.undelivered,
        "statuses": {str(k): v for k, v in outcome.statuses.items()},
        "p50_ms": percentile(outcome.latencies, 50) * 1000,
        "p99_ms": percentile(outcome.latencies, 99) * 1000,
        "max_ms": max(outcome.latencies, default=float("nan")) * 1000,
        "msgs_per_s": sent / total_wall,
        "wall_s": total_wall,
        "posts_wall_s": wall,
        "ideal_s": ideal,
        "efficiency": ideal / total_wall,
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
        "killed_worker": killed if row.kill_worker else None,
        "crash": killed if row.crash else None,
        "host_crash": killed if row.host_crash else None,
        "write_again": gated or None,
        "finished": finished,
        "workdir": str(procs.workdir) if setup.keep else None,
        "pass": finished
        and counted.lost == 0
        and counted.duplicated == 0
        # The main row's fidelity is one of its targets (bench/floor keeps no history).
        and (row.name == "main" or counted.faithful_enough)
        and failed - excused == 0
        and fallbacks_ok
        and cap_held,
    }


def _gated(on_start, graph_port: int, people: list[str], fault: dict | None, gate, wait, log: dict):
    """An on_start that also opens `gate` once the fault is done (if any: its log has "done")
    and every person's first message has its reply, or `wait` s after the fault at most."""

    def watch(started: float) -> None:
        try:
            ends = time.monotonic() + FAULT_LIMIT
            while fault is not None and "done" not in fault and time.monotonic() < ends:
                time.sleep(0.1)
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                replies = _call(graph_port, "GET", "/_stats")["replies"]
                if tally(replies, people, 1, FALLBACK, HISTORY_MESSAGES).lost == 0:
                    log["answered"] = True
                    break
                time.sleep(0.25)
            else:
                log["answered"] = False
        except (OSError, ValueError) as exc:
            log["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            log["opened_at"] = round(time.perf_counter() - started, 2)
            gate.set()

    def arm(started: float, outcome) -> None:
        if on_start:
            on_start(started, outcome)
        threading.Thread(target=watch, args=(started,), daemon=True).start()

    return arm


def _histogram(latencies: list[float], step: float = 0.25) -> dict[str, int]:
    """How many POSTs answered in each 250 ms band: shows a second mode (e.g. +1 s stalls)."""
    bands: dict[str, int] = {}
    for seconds in sorted(latencies):
        low = int(seconds / step) * step
        label = f"{low * 1000:.0f}-{(low + step) * 1000:.0f}"
        bands[label] = bands.get(label, 0) + 1
    return bands


def _cpu(procs: P.Procs) -> dict[str, float]:
    """CPU seconds so far of the service (every host; killed instances too), stand-ins,
    Redis, driver."""
    out = {name: procs.cpu(name) for name in ("standins", "redis") if name in procs.latest}
    hosts = [name for name in procs.latest if name == "service" or name.startswith("host")]
    out["service"] = sum(procs.cpu(name) for name in hosts)
    out["driver"] = P.self_cpu()
    return out

"""Load and fault benchmark of the webhook service against local Graph and model stand-ins.

    .venv/bin/python -m bench.run --people 100 --messages 3 --model-latency 1.0 --graph-latency 0.05
    .venv/bin/python -m bench.run --store redis --matrix --repeat 3 --json results.json

Any venv with requirements.txt installed will do; run from the repository root. Each row
starts fresh stand-ins (`bench.standins`), a fresh ledger and the service exactly as the
Procfile's `web:` line runs it, waits for /healthz, warms up with separate people, then drives
every person at once, Meta-style (see bench/driver.py), and counts per person what the Graph
stand-in received. `--matrix` adds one row per injected fault; `--repeat N` runs the main row
N times and prints the median. Columns and results: docs/benchmark.md.
"""

from __future__ import annotations

import argparse
import json
import math
import signal
import statistics
import sys

from .driver import Delivery
from .row import Row, Setup, run_row

TARGET_EFFICIENCY = 0.85
TARGET_P99_MS = 1500.0
TARGET_CPU_MS = 5.0

COLUMNS = [  # (header, key, width, number format; text columns have none and align left)
    ("row", "row", 12, ""),
    ("UxK", "load", 6, ""),
    ("lost", "lost", 4, "d"),
    ("dup", "duplicated", 4, "d"),
    ("fallbk", "fallbacks", 6, "d"),
    ("redel", "redeliveries", 5, "d"),
    ("p50ms", "p50_ms", 6, ".0f"),
    ("p99ms", "p99_ms", 6, ".0f"),
    ("msg/s", "msgs_per_s", 6, ".1f"),
    ("wall s", "wall_s", 6, ".2f"),
    ("ideal", "ideal_s", 5, ".2f"),
    ("eff", "efficiency", 4, ".2f"),
    ("graph/r", "graph_calls_per_reply", 7, ".2f"),
    ("svc ms", "service_cpu_ms_per_msg", 6, ".2f"),
    ("stub ms", "standins_cpu_ms_per_msg", 7, ".2f"),
    ("drv ms", "driver_cpu_ms_per_msg", 6, ".2f"),
    ("box%", "box_busy_pct", 4, ".0f"),
    ("result", "result", 6, ""),
]


def _cell(value, width: int, spec: str) -> str:
    """One table cell: numbers right-aligned, text left, NaN and missing values a dash."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-".rjust(width)
    if spec:
        return format(round(value) if spec == "d" else value, spec).rjust(width)
    return str(value).ljust(width)


def header() -> str:
    """The table's header line."""
    return " ".join(h.rjust(w) if spec else h.ljust(w) for h, _, w, spec in COLUMNS)


def line(result: dict) -> str:
    """One result as a table line."""
    shown = {
        **result,
        "load": f"{result['people']}x{result['messages']}",
        "result": ("PASS" if result["pass"] else "FAIL")
        + ("" if result.get("finished", True) else " (timed out)"),
    }
    return " ".join(_cell(shown[key], w, spec) for _, key, w, spec in COLUMNS)


def notes(result: dict) -> list[str]:
    """What the table cannot show: odd statuses, context errors, the killed worker."""
    out = []
    odd = {k: v for k, v in result["statuses"].items() if k != "200"}
    if odd:
        out.append(f"non-200 answers: {odd}")
    if result["warmup"]["undelivered"]:
        out.append(f"warm-up: {result['warmup']['undelivered']} events never got a 2xx")
    if result["undelivered"]:
        out.append(f"{result['undelivered']} events never got a 2xx after every redelivery")
    if result["unknown_replies"]:
        out.append(f"{result['unknown_replies']} replies were neither model text nor fallback")
    if result["fault"] == "none" and result["wrong_context"]:
        out.append(f"{result['wrong_context']} model replies saw the wrong number of earlier msgs")
    slow = {k: v for k, v in result.get("round_trip_ms", {}).items() if v > 5}
    if slow:
        out.append(f"keep-alive round trips over 5 ms (Nagle/delayed ACK?): {slow}")
    tcp = {k: v for k, v in result.get("tcp", {}).items() if v}
    if tcp:
        out.append(f"TCP on this machine during the run (SYN drops cost 1 s each): {tcp}")
    if result.get("redis_cpu_ms_per_msg") is not None:
        out.append(f"redis-server CPU {result['redis_cpu_ms_per_msg']:.2f} ms/msg")
    if result["killed_worker"]:
        k = result["killed_worker"]
        out.append(f"SIGKILLed worker pid {k['pid']} at t={k['at']} s")
    if result.get("workdir"):
        out.append(f"logs kept in {result['workdir']}")
    return out


def show(result: dict) -> None:
    """Print a result's line and its notes as soon as the row ends."""
    print(line(result), flush=True)
    for note in notes(result):
        print(f"{'':13}{note}", flush=True)


def median_of(results: list[dict]) -> dict:
    """The median of every number over repeated runs; pass only if every run passed."""
    out = dict(results[0])
    for key, value in results[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values = [r[key] for r in results if r[key] is not None]
            out[key] = statistics.median(values) if values else None
    out["row"] = f"median of {len(results)}"
    out["pass"] = all(r["pass"] for r in results)
    out["finished"] = all(r["finished"] for r in results)
    out["lost"] = max(r["lost"] for r in results)
    out["duplicated"] = max(r["duplicated"] for r in results)
    return out


def check_targets(result: dict) -> str:
    """The main row's targets, one verdict each."""
    checks = [
        ("efficiency", result["efficiency"] >= TARGET_EFFICIENCY, f">= {TARGET_EFFICIENCY}"),
        ("p99", result["p99_ms"] <= TARGET_P99_MS, f"<= {TARGET_P99_MS:.0f} ms"),
        ("service CPU", result["service_cpu_ms_per_msg"] <= TARGET_CPU_MS, "<= 5 ms/msg"),
        ("lost", result["lost"] == 0, "= 0"),
        ("duplicated", result["duplicated"] == 0, "= 0"),
    ]
    return "targets: " + ", ".join(f"{n} {t} {'ok' if ok else 'MISSED'}" for n, ok, t in checks)


def matrix_rows(args: argparse.Namespace) -> list[Row]:
    """One row per fault, each small enough to finish in well under a minute or two."""
    u, k, budget = args.matrix_people, args.messages, args.budget
    return [
        Row("model500", u, k, "model500", budget),
        Row("model429", u, k, "model429", budget),
        # The model never answers in time; a 5 s budget keeps the row short.
        Row("model_slow", min(u, 10), min(k, 2), "model_slow", 5.0),
        Row("graph500", u, k, "graph500", budget),
        Row("graph613", u, k, "graph613", budget),
        Row("send500once", u, k, "send500once", budget),
        Row("twice", u, k, budget=budget, delivery=Delivery(twice=True)),
        # A killed worker's claim can be taken over once older than the budget: redeliver later.
        Row(
            "kill_worker",
            u,
            k,
            budget=budget,
            delivery=Delivery(backoffs=(budget + 5,) * 3),
            kill_worker=True,
        ),
    ]


def parse(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="python -m bench.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--people", type=int, default=100, help="people writing at once (main row)")
    p.add_argument("--messages", type=int, default=3, help="messages per person")
    p.add_argument("--model-latency", type=float, default=1.0, help="seconds per model call")
    p.add_argument("--graph-latency", type=float, default=0.05, help="seconds per Graph call")
    p.add_argument("--store", choices=("sqlite", "redis"), default="sqlite")
    p.add_argument("--redis-url", default="", help="loopback Redis to use instead of starting one")
    p.add_argument("--budget", type=float, default=15.0, help="REQUEST_BUDGET_SECONDS")
    p.add_argument("--workers", type=int, help="WEB_CONCURRENCY (default: the service's)")
    p.add_argument("--threads", type=int, help="WEB_THREADS (default: the service's)")
    p.add_argument("--warmup-people", type=int, default=24, help="warm-up people, 2 msgs each")
    p.add_argument("--matrix", action="store_true", help="also run every fault row")
    p.add_argument("--matrix-people", type=int, default=30, help="people in each fault row")
    p.add_argument("--only", default="", help="comma-separated fault rows to run (with --matrix)")
    p.add_argument("--repeat", type=int, default=1, help="run the main row N times, show median")
    p.add_argument("--no-main", action="store_true", help="skip the main row (with --matrix)")
    p.add_argument("--json", help="also write every result to this file")
    p.add_argument("--keep", action="store_true", help="keep each row's logs and ledger")
    args = p.parse_args(argv)
    host = args.redis_url.split("//")[-1].split("@")[-1].split(":")[0].split("/")[0]
    if args.redis_url and host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
        p.error("--redis-url must point at a loopback address")
    return args


def _terminate(signum, frame) -> None:
    """SIGTERM ends the run like Ctrl-C, so every started process is cleaned up."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the rows asked for, print a table, return 0 when every row passed."""
    args = parse(argv)
    signal.signal(signal.SIGTERM, _terminate)
    setup = Setup(
        model_latency=args.model_latency,
        graph_latency=args.graph_latency,
        store=args.store,
        redis_url=args.redis_url,
        warmup_people=args.warmup_people,
        workers=args.workers,
        threads=args.threads,
        keep=args.keep,
    )
    print(
        f"store={args.store} model={args.model_latency}s graph={args.graph_latency}s "
        f"budget={args.budget}s; each row: fresh stand-ins+ledger+service, warm-up "
        f"{args.warmup_people} people x 2 msgs (not measured), then the measured run",
        flush=True,
    )
    print(header(), flush=True)
    results: list[dict] = []
    try:
        if not args.no_main:
            main_row = Row("main", args.people, args.messages, budget=args.budget)
            runs = [run_row(main_row, setup) for _ in range(max(1, args.repeat))]
            for r in runs:
                show(r)
            results += runs
            summary = median_of(runs) if len(runs) > 1 else runs[0]
            if len(runs) > 1:
                show(summary)
                results.append(summary)
            print(f"{'':13}{check_targets(summary)}", flush=True)
        if args.matrix:
            wanted = {n.strip() for n in args.only.split(",") if n.strip()}
            for row in matrix_rows(args):
                if not wanted or row.name in wanted:
                    result = run_row(row, setup)
                    show(result)
                    results.append(result)
    except KeyboardInterrupt:
        print("interrupted; every started process has been stopped", file=sys.stderr)
        return 130
    except RuntimeError as exc:  # a process that would not start: say why, nothing left running
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=2, default=str)
    return 0 if results and all(r["pass"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())

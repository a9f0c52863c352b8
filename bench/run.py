"""Load and fault benchmark of the webhook service against local Graph and model stand-ins.

    .venv/bin/python -m bench.run --people 100 --messages 3 --model-latency 1.0 --graph-latency 0.05
    .venv/bin/python -m bench.run --store redis --matrix --repeat 3 --json results.json
    .venv/bin/python -m bench.run --service-dir /tmp/before --repeat 3   # an older checkout
    .venv/bin/python -m bench.run --no-main --matrix --only slow_model,heavy_tail,kill_after_ack

Any venv with requirements.txt installed will do; run from the repository root. Each row
starts fresh stand-ins (`bench.standins`), a fresh ledger and the service exactly as the
Procfile's `web:` line runs it, waits for /healthz, warms up with separate people, then drives
every person at once, Meta-style (see bench/driver.py: no 2xx within 5 s is a failed delivery,
redelivered at once, then after 1, 2, 4, 8, 16 s), and counts per person what the Graph
stand-in received. The Graph stand-in enforces Meta's limits (2 Conversations API calls per
second per page, 2000-character texts). `--matrix` adds one row per injected fault, slow and
heavy-tailed models, a worker killed and a crash of the whole service (mid-request, and after
the 200s went out), one batched POST, and with `--store redis` three hosts on one Redis (each
person routed to one by the driver's router, bench/router.py), then one of them crashed for
good after its 200s; `--repeat N` runs the main row N times and prints the median.
`--service-dir` runs the service of another checkout with this bench; `--floor-json`
takes a bench/floor run's results to check the main row against. Columns and results:
docs/benchmark.md.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
from pathlib import Path

from . import limits
from .driver import Delivery
from .procs import ROOT
from .report import INDENT, check_targets, floor_of, header, median_of, show
from .row import Row, Setup, run_row
from .standins import parse_tail

SLOW_MODEL = 6.0  # seconds: past Meta's 5 s, so the 200 must not wait for the reply
HEAVY_TAIL = (1.0, (0.1, 8.0))  # 1 s, and one call in ten 8 s
HOSTS = 3  # the hosts rows: services on one Redis, `--matrix-people` people each


def matrix_rows(args: argparse.Namespace) -> list[Row]:
    """One row per fault; Meta's redelivery schedule everywhere, so lost work shows."""
    u, k, budget = args.matrix_people, args.messages, args.budget
    slow, (tail_latency, tail) = SLOW_MODEL, HEAVY_TAIL
    after_ack = {"model_latency": slow, "after_ack": True}
    return [
        Row("model500", u, k, "model500", budget),
        Row("model429", u, k, "model429", budget),
        # The model never answers in time; a 5 s budget keeps the row short.
        Row("model_slow", min(u, 10), min(k, 2), "model_slow", 5.0),
        Row("graph500", u, k, "graph500", budget),
        Row("graph613", u, k, "graph613", budget),
        Row("send500once", u, k, "send500once", budget),
        Row("twice", u, k, budget=budget, delivery=Delivery(twice=True)),
        Row("kill_worker", u, k, budget=budget, kill_worker=True),
        Row("crash", u, k, budget=budget, crash=True),
        Row("batch", args.batch_people, 1, budget=budget, batch=True),
        # Meta's 5 s: the model is slower than the 200 may be, or sometimes is.
        Row("slow_model", u, min(k, 2), budget=budget, model_latency=slow),
        Row("heavy_tail", u, k, budget=budget, model_latency=tail_latency, model_tail=tail),
        # One message each, so no POST is in flight when the fault comes: after every 200
        # went out (a 6 s model), before the replies; only the store can bring them back.
        Row("kill_after_ack", u, 1, budget=budget, kill_worker=True, **after_ack),
        Row("crash_after_ack", u, 1, budget=budget, crash=True, **after_ack),
        # Several hosts on one Redis (--store redis only), `u` people each. In the crash, one
        # host dies after the 200s of everyone's first message and stays down: the others
        # recover what it acknowledged. Once all are answered, everyone writes again, and the
        # router sends the dead host's people to the others.
        Row("hosts3", HOSTS * u, k, budget=budget, hosts=HOSTS),
        Row(
            "hosts3_crash",
            HOSTS * u,
            2,
            budget=budget,
            hosts=HOSTS,
            host_crash=True,
            write_again=True,
            **after_ack,
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
    p.add_argument(
        "--model-tail",
        type=_tail,
        metavar="SHARE:SECONDS",
        help="main row: e.g. 0.1:8, one model call in ten takes 8 s (the same calls every run)",
    )
    p.add_argument("--graph-latency", type=float, default=0.05, help="seconds per Graph call")
    p.add_argument("--store", choices=("sqlite", "redis"), default="sqlite")
    p.add_argument("--redis-url", default="", help="loopback Redis to use instead of starting one")
    p.add_argument("--budget", type=float, default=15.0, help="REQUEST_BUDGET_SECONDS")
    p.add_argument("--workers", type=int, help="WEB_CONCURRENCY (default: the service's)")
    p.add_argument("--threads", type=int, help="WEB_THREADS (default: the service's)")
    p.add_argument(
        "--host-workers",
        type=int,
        default=1,
        help="WEB_CONCURRENCY of each host in the hosts rows (3 hosts x 1 = the 3 workers one "
        "service runs on this 2-core box)",
    )
    p.add_argument("--warmup-people", type=int, default=24, help="warm-up people, 2 msgs each")
    p.add_argument("--matrix", action="store_true", help="also run every fault row")
    p.add_argument(
        "--matrix-people",
        type=int,
        default=30,
        help="people in each fault row (on each host in the hosts rows)",
    )
    p.add_argument("--batch-people", type=int, default=150, help="messages in the batch row's POST")
    p.add_argument(
        "--conversations-per-second",
        type=int,
        default=limits.CONVERSATIONS_PER_SECOND,
        help="the Graph stand-in's cap per page (Meta: 2); 0 shows an uncapped platform",
    )
    p.add_argument(
        "--service-dir",
        type=Path,
        default=ROOT,
        help="checkout whose service to run, e.g. a git worktree (default: this one)",
    )
    p.add_argument("--only", default="", help="comma-separated fault rows to run (with --matrix)")
    p.add_argument("--repeat", type=int, default=1, help="run the main row N times, show median")
    p.add_argument("--no-main", action="store_true", help="skip the main row (with --matrix)")
    p.add_argument("--json", help="also write every result to this file")
    p.add_argument(
        "--floor-json",
        type=Path,
        help="the --json of a bench/floor run made beside this one: check efficiency and p50 "
        "of the main row against it",
    )
    p.add_argument("--keep", action="store_true", help="keep each row's logs and ledger")
    args = p.parse_args(argv)
    args.floor = None
    if args.floor_json:
        try:
            args.floor = floor_of(json.loads(args.floor_json.read_text()))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            p.error(f"--floor-json {args.floor_json}: {exc}")
        if not args.floor:
            p.error(f"--floor-json {args.floor_json} has no main row")
    host = args.redis_url.split("//")[-1].split("@")[-1].split(":")[0].split("/")[0]
    if args.redis_url and host not in ("127.0.0.1", "localhost", "::1", "[::1]"):
        p.error("--redis-url must point at a loopback address")
    args.service_dir = args.service_dir.resolve()
    if not (args.service_dir / "Procfile").exists():
        p.error(f"--service-dir {args.service_dir} has no Procfile")
    return args


def _tail(text: str) -> tuple[float, float]:
    """--model-tail's SHARE:SECONDS, an argparse error when it is not one."""
    try:
        return parse_tail(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


# What the service runs; ":(glob)" keeps `*.py` to the top level (a plain `*.py` pathspec
# matches bench/ too, and a bench change would mark the service as changed).
SERVICE_FILES = ("app", ":(glob)*.py", "Procfile", "requirements.txt")


def describe(service_dir: Path) -> str:
    """Which build runs: the checkout's commit, and whether it has uncommitted changes."""
    try:
        git = ["git", "--no-optional-locks", "-C", str(service_dir)]
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10
        )
        changed = subprocess.run(
            [*git, "status", "--porcelain", "--", *SERVICE_FILES],
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return f"{service_dir} (commit unknown)"
    if head.returncode:
        return f"{service_dir} (not a git checkout)"
    dirty = " + uncommitted changes" if changed.stdout.strip() else ""
    return f"{service_dir} at {head.stdout.strip()}{dirty}"


def _terminate(signum, frame) -> None:
    """SIGTERM ends the run like Ctrl-C, so every started process is cleaned up."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the rows asked for, print a table, return 0 when every row passed."""
    args = parse(argv)
    signal.signal(signal.SIGTERM, _terminate)
    setup = Setup(
        model_latency=args.model_latency,
        model_tail=args.model_tail,
        graph_latency=args.graph_latency,
        store=args.store,
        redis_url=args.redis_url,
        warmup_people=args.warmup_people,
        workers=args.workers,
        threads=args.threads,
        keep=args.keep,
        conversations_per_second=args.conversations_per_second,
        service_dir=args.service_dir,
        host_workers=args.host_workers,
    )
    cap = args.conversations_per_second or "no cap"
    tail = ""
    if args.model_tail:
        tail = f" (one call in {1 / args.model_tail[0]:g}: {args.model_tail[1]:g}s)"
    print(
        f"service {describe(args.service_dir)}\nstore={args.store} model={args.model_latency}s"
        f"{tail} "
        f"graph={args.graph_latency}s budget={args.budget}s conversations/s/page={cap}; each "
        f"row: fresh stand-ins+ledger+service, warm-up {args.warmup_people} people x 2 msgs "
        "(not measured), then the measured run",
        flush=True,
    )
    if (args.service_dir / ".env").exists():
        print("note: the service dir has a .env; settings the bench does not set come from it")
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
            for verdict in check_targets(summary, args.floor):
                print(f"{INDENT}{verdict}", flush=True)
        if args.matrix:
            wanted = {n.strip() for n in args.only.split(",") if n.strip()}
            for row in matrix_rows(args):
                if not wanted or row.name in wanted:
                    if row.hosts > 1 and args.store != "redis":
                        print(
                            f"{row.name:<15} skipped: {row.hosts} hosts share one store only "
                            "with --store redis (a SQLite file is one host's)",
                            flush=True,
                        )
                        continue
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

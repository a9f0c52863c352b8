"""CPU per Graph call of the client, against the Graph stand-in with no latency.

    python -m bench.graph_call_cpu [--calls 3000] [--runs 3]

Compares builds when run from two checkouts in one session (a `git worktree` for the old one);
prints the median over runs of the client process's CPU milliseconds per send.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

from app.deadline import Deadline
from app.facebook import GraphClient


def _run(client: GraphClient, calls: int) -> float:
    """CPU ms per send over `calls` sends."""
    started = time.process_time()
    for i in range(calls):
        client.send_text("111", "222", f"reply {i}", Deadline(5))
    return (time.process_time() - started) * 1000 / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--port", type=int, default=8131)
    args = parser.parse_args()
    standin = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.standins",
            "--graph-port",
            str(args.port),
            "--model-port",
            str(args.port + 1),
            "--graph-latency",
            "0",
        ],
        stdout=subprocess.PIPE,
    )
    try:
        standin.stdout.readline()  # the stand-ins print their URLs once they listen
        client = GraphClient(f"http://127.0.0.1:{args.port}/v26.0", "token", "secret")
        _run(client, 200)  # warm-up: connection pool, lazy imports
        figures = [_run(client, args.calls) for _ in range(args.runs)]
        print(
            f"cpu ms per send: median {statistics.median(figures):.3f} "
            f"(runs: {', '.join(f'{f:.3f}' for f in figures)})"
        )
    finally:
        standin.terminate()
        standin.wait()


if __name__ == "__main__":
    main()

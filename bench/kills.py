"""Process faults during the measured run, because a host dies mid-request more often than not.

- kill_worker: one gunicorn worker SIGKILLed; the master forks a new one.
- crash: the master and every worker SIGKILLed at once, the service started again exactly as
  before (same command, environment, port, ledger file or Redis) a moment later.

Each returns an `on_start(started, outcome)` callback for `driver.drive`, which arms a timer when
the clock starts, and fills `log` with what was done and when (seconds since the start).
"""

from __future__ import annotations

import os
import signal
import threading
import time

from . import procs as P


def _arm(at: float, action, started: float) -> None:
    """Run `action(started)` `at` seconds after the measured run began, on a daemon thread."""
    timer = threading.Timer(max(0.0, at - (time.perf_counter() - started)), action, (started,))
    timer.daemon = True
    timer.start()


def kill_worker(procs: P.Procs, at: float, log: dict):
    """A callback that SIGKILLs one gunicorn worker `at` seconds after the clock starts."""

    def kill(started: float) -> None:
        """Kill the first worker found, mid-request; remember which and when."""
        workers = P.children(procs.latest["service"].pid)
        if workers:
            os.kill(workers[0], signal.SIGKILL)
            log.update(pid=workers[0], at=round(time.perf_counter() - started, 2))

    return lambda started, outcome: _arm(at, kill, started)


def crash(procs: P.Procs, port: int, at: float, down: float, log: dict):
    """A callback that kills the whole service at `at` s and starts it again `down` s later."""

    def kill(started: float) -> None:
        """SIGKILL the master's group, wait, start the same command; note when it answers."""
        pid = procs.latest["service"].pid
        log.update(pid=pid, workers=len(P.children(pid)))
        procs.crash("service")
        log["killed_at"] = round(time.perf_counter() - started, 2)
        time.sleep(down)
        service = procs.restart("service")
        log["restarted_at"] = round(time.perf_counter() - started, 2)
        try:
            P.wait_http(port, "/healthz", service, 60, "service", procs)
            log["ready_at"] = round(time.perf_counter() - started, 2)
        except RuntimeError as exc:
            log["error"] = str(exc).splitlines()[0]

    return lambda started, outcome: _arm(at, kill, started)

"""Process faults during the measured run, because a host dies mid-request more often than not.

- kill_worker: one gunicorn worker SIGKILLed; the master forks a new one.
- crash: the master and every worker SIGKILLed at once, the service started again exactly as
  before (same command, environment, port, ledger file or Redis) a moment later.
- crash_host: one of several hosts on one Redis, master and workers, SIGKILLed at once and left
  down; the other hosts must answer what it acknowledged, and the router sends its people on.

When: `at(seconds)` after the measured run began, or `after_first_end(seconds)` after the first
POST of the run ended — with its 200, or at Meta's 5 s deadline, whichever came first — so a
service that answers 200 before it replies is hit after its 200s went out, before its replies.

Each returns an `on_start(started, outcome)` callback for `driver.drive`, which arms the fault
when the clock starts, and fills `log` with what was done and when (seconds since the start);
`log["done"]` is set once the fault is over (the restarted service answering, for a crash; the
host gone, for crash_host).
"""

from __future__ import annotations

import os
import signal
import threading
import time

from . import procs as P


def at(seconds: float):
    """A trigger: `seconds` after the measured run began."""

    def arm(action, started: float, outcome, log: dict) -> None:
        delay = max(0.0, seconds - (time.perf_counter() - started))
        timer = threading.Timer(delay, action, (started,))
        timer.daemon = True
        timer.start()

    return arm


def after_first_end(seconds: float, limit: float = 60.0):
    """A trigger: `seconds` after the first POST ended (its 2xx, late or not, or its deadline).

    Gives up, noting it in the log, when no POST ended within `limit` seconds."""

    def arm(action, started: float, outcome, log: dict) -> None:
        def wait() -> None:
            if not outcome.first_ended.wait(limit):
                log.update(error=f"no POST ended within {limit:.0f} s", done=True)
                return
            log["first_end_at"] = round(outcome.first_end - started, 2)
            time.sleep(max(0.0, seconds - (time.perf_counter() - outcome.first_end)))
            action(started)

        threading.Thread(target=wait, daemon=True).start()

    return arm


def kill_worker(procs: P.Procs, when, log: dict):
    """A callback that SIGKILLs one gunicorn worker when the trigger `when` fires."""

    def kill(started: float) -> None:
        """Kill the first worker found; remember which and when."""
        try:
            workers = P.children(procs.latest["service"].pid)
            if workers:
                os.kill(workers[0], signal.SIGKILL)
                log.update(pid=workers[0], at=round(time.perf_counter() - started, 2))
            else:
                log["error"] = "no worker found"
        finally:
            log["done"] = True

    return lambda started, outcome: when(kill, started, outcome, log)


def crash(procs: P.Procs, port: int, when, down: float, log: dict):
    """A callback that kills the whole service when `when` fires, starts it again `down` s later."""

    def kill(started: float) -> None:
        """SIGKILL the master's group, wait, start the same command; note when it answers."""
        try:
            pid = procs.latest["service"].pid
            log.update(pid=pid, workers=len(P.children(pid)))
            procs.crash("service")
            log["killed_at"] = round(time.perf_counter() - started, 2)
            time.sleep(down)
            service = procs.restart("service")
            log["restarted_at"] = round(time.perf_counter() - started, 2)
            P.wait_http(port, "/healthz", service, 60, "service", procs)
            log["ready_at"] = round(time.perf_counter() - started, 2)
        except RuntimeError as exc:
            log["error"] = str(exc).splitlines()[0]
        finally:
            log["done"] = True

    return lambda started, outcome: when(kill, started, outcome, log)


def crash_host(procs: P.Procs, name: str, when, log: dict):
    """A callback that SIGKILLs host `name` (its master and workers) when `when` fires, for good."""

    def kill(started: float) -> None:
        """SIGKILL the host's group; remember which, how many workers, when; never restart it."""
        try:
            pid = procs.latest[name].pid
            log.update(host=name, pid=pid, workers=len(P.children(pid)))
            procs.crash(name)
            log["killed_at"] = round(time.perf_counter() - started, 2)
        finally:
            log["done"] = True

    return lambda started, outcome: when(kill, started, outcome, log)

"""The processes a benchmark row needs: stand-ins, the service as the Procfile runs it, Redis.

The service may come from another checkout (`--service-dir`, e.g. a `git worktree` of an older
commit): its Procfile, gunicorn.conf.py and code are used, the bench stays this one. Every
process starts in its own session, so its whole process group can be measured from
/proc and ended with one signal, and a Ctrl-C in the terminal reaches only the driver, which
then ends them itself.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
LOOPBACK = "127.0.0.1"

# Settings the service reads; inherited values are dropped so only the benchmark's apply
# (with every name the checkout's .env.example lists, and PYTHONPATH, which could load the
# code of another checkout).
SERVICE_PREFIXES = ("FB_", "OPENAI_", "WEB_", "GUNICORN_", "GRAPH_", "LEDGER_", "SPEND_")
SERVICE_NAMES = {
    "PYTHONPATH",
    "PORT",
    "LEDGER_PATH",
    "REDIS_URL",
    "SPEND_LIMIT",
    "SYSTEM_PROMPT",
    "HISTORY_MESSAGES",
    "HISTORY_MAX_AGE_HOURS",
    "FALLBACK_REPLY",
    "REQUEST_BUDGET_SECONDS",
    "SEND_RESERVE_SECONDS",
    "GRAPH_TIMEOUT_SECONDS",
    "MAX_BODY_BYTES",
    "LOG_LEVEL",
}


def free_port() -> int:
    """A loopback port nobody listens on now, so parallel runs do not collide."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def procfile_command(env: dict[str, str], service_dir: Path = ROOT) -> list[str]:
    """The Procfile's `web:` command with only $VARS filled in, so we run what Heroku runs."""
    for line in (service_dir / "Procfile").read_text().splitlines():
        if line.startswith("web:"):
            command = re.sub(
                r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?",
                lambda m: env.get(m.group(1), ""),
                line[len("web:") :].strip(),
            )
            argv = shlex.split(command)
            found = shutil.which(argv[0], path=env["PATH"])
            if not found:
                raise RuntimeError(f"{argv[0]} not found on PATH")
            return [found, *argv[1:]]
    raise RuntimeError("Procfile has no web: line")


def documented_names(service_dir: Path) -> set[str]:
    """Every setting the checkout's .env.example names, commented out or not."""
    path = service_dir / ".env.example"
    text = path.read_text(errors="replace") if path.exists() else ""
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", text, re.M))


def service_env(settings: dict[str, str], service_dir: Path = ROOT) -> dict[str, str]:
    """The driver's environment minus the service's settings, plus the benchmark's own."""
    drop = SERVICE_NAMES | documented_names(service_dir)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(SERVICE_PREFIXES) and k not in drop
    }
    # The venv that runs the driver also provides gunicorn, as the Procfile expects on PATH.
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(settings)
    return env


class Procs:
    """Owns the processes of one row; stop() ends every one of them, whatever happened."""

    def __init__(self, workdir: Path) -> None:
        """Logs (and the SQLite ledger) go to workdir."""
        self.workdir = workdir
        self.started: list[subprocess.Popen] = []
        self.latest: dict[str, subprocess.Popen] = {}  # by name: the one running now
        self.how: dict[str, tuple] = {}  # by name: argv, env, cwd, to start it again
        self.carried: dict[str, float] = {}  # by name: CPU of killed instances
        self.lock = threading.Lock()  # a restart on a timer thread never races stop()
        self.stopped = False

    def start(
        self, name: str, argv: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT
    ):
        """Start one process in its own session, its output appended to workdir/<name>.log."""
        with self.lock, open(self.workdir / f"{name}.log", "ab") as log:
            if self.stopped:
                raise RuntimeError(f"not starting {name}: the row has ended")
            proc = subprocess.Popen(
                argv,
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            self.started.append(proc)
            self.latest[name] = proc
            self.how[name] = (argv, env, cwd)
        return proc

    def crash(self, name: str) -> None:
        """SIGKILL the process's whole group at once (a gunicorn master and all its workers)."""
        proc = self.latest[name]
        self.carried[name] = self.cpu(name)  # the dead group's CPU stays counted
        _signal_group(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        with self.lock:
            if proc.returncode is not None and proc in self.started:
                self.started.remove(proc)  # gone: never signal its (reusable) pid again

    def restart(self, name: str):
        """Start it again exactly as before: same command, environment and directory."""
        argv, env, cwd = self.how[name]
        return self.start(name, argv, env, cwd)

    def cpu(self, name: str) -> float:
        """CPU seconds of the running instance's group plus those of instances killed before."""
        return group_cpu(self.latest[name].pid) + self.carried.get(name, 0.0)

    def stop(self) -> None:
        """End each process group: a polite signal, then SIGKILL for anything left after 5 s."""
        with self.lock:
            self.stopped = True
            started = list(self.started)
        for proc in started:
            _signal_group(proc.pid, signal.SIGINT)
        deadline = time.monotonic() + 5
        for proc in started:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(max(0.1, deadline - time.monotonic()))
            _signal_group(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(2)
        self.started.clear()

    def log_tail(self, name: str, lines: int = 15) -> str:
        """The end of a process's log, for an error message that says why it failed."""
        path = self.workdir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _signal_group(pgid: int, sig: int) -> None:
    """Signal a whole process group, ignoring one that is already gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def wait_http(port: int, path: str, proc, timeout: float, what: str, procs: Procs) -> None:
    """Poll until GET path answers 200; fail fast with the log tail if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited ({proc.returncode}):\n{procs.log_tail(what)}")
        conn = http.client.HTTPConnection(LOOPBACK, port, timeout=2)
        try:
            conn.request("GET", path)
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {timeout:.0f} s:\n{procs.log_tail(what)}")


def round_trip_ms(port: int, path: str, times: int = 30) -> float:
    """Median keep-alive GET time: about 1 ms unless Nagle meets delayed ACK (then ~40 ms)."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=5)
    spent = []
    try:
        for _ in range(times):
            started = time.perf_counter()
            conn.request("GET", path)
            conn.getresponse().read()
            spent.append((time.perf_counter() - started) * 1000)
    finally:
        conn.close()
    return sorted(spent)[len(spent) // 2]


def _stats() -> list[tuple[int, int, int, float]]:
    """(pid, ppid, pgrp, cpu seconds incl. reaped children) of every process in /proc."""
    rows = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rindex(")") + 2 :].split()
        # utime, stime, cutime, cstime: a killed and reaped worker's time moves to the master's
        # cutime/cstime, so it is still counted, and never twice.
        ticks = sum(int(x) for x in fields[11:15])
        rows.append((int(entry.name), int(fields[1]), int(fields[2]), ticks / CLK_TCK))
    return rows


def group_cpu(pgid: int) -> float:
    """CPU seconds used so far by every process in a process group."""
    return sum(cpu for _, _, group, cpu in _stats() if group == pgid)


def children(pid: int) -> list[int]:
    """Direct children of a process: gunicorn's workers, for the master's pid."""
    return [p for p, parent, _, _ in _stats() if parent == pid]


def self_cpu() -> float:
    """CPU seconds of the driver process, all its threads."""
    t = os.times()
    return t.user + t.system


def box_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, to tell whether it was saturated."""
    with open("/proc/stat") as f:
        values = [int(x) for x in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def tcp_counters() -> dict[str, int]:
    """Machine-wide TCP counters that reveal listen-queue drops and 1 s SYN retransmits."""
    with open("/proc/net/netstat") as f:
        lines = [line.split() for line in f if line.startswith("TcpExt:")]
    values = dict(zip(lines[0][1:], (int(x) for x in lines[1][1:]), strict=True))
    return {k: values.get(k, 0) for k in ("ListenOverflows", "TCPSynRetrans", "TCPTimeouts")}


def start_redis(procs: Procs) -> str:
    """A private redis-server on a loopback port, no persistence; its URL."""
    server = shutil.which("redis-server")
    if not server:
        raise RuntimeError("--store redis needs redis-server on PATH (or pass --redis-url)")
    port = free_port()
    argv = [server, "--bind", LOOPBACK, "--port", str(port), "--save", "", "--appendonly", "no"]
    argv += ["--dir", str(procs.workdir)]
    proc = procs.start("redis", argv)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited:\n{procs.log_tail('redis')}")
        try:
            with socket.create_connection((LOOPBACK, port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return f"redis://{LOOPBACK}:{port}/0"
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("redis-server not ready after 10 s")

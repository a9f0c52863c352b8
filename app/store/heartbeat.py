"""This process as an owner of claims and turns: its id, and the heartbeat thread that says it
is alive, sweeps what expired and runs the chores registered with every_beat() (recovery,
marks that could not be written), all off the request path."""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
import time
import weakref

log = logging.getLogger(__name__)
_FORK_LOCK = threading.Lock()

# A process beats every HEARTBEAT_SECONDS; one silent for OWNER_TTL_SECONDS is dead. The
# margin is wide on purpose: declaring a live owner dead costs a double reply, while a dead
# one found a few seconds later costs only those seconds (SQLite alone may wait 3 s for a
# lock, and a busy process may not run its heartbeat thread for a moment).
HEARTBEAT_SECONDS = 1.0
OWNER_TTL_SECONDS = 10.0
SWEEP_SECONDS = 60.0


class Owner:
    """This process as the owner of its claims and turns: an id, and a daemon thread that
    beats its heartbeat into the store and sweeps what expired (off the request path).
    Made anew after a fork, so each gunicorn worker is an owner of its own."""

    def _owner(self) -> str:
        """This process's owner id; the first call in a process starts its heartbeat and
        beats once (a store that cannot take the beat fails this call, not the next ones)."""
        pid = os.getpid()
        if getattr(self, "_owner_pid", None) != pid:
            with _FORK_LOCK:
                if getattr(self, "_owner_pid", None) != pid:
                    owner = f"{socket.gethostname()}:{pid}:{secrets.token_hex(4)}"
                    self._beat(owner)  # before anyone claims under this id
                    self._stopped = threading.Event()
                    self._keeper = threading.Thread(
                        target=_keep,
                        args=(weakref.ref(self), owner, self._stopped),
                        daemon=True,
                        name="store-owner",
                    )
                    self._keeper.start()
                    self._owner_id = owner
                    self._owner_pid = pid  # last: other threads read the id once this is set
        return self._owner_id

    def start(self) -> str:
        """Beat from now on (a serving process calls it at start, so that its chores run
        before its first request); this process's owner id."""
        return self._owner()

    def every_beat(self, work) -> None:
        """Run `work()` after each heartbeat, on the heartbeat's thread (off the request path):
        marking answered what could not be marked, recovering orphans."""
        if not hasattr(self, "_every_beat"):
            self._every_beat = []
        self._every_beat.append(work)

    def stop_heartbeat(self) -> None:
        """Stop beating: the emulator's bot when its session ends (tests make a dead worker this
        way; a real one just dies)."""
        if getattr(self, "_keeper", None) is not None:
            self._stopped.set()
            self._keeper.join()

    def _beat(self, owner: str) -> None:
        """Write that `owner` is alive for OWNER_TTL_SECONDS more."""
        raise NotImplementedError

    def _sweep(self) -> None:
        """Drop what expired, in bounded batches."""


def _keep(store_ref: weakref.ref, owner: str, stopped: threading.Event) -> None:
    """Beat every HEARTBEAT_SECONDS while the process and its store live; sweep now and then."""
    swept = time.monotonic()
    while not stopped.wait(HEARTBEAT_SECONDS):
        store = store_ref()
        if store is None:  # the store is gone (an app made and dropped in a test)
            return
        try:
            store._beat(owner)
            if time.monotonic() - swept > SWEEP_SECONDS:
                swept = time.monotonic()
                store._sweep()
        except Exception as exc:  # the next beat tries again; OWNER_TTL spans several
            log.warning("store heartbeat failed: %s", exc)
        for work in list(getattr(store, "_every_beat", ())):
            try:
                work()
            except Exception:  # one failing chore must not stop the heartbeat
                log.exception("work after the heartbeat failed")
        del store

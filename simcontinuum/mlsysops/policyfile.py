"""Loading ``policy-<name>.py`` files and calling them the way the MLSysOps agent does.

The agent loads every ``policy-*.py`` of its policy directory; a policy's name is
``stem.split('-')[1]`` (``policy-my-placer.py`` is ``"my"``). A file must define
``initialize()``, ``async analyze(...)`` and ``async plan(...)``. Files are imported under a
private module name with the ``mlsysops`` shim in place (:mod:`simcontinuum.mlsysops.shim`),
and the private module is not left in ``sys.modules``.

:class:`Caller` runs the coroutines: on a private event loop per cycle (or in a worker thread
when the calling thread already runs an event loop, as in Jupyter), always inside the shim.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from simcontinuum.errors import PolicyError
from simcontinuum.mlsysops.callenv import (
    GlobalRandomState,
    PolicyClock,
    SimulatedClockLoop,
    active_clock,
    metrics_source,
    policy_environment,
    simulated_clock,
)
from simcontinuum.mlsysops.shim import shim_modules

REQUIRED = ("initialize", "analyze", "plan")


def policy_name_of(path: str | Path) -> str:
    """The policy name the agent derives from a file name.

    >>> policy_name_of("policies/policy-latencyMover.py"), policy_name_of("policy-my-placer.py")
    ('latencyMover', 'my')
    """
    parts = Path(path).stem.split("-")
    return parts[1] if len(parts) > 1 else ""


@dataclass
class PolicyFile:
    """A loaded policy file: its agent name and module."""

    path: Path
    name: str
    module: ModuleType

    def function(self, name: str) -> Callable[..., Any]:
        fn: Callable[..., Any] = getattr(self.module, name)
        return fn


def find_policy_files(path: str | Path, search_path: Any = None) -> list[Path]:
    """The policy files at ``path``: the file itself, or a directory's ``policy-*.py`` (sorted).

    Raises:
        PolicyError: nothing there, or a directory without ``policy-*.py`` files.
    """
    p = Path(path).expanduser()
    candidates = [p] + ([Path(d) / p for d in (search_path or ())] if not p.is_absolute() else [])
    for c in candidates:
        if c.is_dir():
            files = sorted(c.glob("policy-*.py"))
            if not files:
                raise PolicyError(f"no policy-*.py files in directory '{c}'")
            return [f.resolve() for f in files]
        if c.is_file():
            return [c.resolve()]
    looked = ", ".join(str(c) for c in candidates)
    raise PolicyError(f"MLSysOps policy file '{path}' not found (looked at: {looked})")


def load_policy_module(
    path: str | Path, now: float = 0.0, *, install_packages: bool = False
) -> PolicyFile:
    """Import a policy file (with the ``mlsysops`` shim, on the simulated clock at ``now``)
    and check its three functions. Every call imports the file anew, as the agent does for
    every application (``controllers/policy.py``: one module per policy instance).

    Raises:
        PolicyError: the file is not named ``policy-<name>.py``, does not import, or lacks
            ``initialize``/``analyze``/``plan``.
    """
    path = Path(path).resolve()
    name = policy_name_of(path)
    if not path.name.startswith("policy-") or path.suffix != ".py" or not name:
        raise PolicyError(
            f"'{path.name}': MLSysOps policy files are named policy-<name>.py "
            "(the agent loads only those; the name is the text after the first hyphen)"
        )
    from simcontinuum.mlsysops.packages import hint, require_packages

    missing = require_packages(path, install=install_packages)
    digest = hashlib.sha256(str(path).encode("utf-8")).hexdigest()[:12]
    modname = f"simcontinuum_mlsysops_policy_{re.sub(r'[^0-9A-Za-z_]', '_', path.stem)}_{digest}"
    spec = importlib.util.spec_from_file_location(modname, path)
    if spec is None or spec.loader is None:
        raise PolicyError(f"cannot import MLSysOps policy file '{path}'")
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module  # dataclasses and the like look the module up while it runs
    try:
        with shim_modules(), simulated_clock(now):
            spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:
        why = f"; {hint(path, missing)}" if missing and isinstance(exc, ImportError) else ""
        raise PolicyError(
            f"cannot import MLSysOps policy file '{path}': {type(exc).__name__}: {exc}{why}"
        ) from exc
    finally:
        sys.modules.pop(modname, None)
    missing = [f for f in REQUIRED if not callable(getattr(module, f, None))]
    if missing:
        raise PolicyError(
            f"MLSysOps policy file '{path}' lacks {', '.join(missing)}: a policy defines "
            "initialize(), async analyze(...) and async plan(...)"
        )
    return PolicyFile(path, name, module)


def is_async(fn: Any) -> bool:
    """Whether calling ``fn`` gives a coroutine (``async def``)."""
    return inspect.iscoroutinefunction(fn)


class Caller:
    """Calls policy functions with the shim in place and awaits what they return.

    One event loop serves a whole cycle (``with caller.cycle(): ...``); outside a cycle each
    call gets its own loop. With :attr:`now` set (the simulated time of the cycle), calls run
    in :func:`~simcontinuum.mlsysops.callenv.policy_environment`: wall clock, event loop
    clock and ``asyncio.sleep`` on simulated time, the global ``random``/``numpy.random``
    generators on :attr:`randomness` (the run's sequence).
    """

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._in_cycle = False
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self.now: float | None = None
        self.randomness: GlobalRandomState | None = None
        self.metrics: Callable[[], dict[str, Any]] | None = None  # mlstelemetry's answers

    @contextmanager
    def cycle(self) -> Iterator[None]:
        """Share one event loop (made on first use) between the calls of a cycle."""
        if self._in_cycle:  # nested: reuse
            yield
            return
        self._in_cycle = True
        try:
            yield
        finally:
            self._in_cycle = False
            loop, self._loop = self._loop, None
            if loop is not None:
                loop.close()

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)``, awaited when it returns an awaitable, inside the shim.

        Raises:
            TypeError: ``fn`` returned something the agent could not ``await``.
        """
        with (
            shim_modules(),
            policy_environment(self.now, self.randomness),
            metrics_source(self.metrics),
        ):
            out = fn(*args)
            if not inspect.isawaitable(out):
                raise TypeError(
                    f"{getattr(fn, '__name__', 'function')}() returned "
                    f"{type(out).__name__}, which the agent cannot await: declare it 'async def'"
                )
            return self._await(out)

    def call_sync(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` inside the shim (``initialize``)."""
        with shim_modules(), policy_environment(self.now, self.randomness):
            return fn(*args)

    def _await(self, aw: Awaitable[Any]) -> Any:
        async def wrap() -> Any:
            return await aw

        if _running_loop():
            # a loop already runs in this thread (Jupyter): await in a worker thread
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(1, "mlsysops-policy")
            return self._pool.submit(_run_on_clock, active_clock(), wrap()).result()
        if self._in_cycle:
            if self._loop is None:
                self._loop = SimulatedClockLoop()
            return self._loop.run_until_complete(wrap())
        loop = SimulatedClockLoop()
        try:
            return loop.run_until_complete(wrap())
        finally:
            loop.close()

    def close(self) -> None:
        """Release the worker thread, if one was started."""
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None


def _run_on_clock(clock: PolicyClock | None, aw: Any) -> Any:
    """Await ``aw`` in a worker thread on ``clock`` (the calling thread's policy clock)."""
    from simcontinuum.mlsysops import callenv

    callenv._LOCAL.clock = clock
    loop = SimulatedClockLoop()
    try:
        return loop.run_until_complete(aw)
    finally:
        loop.close()
        callenv._LOCAL.clock = None


def _running_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


__all__ = [
    "REQUIRED",
    "Caller",
    "PolicyFile",
    "find_policy_files",
    "is_async",
    "load_policy_module",
    "policy_name_of",
]

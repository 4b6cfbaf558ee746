"""Making ``import mlsysops`` work inside policy files, and only there.

:func:`shim_modules` puts the stand-in package :mod:`simcontinuum.mlsysops.shim.mlsysops` into
``sys.modules`` under the names ``mlsysops``, ``mlsysops.logger_util`` and
``mlsysops.utilities`` (and the ``mlstelemetry`` stand-in) for the duration of a ``with``
block (importing a policy file, calling
``initialize``/``analyze``/``plan``), and restores exactly what was there before when the block
ends, however it ends. A real ``mlsysops`` installed or imported elsewhere in the process is
therefore never shadowed outside those blocks, and nothing of the shim is left behind.

Invariant: after the block, every ``sys.modules`` key starting with ``mlsysops`` maps to what it
mapped to before the block (absent keys are absent again).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

SHIM_NAMES = ("mlsysops", "mlsysops.logger_util", "mlsysops.utilities", "mlstelemetry")


def _shim_modules() -> dict[str, ModuleType]:
    from simcontinuum.mlsysops.shim import mlstelemetry
    from simcontinuum.mlsysops.shim import mlsysops as pkg
    from simcontinuum.mlsysops.shim.mlsysops import logger_util, utilities

    return {
        "mlsysops": pkg,
        "mlsysops.logger_util": logger_util,
        "mlsysops.utilities": utilities,
        "mlstelemetry": mlstelemetry,
    }


def _is_mlsysops(name: str) -> bool:
    top = name.split(".", 1)[0]
    return top in ("mlsysops", "mlstelemetry")


@contextmanager
def shim_modules() -> Iterator[None]:
    """Within the block, ``import mlsysops.logger_util`` / ``mlsysops.utilities`` give the shim.

    Any other ``mlsysops.*`` module imported inside the block is dropped at its end, too.
    """
    saved = {k: v for k, v in sys.modules.items() if _is_mlsysops(k)}
    for name in saved:  # a real package's submodules must not mix with the shim
        del sys.modules[name]
    sys.modules.update(_shim_modules())
    try:
        yield
    finally:
        for name in [k for k in sys.modules if _is_mlsysops(k)]:
            del sys.modules[name]
        sys.modules.update(saved)


__all__ = ["SHIM_NAMES", "shim_modules"]

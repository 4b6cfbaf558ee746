"""OpenMetrics text of a run, and Prometheus TSDB blocks made from it by ``promtool``.

Each family is written as ``# HELP``, ``# TYPE`` and (when it has one) ``# UNIT``, then its
samples, one line per point with a timestamp in seconds since the Unix epoch
(``start_epoch + time_s``); the file ends with ``# EOF``. Counters' samples end in ``_total``.

``promtool tsdb create-blocks-from openmetrics FILE DIR`` turns the text into blocks that a
Prometheus server serves as they are (``--storage.tsdb.path=DIR``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

import numpy as np

from simcontinuum.errors import SimContinuumError
from simcontinuum.export.series import Family


class ExportError(SimContinuumError):
    """An export that cannot be made (a missing tool, a bad argument); the message says why."""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(v: float) -> str:
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "+Inf" if v > 0 else "-Inf"
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return repr(float(v))


def lines(fams: Iterable[Family], start_epoch: float) -> Iterator[str]:
    """The OpenMetrics text, line by line (each with its newline), ending with ``# EOF``."""
    for fam in fams:
        m = fam.metric
        yield f"# HELP {m.name} {_escape(m.help)}\n"
        yield f"# TYPE {m.name} {m.type}\n"
        if m.unit:
            yield f"# UNIT {m.name} {m.unit}\n"
        name = m.sample_name
        for labels, times, values in fam.series():
            if labels:
                inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
                head = f"{name}{{{inner}}} "
            else:
                head = f"{name} "
            stamps = np.round(start_epoch + times, 3)
            for t, v in zip(stamps.tolist(), values.tolist(), strict=True):
                yield f"{head}{_number(v)} {_stamp(t)}\n"
    yield "# EOF\n"


def _stamp(t: float) -> str:
    text = f"{t:.3f}".rstrip("0").rstrip(".")
    return text


def write(fams: Iterable[Family], out: TextIO, start_epoch: float) -> int:
    """Write the text to ``out``; return the number of sample lines."""
    n = 0
    for line in lines(fams, start_epoch):
        out.write(line)
        if not line.startswith("#"):
            n += 1
    return n


def write_file(fams: Iterable[Family], path: str | os.PathLike[str], start_epoch: float) -> int:
    """Write the text to ``path`` atomically (``-``: stdout); return the sample count."""
    import sys

    if str(path) == "-":
        return write(fams, sys.stdout, start_epoch)
    from simcontinuum.io import atomic_path

    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        n = write(fams, fh, start_epoch)
    return n


def promtool() -> str | None:
    """The ``promtool`` on PATH (Debian's ``prometheus`` package ships it), or None."""
    return shutil.which("promtool")


def create_blocks(openmetrics: str | os.PathLike[str], directory: str | os.PathLike[str]) -> str:
    """Backfill ``openmetrics`` into TSDB blocks under ``directory``; return promtool's output.

    Raises:
        ExportError: promtool is missing or fails.
    """
    tool = promtool()
    if tool is None:
        raise ExportError(
            "promtool not found: install Prometheus (Debian: apt-get install prometheus), "
            "or export --format openmetrics and backfill elsewhere"
        )
    Path(directory).mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [tool, "tsdb", "create-blocks-from", "openmetrics", str(openmetrics), str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise ExportError(f"promtool failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc.stdout + proc.stderr

"""The run store: one small JSON file per finished run, so a sweep can resume.

A run is named by its key — (scenario digest, policy hash, seed, simcontinuum version and
source fingerprint) — and
stored as ``DIR/runs/<sha256 of the key>.json`` holding ``{"key": ..., "row": ...}``. Files are
written atomically (:func:`simcontinuum.io.atomic_write`), so a process
killed mid-write never leaves a file that reads as finished; several processes (or Dask
workers on a shared file system) may write into one store at once.

The scenario digest covers the files the scenario reads (traces), the policy hash the files
the policy spec reads, and the source fingerprint every ``.py`` file of the installed
package: editing a trace, a policy file or the engine makes the cached runs stale, and they
run again.

Invariant: only runs that finished (``status == "ok"``) are stored; a run that failed is run
again on the next sweep.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simcontinuum._version import __version__
from simcontinuum.io import atomic_write
from simcontinuum.jsonutil import dumps


def policy_hash(spec: str) -> str:
    """A digest of a policy spec (:meth:`simcontinuum.policy.spec.PolicySpec.digest`): the
    name for a registered policy; the class and the content of every file the spec reads for
    ``file.py:Class``, ``module:Class``, ``ml:``, ``fixed:`` and MLSysOps files (so editing a
    file invalidates cached runs, while moving it does not).
    """
    from simcontinuum.policy.spec import parse_policy_spec

    return parse_policy_spec(spec).digest()


@functools.cache
def source_fingerprint() -> str:
    """The sha256 (hex) of every ``.py`` file of the installed simcontinuum package (relative
    path and content, in path order); computed once per process.

    The package version is a hand-edited string that engine changes do not touch; this is
    what a cached run was computed with.
    """
    return tree_fingerprint(Path(__file__).resolve().parents[1])


def tree_fingerprint(root: Path) -> str:
    """The sha256 (hex) of every ``.py`` file under ``root`` (relative path and content)."""
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if "__pycache__" in rel.split("/"):
            continue
        h.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def run_key(scenario_digest: str, policy: str, seed: int) -> dict[str, Any]:
    """The key of one run (``policy`` is a :func:`policy_hash`)."""
    return {
        "scenario": scenario_digest,
        "policy": policy,
        "seed": int(seed),
        "version": __version__,
        "source": source_fingerprint(),
    }


def run_id(key: Mapping[str, Any]) -> str:
    """The file name stem of a run key: sha256 of its canonical JSON.

    >>> run_id(run_key("d", "p", 1)) == run_id(run_key("d", "p", 1))
    True
    """
    text = json.dumps(dict(key), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class RunStore:
    """Finished runs under ``root/runs/``."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.dir = Path(root) / "runs"

    def path(self, rid: str) -> Path:
        """Where run ``rid`` is stored."""
        return self.dir / f"{rid}.json"

    def get(self, rid: str) -> dict[str, Any] | None:
        """The stored row of run ``rid``, or None (also for an unreadable file)."""
        try:
            data = json.loads(self.path(rid).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        row = data.get("row") if isinstance(data, dict) else None
        return row if isinstance(row, dict) else None

    def put(self, rid: str, key: Mapping[str, Any], row: Mapping[str, Any]) -> Path:
        """Store a finished run atomically."""
        return atomic_write(self.path(rid), dumps({"key": key, "row": row}))

    def __len__(self) -> int:
        return sum(1 for _ in self.dir.glob("*.json")) if self.dir.is_dir() else 0


__all__ = ["RunStore", "policy_hash", "run_id", "run_key", "source_fingerprint"]

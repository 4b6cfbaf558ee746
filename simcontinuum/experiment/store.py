"""The run store: one small JSON file per finished run, so a sweep can resume.

A run is named by its key — (scenario digest, policy hash, seed, simcontinuum version) — and
stored as ``DIR/runs/<sha256 of the key>.json`` holding ``{"key": ..., "row": ...}``. Files are
written atomically (:func:`simcontinuum.io.atomic_write`), so a process
killed mid-write never leaves a file that reads as finished; several processes (or Dask
workers on a shared file system) may write into one store at once.

Invariant: only runs that finished (``status == "ok"``) are stored; a run that failed is run
again on the next sweep.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from simcontinuum import __version__
from simcontinuum.io import atomic_write
from simcontinuum.jsonutil import dumps


def policy_hash(spec: str) -> str:
    """A digest of a policy spec: the name for a registered policy; the class name and the
    file's content for ``file.py:Class`` (so editing the file invalidates cached runs, while
    moving it does not); the spec and the module file's content for ``module:Class``.
    """
    h = hashlib.sha256()
    text = spec.strip()
    files = _spec_files(text)
    if files is not None:  # ml:, fixed:, MLSysOps policy files: what they read decides
        h.update(b"files\0" + text.split("?")[0].encode() + b"\0")
        for f in files:
            h.update(f.name.encode() + b"\0" + f.read_bytes())
        return h.hexdigest()
    target, sep, attr = text.rpartition(":")
    if sep and (target.endswith(".py") or "/" in target or "\\" in target):
        h.update(b"file\0" + attr.encode() + b"\0")
        h.update(Path(target).expanduser().read_bytes())
    elif sep:
        h.update(b"module\0" + spec.encode() + b"\0")
        origin = _module_origin(target)
        if origin:
            h.update(Path(origin).read_bytes())
    else:
        h.update(b"name\0" + spec.strip().lower().replace("_", "-").encode())
    return h.hexdigest()


def _spec_files(spec: str) -> list[Path] | None:
    """The files a file-backed policy spec reads, sorted (None: not such a spec).

    ``ml:model.joblib`` reads the model and its ``model.features.json``; ``fixed:plan.yaml``
    the placement file; ``mlsysops:PATH`` and ``.../policy-<name>.py`` the policy file or
    every ``policy-*.py`` of the folder. A missing file is hashed as absent.
    """
    from simcontinuum.mlsysops.spec import is_policy_spec

    if spec.startswith("ml:"):
        model = Path(spec[3:]).expanduser()
        return [f for f in (model, model.with_suffix(".features.json")) if f.is_file()]
    if spec.startswith("fixed:"):
        path = Path(spec[6:]).expanduser()
        return [path] if path.is_file() else []
    if is_policy_spec(spec):
        path = Path(spec.removeprefix("mlsysops:").split("?")[0]).expanduser()
        if path.is_dir():
            return sorted(path.glob("policy-*.py"))
        return [path] if path.is_file() else []
    return None


def _module_origin(module: str) -> str | None:
    import importlib.util

    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    origin = found.origin if found else None
    return origin if origin and os.path.isfile(origin) else None


def run_key(scenario_digest: str, policy: str, seed: int) -> dict[str, Any]:
    """The key of one run (``policy`` is a :func:`policy_hash`)."""
    return {
        "scenario": scenario_digest,
        "policy": policy,
        "seed": int(seed),
        "version": __version__,
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


__all__ = ["RunStore", "policy_hash", "run_id", "run_key"]

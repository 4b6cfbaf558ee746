"""Writing files so that a reader never sees half of one: :func:`atomic_write` and friends.

Every file simcontinuum writes (results, run stores, reports, generated scenarios, models,
leaderboards) goes through this module. A write goes to a temporary file with a unique name
(:func:`tempfile.mkstemp`) in the target's own folder, is flushed and ``fsync``-ed, and then
renamed over the target with :func:`os.replace`, which is atomic on POSIX and Windows when both
names are on one file system. So:

- a process killed mid-write leaves the old file (or none), never a truncated one;
- two processes writing the same target at once never share a temporary file: the last rename
  wins and each reader sees one whole version;
- on any failure (an exception, ``KeyboardInterrupt``) the temporary file is removed.

New files get the permissions an ordinary ``open(path, "w")`` would give them (``0o666`` less
the umask), not the private ``0o600`` of ``mkstemp``.

This module is in the lowest layer: it imports only the standard library, so every layer may
use it.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write(d / "a.txt", "hello\\n").read_text()
'hello\\n'
>>> with atomic_path(d / "b.bin") as tmp:
...     _ = tmp.write_bytes(b"\\x00\\x01")
>>> (d / "b.bin").read_bytes(), sorted(p.name for p in d.iterdir())
(b'\\x00\\x01', ['a.txt', 'b.bin'])
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _default_mode() -> int:
    """``0o666`` less the process umask (what ``open(path, "w")`` would create)."""
    return 0o666 & ~_umask()


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def _fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (POSIX only; Windows cannot open a folder)."""
    if os.name != "posix":
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems (tmpfs on old kernels, network mounts) refuse
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str], *, mode: int | None = None) -> Iterator[Path]:
    """A temporary path beside ``path``; renamed onto ``path`` when the block ends cleanly.

    Use it for writers that want a file name (``df.to_parquet(tmp)``, ``joblib.dump(obj,
    tmp)``). Parent folders are created. On an exception the temporary file is removed and
    ``path`` is left as it was.

    Args:
        path: the file to (re)place.
        mode: permission bits of the new file (default: ``0o666`` less the umask).
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        _fsync_file(tmp)
        os.chmod(tmp, _default_mode() if mode is None else mode)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def atomic_write(
    path: str | os.PathLike[str],
    data: str | bytes,
    *,
    encoding: str = "utf-8",
    newline: str | None = None,
    mode: int | None = None,
) -> Path:
    """Write ``data`` (text or bytes) to ``path`` atomically; returns ``path`` as a Path.

    Args:
        path: the file to (re)place; parent folders are created.
        data: the whole new content.
        encoding: text encoding when ``data`` is a ``str``.
        newline: as for :func:`open` (``"\\n"`` keeps Unix line ends on Windows).
        mode: permission bits of the new file (default: ``0o666`` less the umask).
    """
    target = Path(path)
    with atomic_path(target, mode=mode) as tmp:
        if isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            with open(tmp, "w", encoding=encoding, newline=newline) as fh:
                fh.write(data)
    return target


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary folder beside ``path``; swapped in for ``path`` when the block ends cleanly.

    A folder cannot be renamed over a non-empty one, so an existing ``path`` is first renamed
    aside (to a unique name), the new folder renamed into place, and the old one deleted.
    Between the two renames ``path`` is briefly absent — never partial. On an exception the
    temporary folder is deleted and ``path`` is left as it was.
    """
    target = Path(path)
    parent = target.parent
    parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; results are shared
        if target.exists():
            old = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
            )
            os.replace(target, old)  # onto the empty folder mkdtemp made
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _fsync_dir(target.parent)


__all__ = ["atomic_directory", "atomic_path", "atomic_write"]

"""Warnings about a policy file, shown at the policy's own file and line.

``warnings.warn(..., stacklevel=N)`` names the frame N levels up, and from inside the agent
that is always simcontinuum's own code (``agent.py:507: MLSysOpsWarning: policy 'x':
analyze() raised KeyError`` followed by a line of the agent), which tells the policy author
nothing. :func:`warn_policy` names the line that matters instead:

- the innermost frame of the policy file in the traceback, when the policy raised;
- the line of a ``SyntaxError`` in the file;
- else the ``def`` of the policy function concerned (``initialize``, ``analyze``, ``plan``);
- else the file's first line.

The warning is issued with :func:`warnings.warn_explicit`, so filters, ``-W error`` and
``pytest.warns`` treat it as any other :class:`~simcontinuum.mlsysops.agent.MLSysOpsWarning`,
and the source line shown under it is the policy's. A warning about no policy file in
particular (e.g. a cluster description without nodes) names the first frame outside
simcontinuum (the user's script that started the run): :func:`warn_outside`.
"""

from __future__ import annotations

import ast
import os
import sys
import traceback
import warnings
from pathlib import Path

from simcontinuum.policy.tracebacks import short_path

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def policy_line(
    path: str | os.PathLike[str], function: str | None = None, exc: BaseException | None = None
) -> int:
    """The line of ``path`` a warning about it should name (see the module docstring)."""
    target = os.path.abspath(path)
    if exc is not None:
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if os.path.abspath(frame.filename) == target and frame.lineno:
                return frame.lineno
        if (
            isinstance(exc, SyntaxError)
            and exc.filename
            and os.path.abspath(exc.filename) == target
            and exc.lineno
        ):
            return exc.lineno
    if function is not None:
        line = _def_line(target, function)
        if line is not None:
            return line
    return 1


def policy_where(path: str | os.PathLike[str], exc: BaseException) -> str:
    """`` (at FILE:LINE in FUNC)`` of the innermost frame of ``exc`` in the policy file
    ``path`` (FILE relative to the working folder when below it), as the reasons of other
    policies end; empty when no frame is the file's (e.g. it ran behind the boundary)."""
    target = os.path.abspath(path)
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if os.path.abspath(frame.filename) == target:
            return f" (at {short_path(frame.filename)}:{frame.lineno} in {frame.name})"
    return ""


def warn_policy(
    message: str,
    path: str | os.PathLike[str],
    *,
    function: str | None = None,
    exc: BaseException | None = None,
) -> None:
    """Issue ``message`` as an MLSysOpsWarning at the policy file's own line."""
    from simcontinuum.mlsysops.agent import MLSysOpsWarning

    filename = str(path)
    warnings.warn_explicit(
        message,
        MLSysOpsWarning,
        filename,
        policy_line(filename, function, exc),
        module=Path(filename).stem,
    )


def warn_outside(message: str) -> None:
    """Issue ``message`` as an MLSysOpsWarning at the first frame outside simcontinuum
    (the outermost frame when every frame is simcontinuum's, as under its CLI)."""
    from simcontinuum.mlsysops.agent import MLSysOpsWarning

    frame = sys._getframe(1)
    level = 2  # stacklevel 2 names our caller's frame
    while frame.f_back is not None and _internal(frame.f_code.co_filename):
        frame = frame.f_back
        level += 1
    warnings.warn(message, MLSysOpsWarning, stacklevel=level)


def _internal(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_PACKAGE)


def _def_line(path: str, function: str) -> int | None:
    """The line of the module-level ``def function`` in ``path`` (None: not found)."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == function:
            return node.lineno
    return None


__all__ = ["policy_line", "policy_where", "warn_outside", "warn_policy"]

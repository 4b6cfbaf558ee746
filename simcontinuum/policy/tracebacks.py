"""Tracebacks a policy author can read: the policy's own frames, never the engine's.

When a policy raises, the frames that matter are in the policy's file; the engine's frames
(the controller, the view builders) only hide them. :func:`policy_traceback` keeps the
policy's frames and names the innermost one as ``FILE:LINE in FUNC``.
"""

from __future__ import annotations

import os
import traceback


def policy_traceback(exc: BaseException) -> tuple[str, str]:
    """The traceback of ``exc`` with the engine's own frames left out, and `` at FILE:LINE
    in FUNC`` of the innermost frame of the policy (empty when no frame is the policy's).

    Frames inside the ``simcontinuum`` package are the engine's, except those of the
    built-in policies, which are policies too.
    """
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if _is_policy_frame(f.filename)]
    shown = own or frames[-1:]
    lines = [
        "Traceback (most recent call last, policy frames only):\n",
        *traceback.format_list(shown),
    ]
    lines += traceback.format_exception_only(type(exc), exc)
    where = ""
    if own:
        last = own[-1]
        where = f" (at {short_path(last.filename)}:{last.lineno} in {last.name})"
    return "".join(lines).rstrip("\n"), where


_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# the package's own policies: their frames are the policy's, not the engine's
_BUILTIN_POLICY_FILES = tuple(
    os.path.join(_PACKAGE, *f.split("/"))
    for f in ("policy/builtins.py", "policy/adaptive.py", "learn/mlpolicy.py", "learn/fixed.py")
)


def _is_policy_frame(filename: str) -> bool:
    path = os.path.abspath(filename)
    return path in _BUILTIN_POLICY_FILES or not path.startswith(_PACKAGE)


def short_path(filename: str) -> str:
    """``filename`` relative to the working directory when it is below it."""
    try:
        rel = os.path.relpath(filename)
    except ValueError:  # another drive on Windows
        return filename
    return filename if rel.startswith("..") else rel


__all__ = ["policy_traceback", "short_path"]

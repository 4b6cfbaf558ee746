"""Loading a submission file: which class of ``team.py`` is the team's policy.

The leaderboard used to run whole simulations in a child process started from here; since
the trust boundary (:mod:`simcontinuum.boundary`) only the policy runs untrusted, in a
worker (:mod:`simcontinuum.boundary.worker`) that calls :func:`find_policy`.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any


def find_policy(path: str) -> Any:
    """Import the submission and return its policy class (or object).

    ``POLICY = "Name"`` (or ``POLICY = TheClass``) names it; otherwise the module must define
    exactly one class with a callable ``place``.

    Raises:
        ImportError: with the reason, when the file cannot be imported or names no policy.
    """
    spec = importlib.util.spec_from_file_location("submission", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"{path} is not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules["submission"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise ImportError(f"import failed: {type(exc).__name__}: {exc}") from exc
    from simcontinuum.errors import PolicyError
    from simcontinuum.policy.spec import module_policy

    try:  # the same rule as '--policy file.py'
        return module_policy(module, Path(path).name)
    except PolicyError as exc:
        raise ImportError(str(exc)) from None


__all__ = ["find_policy"]

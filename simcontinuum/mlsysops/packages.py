"""The ``packages`` of a policy file's ``initialContext``, read as the agent reads them.

The MLSysOps agent (``policy.py``, ``parse_module_for_context_data``) walks the file's syntax
tree for an assignment ``initialContext = <literal>``, ``ast.literal_eval``-s it and
``pip install``-s every string in its ``packages`` before importing the file. A dict built at
run time installs nothing (the agent logs an error and goes on).

simcontinuum installs nothing unless asked: :func:`static_packages` reads the list,
:func:`missing_packages` says which requirements are not installed here, and
:func:`install_packages` runs ``python -m pip install`` for them (opt in: the policy spec option
``packages=install``, ``install_packages=True``, or ``simcontinuum mlsysops check
--install-packages``).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path


def static_packages(path: str | Path) -> list[str]:
    """The strings in ``packages`` of the first literal ``initialContext`` dict with one.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp(); p = os.path.join(d, "policy-x.py")
    >>> _ = open(p, "w").write("initialContext = {'packages': ['requests>=2']}")
    >>> static_packages(p)
    ['requests>=2']
    """
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError):
        return []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "initialContext" for t in node.targets
        ):
            try:
                value = ast.literal_eval(node.value)
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                return []  # the agent logs it and installs nothing
            if isinstance(value, dict) and "packages" in value:
                pkgs = value.get("packages") or []
                return [p for p in pkgs if isinstance(p, str)] if isinstance(pkgs, list) else []
    return []


def _dist_name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[@]", requirement.strip(), maxsplit=1)[0]


def missing_packages(requirements: Iterable[str]) -> list[str]:
    """The requirements whose distribution is not installed (versions are not compared).

    >>> missing_packages(["pyyaml", "surely-not-installed-pkg==1.0"])
    ['surely-not-installed-pkg==1.0']
    """
    out = []
    for req in requirements:
        name = _dist_name(req)
        if not name or name in sys.stdlib_module_names:
            continue  # e.g. "json": pip cannot install it (the agent logs that) and it is there
        try:
            metadata.distribution(name)
        except metadata.PackageNotFoundError:
            out.append(req)
    return out


def install_packages(requirements: list[str], origin: str) -> None:
    """``python -m pip install`` each requirement into this environment, as the agent does;
    one that fails is warned about (the agent logs it and loads the file anyway)."""
    import warnings

    from simcontinuum.mlsysops.agent import MLSysOpsWarning

    for req in requirements:
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "install", req],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
            warnings.warn(
                f"{origin}: 'pip install {req}' failed (exit {proc.returncode}); the agent "
                f"logs this and loads the file anyway:\n{tail}",
                MLSysOpsWarning,
                stacklevel=3,
            )


def require_packages(path: Path, *, install: bool) -> list[str]:
    """Install (``install=True``) or name the missing packages of a policy file; returns the
    requirements still missing (for a message if the import then fails)."""
    missing = missing_packages(static_packages(path))
    if missing and install:
        install_packages(missing, path.name)
        return missing_packages(missing)
    return missing


def hint(path: Path, missing: list[str]) -> str:
    """The message naming the install for a policy's missing packages."""
    return (
        f"{path.name} lists {missing} in initialContext['packages']: the MLSysOps agent "
        f"pip-installs them, simcontinuum does not unless asked. Run 'pip install "
        f"{' '.join(missing)}', or add '?packages=install' to the policy spec "
        f"(--policy '{path.name}?packages=install'), or 'simcontinuum mlsysops check "
        f"--install-packages {path.name}'"
    )


__all__ = ["hint", "install_packages", "missing_packages", "require_packages", "static_packages"]

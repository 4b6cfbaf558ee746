"""A static check of an MLSysOps policy file, the way the agent's loader reads it.

Nothing of the file runs: it is parsed with :mod:`ast`. Findings (``error`` stops the file
from working in the agent or here; ``warning`` is legal but suspect):

- the file name is ``policy-<name>.py``; the name is the text between the first and second
  hyphen (``policy-my-placer.py`` is ``"my"``);
- ``initialize``, ``analyze`` and ``plan`` are module-level functions; ``analyze`` and
  ``plan`` are ``async def`` and take the six arguments ``(context,
  application_description, system_description, mechanisms, telemetry, ml_connector)``;
  ``initialize`` is a plain function without required arguments;
- an assignment ``initialContext = {...}`` exists and is a literal (the loader reads
  ``packages`` from it with ``ast.literal_eval``); its ``packages`` is a list of strings,
  ``scope`` is ``"application"`` or ``"global"``, ``configuration.analyze_interval`` matches
  ``(\\d+)([smhd])`` and is not zero, ``telemetry.metrics`` is a list of names,
  ``mechanisms`` are known;
- ``mlsysops`` imports are ones the simulator's shim provides, other imports are importable.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from simcontinuum.mlsysops.agent import SCOPES
from simcontinuum.mlsysops.policyfile import policy_name_of
from simcontinuum.mlsysops.requirements import parse_interval

ARGS = (
    "context",
    "application_description",
    "system_description",
    "mechanisms",
    "telemetry",
    "ml_connector",
)
KNOWN_MECHANISMS = ("fluidity", "clusterPlacement", "CPUFrequencyConfigurator", "fluidity_proxy")
SHIM = {
    "logger_util": ("logger",),
    "utilities": ("evaluate_condition", "cmp_fields", "node_matches_requirements", "logger"),
}
TOP = (
    "logger",
    "evaluate_condition",
    "cmp_fields",
    "node_matches_requirements",
    "parse_interval_string",
    "logger_util",
    "utilities",
)
# public names of 0.1.12's modules that the shim does not offer (the agent stack)
FRAMEWORK_ONLY = {
    "logger_util": (
        "CustomFormatter",
        "LOG_COLORS",
        "RESET_COLOR",
        "add_logging_level",
        "setup_logger",
        "logging",
        "os",
        "partial",
        "partialmethod",
    ),
    "utilities": ("operator",),
}
LAYERS = ("cluster", "continuum", "node")


@dataclass(frozen=True, slots=True)
class Finding:
    """One finding of :func:`check_policy_file`."""

    level: str  # "error" | "warning"
    message: str

    def __str__(self) -> str:
        return f"{self.level}: {self.message}"


def check_policy_file(path: str | Path) -> list[Finding]:
    """Every finding for the policy file at ``path`` (an empty list: it loads and runs).

    Never raises for a bad file: an unreadable or unparsable file is an error finding.
    """
    path = Path(path)
    out = _Findings()
    err, warn = out.error, out.warning
    _check_name(path, err, warn)
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        err(f"cannot read the file: {exc}")
        return list(out)
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        err(f"syntax error at line {exc.lineno}: {exc.msg}")
        return list(out)
    _check_functions(tree, err, warn)
    _check_context(tree, err, warn)
    _check_imports(tree, warn, err)
    return list(out)


class _Findings(list[Finding]):
    def error(self, message: str) -> None:
        self.append(Finding("error", message))

    def warning(self, message: str) -> None:
        self.append(Finding("warning", message))


def _check_name(path: Path, err: Any, warn: Any) -> None:
    if not path.name.startswith("policy-") or path.suffix != ".py":
        err(f"file name {path.name!r}: the agent loads only policy-<name>.py files")
        return
    parts = path.stem.split("-")
    name = policy_name_of(path)
    if not name:
        err(f"file name {path.name!r}: no name after 'policy-'")
    elif len(parts) > 2:
        hint = (
            f" (policy-{parts[1]}-<name>.py is the form of the agent's core policies of layer "
            f"{parts[1]!r})"
            if parts[1] in LAYERS
            else ""
        )
        warn(
            f"the agent names this policy {name!r} (the text between the first and second "
            f"hyphen), not {'-'.join(parts[1:])!r}{hint}; use camelCase"
        )


def _check_functions(tree: ast.Module, err: Any, warn: Any) -> None:
    defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    init = defs.get("initialize")
    if init is None:
        err("no module-level function initialize()")
    elif isinstance(init, ast.AsyncFunctionDef):
        err("initialize() is 'async def', but the agent calls it without await")
    elif _required(init) > 0:
        err(f"initialize() requires {_required(init)} argument(s); the agent passes none")
    for name in ("analyze", "plan"):
        fn = defs.get(name)
        if fn is None:
            err(f"no module-level function {name}()")
            continue
        if not isinstance(fn, ast.AsyncFunctionDef):
            err(f"{name}() must be 'async def': the agent awaits it")
        positional = len(fn.args.posonlyargs) + len(fn.args.args)
        if fn.args.vararg is None and positional < len(ARGS):
            err(
                f"{name}() takes {positional} argument(s); the agent passes {len(ARGS)}: "
                + ", ".join(ARGS)
            )
        elif _required(fn) > len(ARGS):
            err(f"{name}() requires {_required(fn)} arguments; the agent passes {len(ARGS)}")


def _required(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = fn.args
    positional = len(a.posonlyargs) + len(a.args) - len(a.defaults)
    kwonly = sum(1 for d in a.kw_defaults if d is None)
    return positional + kwonly


def _literal_context(tree: ast.Module) -> tuple[ast.AST | None, bool]:
    """The value assigned to ``initialContext`` (the first one), and whether one exists."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "initialContext" for t in node.targets
        ):
            return node.value, True
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and node.target.id == "initialContext"
            and node.value is not None
        ):
            return node.value, True
    return None, False


def _check_context(tree: ast.Module, err: Any, warn: Any) -> None:
    value, found = _literal_context(tree)
    if not found or value is None:
        warn(
            "no 'initialContext = {...}' assignment: the agent's loader reads 'packages' from "
            "it statically and installs nothing otherwise; scope and analyze_interval cannot "
            "be checked here"
        )
        return
    try:
        ctx = ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        warn(
            f"initialContext (line {getattr(value, 'lineno', '?')}) is not a literal: the "
            "agent's loader (ast.literal_eval) only logs an error and installs none of its "
            "'packages'; the policy still loads. Write it as a literal dict if it lists packages"
        )
        return
    if not isinstance(ctx, dict):
        err(f"initialContext is a {type(ctx).__name__}, not a dict")
        return
    packages = ctx.get("packages", [])
    if not isinstance(packages, list) or not all(isinstance(p, str) for p in packages):
        err(f"initialContext.packages must be a list of pip requirement strings, got {packages!r}")
    elif packages:
        from simcontinuum.mlsysops.packages import missing_packages

        missing = missing_packages(packages)
        if missing:
            warn(
                f"the agent pip-installs {packages}; here {missing} are not installed: run "
                f"'pip install {' '.join(missing)}', or 'simcontinuum mlsysops check "
                "--install-packages FILE' to install them"
            )
    scope = ctx.get("scope")
    if scope is None:
        err(
            "initialContext has no 'scope': the agent never runs the policy; use "
            "'application' or 'global'"
        )
    elif scope not in SCOPES:
        err(f"initialContext.scope {scope!r} is neither 'application' nor 'global'")
    _check_interval(ctx, err, warn)
    telemetry = ctx.get("telemetry")
    if telemetry is not None:
        metrics = telemetry.get("metrics", []) if isinstance(telemetry, Mapping) else None
        if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
            warn(
                "initialContext.telemetry.metrics should be a list of metric names, "
                f"got {metrics!r}"
            )
        scrape = telemetry.get("system_scrape_interval") if isinstance(telemetry, Mapping) else None
        if scrape is not None and not parse_interval(scrape):
            warn(
                f"initialContext.telemetry.system_scrape_interval {scrape!r} does not "
                "match (\\d+)([smhd])"
            )
    mechanisms = ctx.get("mechanisms", [])
    for m in mechanisms if isinstance(mechanisms, list) else []:
        if m not in KNOWN_MECHANISMS:
            warn(f"mechanism {m!r} is unknown (known: {', '.join(KNOWN_MECHANISMS)})")


def _check_interval(ctx: Mapping[str, Any], err: Any, warn: Any) -> None:
    conf = ctx.get("configuration")
    raw = conf.get("analyze_interval") if isinstance(conf, Mapping) else None
    if raw is None:
        err('initialContext.configuration.analyze_interval is missing (e.g. "10s")')
        return
    seconds = parse_interval(raw)
    if seconds is None:
        err(
            f"analyze_interval {raw!r} does not match (\\d+)([smhd]); the agent parses it "
            "to 0 and busy-loops"
        )
    elif seconds == 0:
        err(f"analyze_interval {raw!r} is zero; the agent would busy-loop analyze")


def _check_imports(tree: ast.Module, warn: Any, err: Any = None) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                _check_module(alias.name, (), warn, err)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            _check_module(node.module, tuple(a.name for a in node.names), warn, err)


def _check_module(name: str, names: tuple[str, ...], warn: Any, err: Any = None) -> None:
    top = name.split(".")[0]
    err = err or warn
    if top == "mlsysops":
        sub = name.split(".")[1] if "." in name else None
        if sub is None:
            from simcontinuum.mlsysops.shim.mlsysops import FRAMEWORK_ONLY as AGENT

            for n in names:
                if n in TOP or n == "*":
                    continue
                if n in AGENT:
                    warn(
                        f"'from mlsysops import {n}': part of the agent stack of 0.1.12, not "
                        "offered by the simulator's shim (ImportError here)"
                    )
                else:
                    err(
                        f"'from mlsysops import {n}': mlsysops 0.1.12 has no such name "
                        "(ImportError on the framework too)"
                    )
        elif sub not in SHIM:
            warn(
                f"'{name}' exists only in the real agent; the simulator's shim has "
                + " and ".join(f"mlsysops.{m}" for m in SHIM)
            )
        else:
            for n in names:
                if n in SHIM[sub] or n == "*":
                    continue
                if n in FRAMEWORK_ONLY.get(sub, ()):
                    warn(f"'from {name} import {n}': in 0.1.12 but not offered by the shim")
                else:
                    err(
                        f"'from {name} import {n}': mlsysops 0.1.12 has no such name "
                        f"(ImportError on the framework too); {name} has " + ", ".join(SHIM[sub])
                    )
        return
    if top == "mlstelemetry":
        return  # the shim's stand-in reads simulated telemetry
    if top in sys.stdlib_module_names or top == "__future__":
        return
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        warn(
            f"module {top!r} is not importable here; list it in initialContext.packages for "
            "the agent and install it to simulate"
        )


def format_findings(path: str | Path, findings: list[Finding]) -> list[str]:
    """Lines to print for one file: every finding, or an ``ok`` line."""
    if not findings:
        return [f"{path}: ok (policy {policy_name_of(path)!r})"]
    return [f"{path}: {f}" for f in findings]


__all__ = ["ARGS", "Finding", "check_policy_file", "format_findings"]

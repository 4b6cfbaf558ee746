"""Finding a policy from what a user typed: a name, a file, a module, or an object.

A policy spec is one of:

- a registered name (``first-fit``): a built-in, a name registered on a
  :class:`PolicyRegistry`, or a third-party policy from the entry-point group
  ``simcontinuum.policies``;
- ``path/to/file.py:ClassName``: the file is imported by path (under a module name unique to
  that path) and the class is instantiated with no arguments;
- ``package.module:ClassName``: the same, from an importable module;
- ``ml:model.joblib`` (a serialized model and its ``model.features.json``) or
  ``fixed:best.yaml`` (a placement file): see :mod:`simcontinuum.learn`;
- an object with a ``place`` method: returned as is (a class is instantiated).

Invariants: there is no module-level mutable state. The built-in table is a read-only mapping,
entry points are read at call time, and names registered with :meth:`PolicyRegistry.register`
live on that instance only. Every failure is a :class:`~simcontinuum.errors.PolicyError` that
says what was expected, what came, and how to fix it.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import Any, cast

from simcontinuum.errors import PolicyError
from simcontinuum.k8s.policy import K8S_POLICIES
from simcontinuum.policy.adaptive import ADAPTIVE
from simcontinuum.policy.api import Policy
from simcontinuum.policy.builtins import BUILTINS

ENTRY_POINT_GROUP = "simcontinuum.policies"
FILE_HINT = "path/to/file.py:Class"


@dataclass(frozen=True, slots=True)
class PolicyEntry:
    """A named way to make a policy: ``factory()`` returns a fresh instance."""

    name: str
    factory: Callable[[], Any]
    description: str


def _first_line(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


BUILTIN_POLICIES: Mapping[str, PolicyEntry] = MappingProxyType(
    {
        cls.name: PolicyEntry(cls.name, cls, _first_line(cls))
        for cls in (*BUILTINS, *ADAPTIVE, *K8S_POLICIES)
    }
)
"""The built-in baselines and adaptive policies by name (read-only)."""


class PolicyRegistry:
    """Policy names: the built-ins, entry points, and what is registered on this instance.

    Lookup order: names registered here, then built-ins, then entry points (read on every
    lookup, so installing a package needs no restart of anything but the interpreter).

    >>> reg = PolicyRegistry()
    >>> reg.register("mine", lambda: reg.create("first-fit"), "first-fit under my name")
    >>> type(reg.create("mine")).__name__
    'FirstFit'
    """

    def __init__(self) -> None:
        self._own: dict[str, PolicyEntry] = {}

    def register(self, name: str, factory: Callable[[], Any], description: str = "") -> None:
        """Make ``name`` create a policy with ``factory()`` (on this registry only).

        Raises:
            PolicyError: the name is a built-in or already registered here.
        """
        key = _normalise(name)
        if key in BUILTIN_POLICIES or key in self._own:
            raise PolicyError(f"policy name '{key}' is already taken; choose another name")
        self._own[key] = PolicyEntry(key, factory, description or _first_line(factory))

    def entries(self) -> dict[str, PolicyEntry]:
        """Every known name with its entry (registered, built-in, then entry points)."""
        table = {name: _entry_point_entry(ep) for name, ep in _entry_points().items()}
        table.update(BUILTIN_POLICIES)
        table.update(self._own)
        return table

    def describe(self) -> dict[str, str]:
        """Name -> one-line description, built-ins first."""
        table = self.entries()
        order = [*BUILTIN_POLICIES, *(n for n in sorted(table) if n not in BUILTIN_POLICIES)]
        return {name: table[name].description for name in order}

    def create(self, name: str) -> Policy:
        """A fresh policy registered as ``name``.

        Raises:
            PolicyError: the name is unknown (with the closest known names) or its factory
                fails.
        """
        key = _normalise(name)
        table = self.entries()
        if key not in table:
            raise PolicyError(_unknown_message(name, table))
        try:
            policy = table[key].factory()
        except PolicyError:
            raise
        except Exception as exc:
            raise PolicyError(f"cannot create policy '{key}': {type(exc).__name__}: {exc}") from exc
        return _checked(policy, f"policy '{key}'")

    def load(
        self, spec: str | object, *, search_path: Iterable[str | Path] | None = None
    ) -> Policy:
        """The policy described by ``spec`` (see the module docstring for the forms).

        Args:
            spec: a name, ``file.py:Class``, ``module:Class`` or a policy object.
            search_path: directories where a relative policy file is also looked for (after
                the working directory), e.g. the scenario file's directory.

        Raises:
            PolicyError: the spec cannot be resolved; the message says why and what to give.
        """
        if not isinstance(spec, str):
            return _from_object(spec)
        text = spec.strip()
        if not text:
            raise PolicyError(f"empty policy spec; give a policy name or {FILE_HINT}")
        if _is_mlsysops(text):
            from simcontinuum.mlsysops.adapter import load_policy_spec

            return cast(Policy, load_policy_spec(text, search_path=search_path))
        if text.startswith(("ml:", "fixed:")):
            return _learned(text, search_path)
        if ":" in text:
            target, _, attr = text.rpartition(":")
            if _looks_like_file(target):
                return _from_attr(_import_file(target, search_path), attr, text)
            return _from_attr(_import_module(target), attr, text)
        if text.endswith(".py"):
            raise PolicyError(f"policy file '{text}' needs a class: give '{text}:ClassName'")
        return self.create(text)


def load_policy(spec: str | object, *, search_path: Iterable[str | Path] | None = None) -> Policy:
    """The policy described by ``spec``: a name, ``file.py:Class``, ``module:Class``, an object.

    >>> load_policy("first-fit").name
    'first-fit'

    See :meth:`PolicyRegistry.load`.
    """
    return PolicyRegistry().load(spec, search_path=search_path)


def available_policies() -> dict[str, str]:
    """Every known policy name -> its one-line description (built-ins first)."""
    return PolicyRegistry().describe()


# ----------------------------------------------------------------------------- helpers


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _entry_points() -> dict[str, EntryPoint]:
    """Entry points of the group, read now (so newly installed packages are seen)."""
    return {_normalise(ep.name): ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _entry_point_entry(ep: EntryPoint) -> PolicyEntry:
    def factory() -> Any:
        try:
            target = ep.load()
        except Exception as exc:
            raise PolicyError(
                f"cannot load policy '{ep.name}' from entry point '{ep.value}': "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return _instantiate(target, f"entry point '{ep.value}'")

    dist = getattr(ep, "dist", None)
    origin = f" (package {dist.name})" if dist is not None else ""
    return PolicyEntry(_normalise(ep.name), factory, f"third-party policy {ep.value}{origin}")


def _unknown_message(name: str, table: Mapping[str, PolicyEntry]) -> str:
    close = difflib.get_close_matches(_normalise(name), list(table), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else "."
    return f"unknown policy '{name}'{hint} Known: {', '.join(table)}; or give {FILE_HINT}"


def _learned(text: str, search_path: Iterable[str | Path] | None) -> Policy:
    """``ml:model.joblib`` (a serialized model and its feature spec) or ``fixed:best.yaml``
    (a placement file); see :mod:`simcontinuum.learn`."""
    kind, _, path = text.partition(":")
    if not path.strip():
        example = "ml:model.joblib" if kind == "ml" else "fixed:best.yaml"
        raise PolicyError(f"policy '{text}': give a file after '{kind}:', e.g. '{example}'")
    if kind == "ml":
        from simcontinuum.learn.mlpolicy import load_ml_policy

        return cast(Policy, load_ml_policy(path.strip(), search_path=search_path))
    from simcontinuum.learn.fixed import FixedPlacement

    return cast(Policy, FixedPlacement.load(path.strip(), search_path=search_path))


def _is_mlsysops(text: str) -> bool:
    """An MLSysOps policy spec: ``mlsysops:...`` or a ``policy-<name>.py`` file without
    ``:Class`` (see :mod:`simcontinuum.mlsysops.adapter`)."""
    from simcontinuum.mlsysops.spec import is_policy_spec

    return is_policy_spec(text)


def _looks_like_file(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def _resolve_file(target: str, search_path: Iterable[str | Path] | None) -> Path:
    path = Path(target).expanduser()
    candidates = [path]
    if not path.is_absolute():
        candidates += [Path(d) / path for d in (search_path or ())]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    looked = ", ".join(str(c) for c in candidates)
    raise PolicyError(f"policy file '{target}' not found (looked at: {looked})")


def _import_file(target: str, search_path: Iterable[str | Path] | None) -> ModuleType:
    """Import a file by path under a module name unique to that path."""
    path = _resolve_file(target, search_path)
    digest = hashlib.sha256(str(path).encode("utf-8")).hexdigest()[:12]
    stem = re.sub(r"\W", "_", path.stem)
    name = f"simcontinuum_user_policy_{stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise PolicyError(f"cannot import policy file '{path}': not a Python source file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickle look classes up by module name
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(name, None)
        if not isinstance(exc, (Exception, SystemExit)):
            raise
        raise PolicyError(
            f"cannot import policy file '{path}': {type(exc).__name__}: {exc}"
        ) from exc
    return module


def _import_module(target: str) -> ModuleType:
    try:
        return importlib.import_module(target)
    except Exception as exc:
        raise PolicyError(
            f"cannot import policy module '{target}': {type(exc).__name__}: {exc}; "
            f"give an importable module or {FILE_HINT}"
        ) from exc


def _from_attr(module: ModuleType, attr: str, spec: str) -> Policy:
    if not attr.isidentifier():
        raise PolicyError(f"policy spec '{spec}': '{attr}' is not a class name")
    if not hasattr(module, attr):
        found = sorted(
            n for n, v in vars(module).items() if inspect.isclass(v) and hasattr(v, "place")
        )
        offer = f"; classes with place(): {', '.join(found)}" if found else ""
        raise PolicyError(f"policy spec '{spec}': no class '{attr}' in the module{offer}")
    return _instantiate(getattr(module, attr), f"'{spec}'")


def _instantiate(target: object, what: str) -> Policy:
    """A class or factory called with no arguments; an object with ``place`` as is."""
    if not inspect.isclass(target) and hasattr(target, "place"):
        return _checked(target, what)
    if inspect.isclass(target) and not callable(getattr(target, "place", None)):
        raise PolicyError(f"{what}: class {target.__name__} has no place(app, view) method")
    if not callable(target):
        raise PolicyError(f"{what}: expected a policy class, got {type(target).__name__}")
    try:
        policy = target()
    except Exception as exc:
        raise PolicyError(
            f"{what}: cannot instantiate with no arguments: {type(exc).__name__}: {exc}"
        ) from exc
    return _checked(policy, what)


def _from_object(obj: object) -> Policy:
    if inspect.isclass(obj):
        return _instantiate(obj, f"class {obj.__name__}")
    return _checked(obj, f"object of type {type(obj).__name__}")


def _checked(policy: object, what: str) -> Policy:
    if not callable(getattr(policy, "place", None)):
        raise PolicyError(
            f"{what} is not a policy: it has no place(app, view) method "
            f"(give a policy name, {FILE_HINT}, or an object with place)"
        )
    return cast(Policy, policy)


__all__ = [
    "BUILTIN_POLICIES",
    "ENTRY_POINT_GROUP",
    "PolicyEntry",
    "PolicyRegistry",
    "available_policies",
    "load_policy",
]

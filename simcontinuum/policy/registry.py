"""Finding a policy from what a user typed: a name, a file, a module, or an object.

The forms of a policy spec and their order are those of :mod:`simcontinuum.policy.spec`, the
one parser of specs (``first-fit``, ``file.py:Class``, ``module:Class``, ``ml:model.joblib``,
``fixed:best.yaml``, MLSysOps ``policy-*.py`` files, and schemes of installed packages). This
module holds the *names*: the built-in table, names registered on a :class:`PolicyRegistry`,
and third-party policies from the entry-point group ``simcontinuum.policies``. An object with
a ``place`` method is returned as is (a class is instantiated).

Invariants: there is no module-level mutable state. The built-in table is a read-only mapping,
entry points are read at call time, and names registered with :meth:`PolicyRegistry.register`
live on that instance only. Every failure is a :class:`~simcontinuum.errors.PolicyError` that
says what was expected, what came, and how to fix it.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint
from pathlib import Path
from types import MappingProxyType
from typing import Any

from simcontinuum.errors import PolicyError
from simcontinuum.k8s.policy import K8S_POLICIES
from simcontinuum.policy.adaptive import ADAPTIVE
from simcontinuum.policy.api import Policy
from simcontinuum.policy.builtins import BUILTINS
from simcontinuum.policy.spec import (
    ENTRY_POINT_GROUP,
    FILE_HINT,
    checked,
    instantiate,
    normalise_name,
    parse_policy_spec,
    policy_entry_points,
)


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
        key = normalise_name(name)
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
        key = normalise_name(name)
        # registered and built-in names win over entry points (as in entries()): only
        # another name needs the installed packages read (milliseconds; an RL reset is one)
        entry = self._own.get(key) or BUILTIN_POLICIES.get(key)
        if entry is None:
            table = self.entries()
            if key not in table:
                raise PolicyError(_unknown_message(name, table))
            entry = table[key]
        try:
            policy = entry.factory()
        except PolicyError:
            raise
        except Exception as exc:
            raise PolicyError(f"cannot create policy '{key}': {type(exc).__name__}: {exc}") from exc
        return checked(policy, f"policy '{key}'")

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
        return parse_policy_spec(spec).load(search_path=search_path, registry=self)


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


def _entry_points() -> dict[str, EntryPoint]:
    """Third-party policies of the entry-point group, read now."""
    return policy_entry_points()


def _entry_point_entry(ep: EntryPoint) -> PolicyEntry:
    def factory() -> Any:
        try:
            target = ep.load()
        except Exception as exc:
            raise PolicyError(
                f"cannot load policy '{ep.name}' from entry point '{ep.value}': "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return instantiate(target, f"entry point '{ep.value}'")

    dist = getattr(ep, "dist", None)
    origin = f" (package {dist.name})" if dist is not None else ""
    return PolicyEntry(normalise_name(ep.name), factory, f"third-party policy {ep.value}{origin}")


def _unknown_message(name: str, table: Mapping[str, PolicyEntry]) -> str:
    close = difflib.get_close_matches(normalise_name(name), list(table), n=1)
    hint = f"; did you mean '{close[0]}'?" if close else "."
    return f"unknown policy '{name}'{hint} Known: {', '.join(table)}; or give {FILE_HINT}"


def _from_object(obj: object) -> Policy:
    if inspect.isclass(obj):
        return instantiate(obj, f"class {obj.__name__}")
    return checked(obj, f"object of type {type(obj).__name__}")


__all__ = [
    "BUILTIN_POLICIES",
    "ENTRY_POINT_GROUP",
    "PolicyEntry",
    "PolicyRegistry",
    "available_policies",
    "load_policy",
]

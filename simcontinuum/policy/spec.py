"""Policy specs: the one parser of what a user types after ``--policy``.

A spec is one of, tried in this order:

1. ``SCHEME:ARG`` where ``SCHEME`` is a known scheme — the built-ins ``ml:model.joblib`` (a
   serialized model and its ``model.features.json``), ``fixed:placements.yaml`` (a placement
   file), ``mlsysops:PATH[?options]`` (MLSysOps ``policy-*.py`` files), or a scheme a package
   registers in the ``simcontinuum.policies`` entry-point group as ``scheme.SCHEME``;
2. a bare MLSysOps policy file, ``path/policy-<name>.py`` (the ``mlsysops`` scheme claims it);
3. ``path/to/file.py:Class`` (a file, imported by path) or ``package.module:Class``;
4. ``path/to/file.py`` alone: the class the file names with ``POLICY = "Name"``, else its
   only class with a ``place`` method (the rule of leaderboard submissions);
5. a registered name (``first-fit``): a built-in, a name on a
   :class:`~simcontinuum.policy.registry.PolicyRegistry`, or a third-party policy from the
   ``simcontinuum.policies`` entry points.

:func:`parse_policy_spec` does the parsing and nothing else (no import, no file read), so it
is cheap and its errors are about the text. The :class:`PolicySpec` it returns can say which
files the policy reads (:meth:`PolicySpec.files`, for cache keys: editing a model or a policy
file must invalidate cached runs), give a content digest (:meth:`PolicySpec.digest`), and load
the policy (:meth:`PolicySpec.load`).

A scheme is any object with ``load(arg, *, search_path) -> policy`` and ``files(arg, *,
search_path) -> list[Path]`` (see :class:`PolicyScheme`). The built-in schemes are declared
here as entry points of their own (module paths, loaded on first use), exactly as a
third-party package declares one, so this module imports neither ``learn`` nor ``mlsysops``.

>>> parse_policy_spec("first-fit").kind
'name'
>>> s = parse_policy_spec("ml:models/m.joblib")
>>> (s.kind, s.scheme, s.target)
('scheme', 'ml', 'models/m.joblib')
>>> parse_policy_spec("p/policy-mover.py?level=continuum").scheme
'mlsysops'
>>> s = parse_policy_spec("my/policy.py:Greedy")
>>> (s.kind, s.target, s.attr)
('file', 'my/policy.py', 'Greedy')
>>> parse_policy_spec("mypkg.policies:Greedy").kind
'module'
>>> parse_policy_spec("mine.py").attr is None
True
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import MappingProxyType, ModuleType
from typing import TYPE_CHECKING, Any, Literal, Protocol, cast

from simcontinuum.errors import PolicyError

if TYPE_CHECKING:
    from simcontinuum.policy.api import Policy
    from simcontinuum.policy.registry import PolicyRegistry

ENTRY_POINT_GROUP = "simcontinuum.policies"
"""Entry-point group of third-party policies (``name = "module:Class"``) and spec schemes
(``"scheme.NAME" = "module:OBJECT"`` makes ``NAME:ARG`` specs)."""
SCHEME_ENTRY = "scheme."
"""Entry-point names starting with this declare a scheme, not a policy."""

FILE_HINT = "path/to/file.py:Class"
_SCHEME_WORD = re.compile(r"[a-z][a-z0-9_-]*")

SearchPath = Iterable[str | os.PathLike[str]] | None
Kind = Literal["name", "file", "module", "scheme"]


class PolicyScheme(Protocol):
    """What a spec scheme (``ml:``, ``fixed:``, a plugin's own) provides.

    Optional attributes: ``example`` (a spec shown when the argument is missing), ``key(arg)``
    (the part of the argument that identifies the policy besides the content of its files —
    options, not paths; default: the whole argument) and ``claims(text)`` (for built-in
    schemes only: whether a spec without the prefix belongs to the scheme).
    """

    def load(self, arg: str, *, search_path: SearchPath) -> Any:
        """The policy of ``arg`` (raise PolicyError with the fix on bad input)."""
        ...

    def files(self, arg: str, *, search_path: SearchPath) -> list[Path]:
        """The files ``load`` would read (missing ones left out; never raises)."""
        ...


@dataclass(frozen=True, slots=True)
class _Builtin:
    value: str  # "module:attr" of the scheme object
    claims: str | None = None  # "module:function" deciding whether a bare spec is ours
    description: str = ""


BUILTIN_SCHEMES: Mapping[str, _Builtin] = MappingProxyType(
    {
        "ml": _Builtin(
            "simcontinuum.learn.mlpolicy:SCHEME",
            description="ml:model.joblib - a trained model and its model.features.json",
        ),
        "fixed": _Builtin(
            "simcontinuum.learn.fixed:SCHEME",
            description="fixed:best.yaml - a placement file ('simcontinuum optimize')",
        ),
        "mlsysops": _Builtin(
            "simcontinuum.mlsysops.adapter:SCHEME",
            "simcontinuum.mlsysops.spec:is_policy_spec",
            "mlsysops:DIR or path/policy-x.py[?level=continuum] - MLSysOps policy files",
        ),
    }
)
"""The schemes simcontinuum ships, registered the way a plugin registers one."""


def normalise_name(name: str) -> str:
    """The registry form of a policy name: stripped, lower case, ``_`` as ``-``.

    >>> normalise_name(" First_Fit ")
    'first-fit'
    """
    return name.strip().lower().replace("_", "-")


def policy_entry_points() -> dict[str, EntryPoint]:
    """Installed third-party policies by normalised name (read now, so a package installed
    since the last call is seen). Scheme entries (``scheme.NAME``) are left out."""
    out = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if not ep.name.startswith(SCHEME_ENTRY):
            out[normalise_name(ep.name)] = ep
    return out


def scheme_entry_points() -> dict[str, EntryPoint]:
    """Every scheme by its prefix (without the colon): installed ones, then the built-ins (a
    package cannot replace a built-in scheme)."""
    out: dict[str, EntryPoint] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name.startswith(SCHEME_ENTRY):
            out[ep.name[len(SCHEME_ENTRY) :].strip().lower()] = ep
    for name, b in BUILTIN_SCHEMES.items():
        out[name] = EntryPoint(f"{SCHEME_ENTRY}{name}", b.value, ENTRY_POINT_GROUP)
    return out


def available_schemes() -> dict[str, str]:
    """Every spec scheme -> a line saying what its argument is (nothing is imported).

    >>> sorted(available_schemes())[:3]
    ['fixed', 'ml', 'mlsysops']
    """
    out = {}
    for name, ep in scheme_entry_points().items():
        if name in BUILTIN_SCHEMES:
            out[name] = BUILTIN_SCHEMES[name].description
        else:
            dist = getattr(ep, "dist", None)
            origin = f" (package {dist.name})" if dist is not None else ""
            out[name] = f"{name}:ARG - third-party scheme {ep.value}{origin}"
    return dict(sorted(out.items()))


def load_scheme(name: str) -> PolicyScheme:
    """The scheme object registered as ``name`` (without the colon).

    Raises:
        PolicyError: unknown, or its entry point does not load.
    """
    ep = scheme_entry_points().get(name)
    if ep is None:
        raise PolicyError(f"unknown policy scheme '{name}:'")
    try:
        scheme = ep.load()
    except Exception as exc:
        raise PolicyError(
            f"cannot load policy scheme '{name}:' from entry point '{ep.value}': "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    if not (callable(getattr(scheme, "load", None)) and callable(getattr(scheme, "files", None))):
        raise PolicyError(
            f"policy scheme '{name}:' ({ep.value}) is not a scheme: it needs "
            "load(arg, *, search_path) and files(arg, *, search_path)"
        )
    return cast(PolicyScheme, scheme)


# ----------------------------------------------------------------------------- the spec


@dataclass(frozen=True, slots=True)
class PolicySpec:
    """A parsed policy spec (see the module docstring). Build one with
    :func:`parse_policy_spec`.

    Attributes:
        text: the spec as given (stripped).
        kind: ``name``, ``file`` (a ``.py`` path), ``module`` or ``scheme``.
        target: the name, the file path, the module, or the scheme's argument.
        attr: the class of a ``file``/``module`` spec (``None``: the file's only policy class).
        scheme: the scheme of a ``scheme`` spec (``ml``, ``fixed``, ``mlsysops``, ...).
    """

    text: str
    kind: Kind
    target: str
    attr: str | None = None
    scheme: str | None = None

    def files(self, search_path: SearchPath = None) -> tuple[Path, ...]:
        """The files loading this policy reads, resolved (missing ones are left out).

        A registered name reads no file of its own (built-ins are part of the package, whose
        source fingerprint is in every run key); a third-party policy reads its module's file.
        """
        if self.kind == "scheme":
            assert self.scheme is not None
            try:
                found = load_scheme(self.scheme).files(self.target, search_path=search_path)
            except PolicyError:
                return ()
            return tuple(sorted({Path(f).resolve() for f in found}))
        if self.kind == "file":
            path = resolve_file(self.target, search_path)
            return (path,) if path is not None else ()
        if self.kind == "module":
            origin = _module_origin(self.target)
            return (origin,) if origin is not None else ()
        ep = policy_entry_points().get(normalise_name(self.target))
        if ep is not None:
            origin = _module_origin(ep.module)
            return (origin,) if origin is not None else ()
        return ()

    def digest(self, search_path: SearchPath = None) -> str:
        """A sha256 (hex) of what decides this policy's behaviour: its kind, class, options
        and the content of the files it reads — not their paths, so moving a file keeps
        cached runs and editing it invalidates them.

        >>> parse_policy_spec("first-fit").digest() == parse_policy_spec("First_Fit").digest()
        True
        """
        h = hashlib.sha256()
        h.update(f"{self.kind}\0{self.scheme or ''}\0{self.attr or ''}\0".encode())
        if self.kind == "name":
            name = normalise_name(self.target)
            h.update(name.encode() + b"\0")
            ep = policy_entry_points().get(name)
            if ep is not None:  # which package provides it, in which version
                dist = getattr(ep, "dist", None)
                version = f"{dist.name}=={dist.version}" if dist is not None else ""
                h.update(f"{ep.value}\0{version}\0".encode())
        elif self.kind == "module":
            h.update(self.target.encode() + b"\0")
        elif self.kind == "scheme":
            assert self.scheme is not None
            try:
                key = getattr(load_scheme(self.scheme), "key", None)
            except PolicyError:
                key = None
            h.update((key(self.target) if callable(key) else self.target).encode() + b"\0")
        for f in self.files(search_path):
            h.update(f.name.encode() + b"\0")
            try:
                h.update(f.read_bytes())
            except OSError:
                h.update(b"\0unreadable\0")
        return h.hexdigest()

    def portable(self) -> str:
        """The spec with a ``file`` path made absolute, for processes in another folder."""
        if self.kind != "file":
            return self.text
        path = str(Path(self.target).expanduser().resolve())
        return f"{path}:{self.attr}" if self.attr else path

    def load(
        self, *, search_path: SearchPath = None, registry: PolicyRegistry | None = None
    ) -> Policy:
        """The policy this spec names (a fresh instance).

        Args:
            search_path: folders where a relative file is also looked for (after the working
                folder), e.g. the scenario file's folder.
            registry: where names are looked up (default: a fresh registry: built-ins and
                entry points).

        Raises:
            PolicyError: it cannot be loaded; the message says why and what to give.
        """
        if self.kind == "scheme":
            assert self.scheme is not None
            scheme = load_scheme(self.scheme)
            if not self.target.strip():
                example = getattr(scheme, "example", f"{self.scheme}:PATH")
                raise PolicyError(
                    f"policy '{self.text}': give a file after '{self.scheme}:', e.g. '{example}'"
                )
            return _checked(scheme.load(self.target, search_path=search_path), f"'{self.text}'")
        if self.kind == "file":
            module = import_file(self.target, search_path)
            if self.attr is None:
                return _only_class(module, self.text)
            return _from_attr(module, self.attr, self.text)
        if self.kind == "module":
            assert self.attr is not None
            return _from_attr(_import_module(self.target), self.attr, self.text)
        if registry is None:
            from simcontinuum.policy.registry import PolicyRegistry

            registry = PolicyRegistry()
        return registry.create(self.target)


def parse_policy_spec(text: str) -> PolicySpec:
    """Parse a policy spec (see the module docstring for the forms and their order).

    Raises:
        PolicyError: the text is empty or malformed (e.g. ``file.py:`` without a class).
    """
    if not isinstance(text, str):
        raise PolicyError(f"a policy spec is text, got {type(text).__name__}")
    spec = text.strip()
    if not spec:
        raise PolicyError(f"empty policy spec; give a policy name or {FILE_HINT}")
    prefix, colon, rest = spec.partition(":")
    scheme = prefix.strip().lower()
    # Only a plain word can be a scheme; reading the entry points costs a scan of the
    # installed packages, so it is done only for such a word that is not a built-in.
    if colon and (
        scheme in BUILTIN_SCHEMES
        or (_SCHEME_WORD.fullmatch(scheme) and scheme in scheme_entry_points())
    ):
        return PolicySpec(spec, "scheme", rest.strip(), scheme=scheme)
    for name, builtin in BUILTIN_SCHEMES.items():
        if builtin.claims is not None and _call(builtin.claims, spec):
            return PolicySpec(spec, "scheme", spec, scheme=name)
    if ":" in spec:
        target, _, attr = spec.rpartition(":")
        if not attr.isidentifier():
            raise PolicyError(f"policy spec '{spec}': '{attr}' is not a class name")
        kind: Kind = "file" if _looks_like_file(target) else "module"
        return PolicySpec(spec, kind, target, attr)
    if spec.endswith(".py"):
        return PolicySpec(spec, "file", spec)
    return PolicySpec(spec, "name", spec)


# ----------------------------------------------------------------------------- helpers


def resolve_file(target: str | os.PathLike[str], search_path: SearchPath = None) -> Path | None:
    """The file ``target`` names, resolved: as given, else under each ``search_path`` folder
    when it is relative; ``None`` when none of these is a file."""
    for candidate in _candidates(target, search_path):
        if candidate.is_file():
            return candidate.resolve()
    return None


def _candidates(target: str | os.PathLike[str], search_path: SearchPath) -> list[Path]:
    path = Path(target).expanduser()
    out = [path]
    if not path.is_absolute():
        out += [Path(d) / path for d in (search_path or ())]
    return out


def _call(value: str, arg: str) -> bool:
    module, _, attr = value.partition(":")
    return bool(getattr(importlib.import_module(module), attr)(arg))


def _looks_like_file(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def _module_origin(module: str) -> Path | None:
    try:
        found = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    origin = found.origin if found else None
    return Path(origin).resolve() if origin and os.path.isfile(origin) else None


def import_file(target: str, search_path: SearchPath = None) -> ModuleType:
    """Import a Python file by path, under a module name unique to that path.

    Raises:
        PolicyError: not found, or the import fails (the exception is named).
    """
    path = resolve_file(target, search_path)
    if path is None:
        looked = ", ".join(str(c) for c in _candidates(target, search_path))
        raise PolicyError(f"policy file '{target}' not found (looked at: {looked})")
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


def _policy_classes(module: ModuleType, *, own: bool) -> list[str]:
    return sorted(
        n
        for n, v in vars(module).items()
        if inspect.isclass(v)
        and callable(getattr(v, "place", None))
        and (not own or v.__module__ == module.__name__)
    )


def module_policy(module: ModuleType, spec: str) -> object:
    """The policy a module names: ``POLICY = "Name"`` (or ``POLICY = TheClass``), else the
    one class with a ``place`` method it defines (imported ones do not count).

    Raises:
        PolicyError: ``POLICY`` names nothing there, or there is no such class or several.
    """
    named = getattr(module, "POLICY", None)
    if isinstance(named, str):
        if not hasattr(module, named):
            raise PolicyError(
                f"policy file '{spec}': POLICY = {named!r}, but it defines no {named}"
            )
        return getattr(module, named)
    if named is not None:
        return named
    found = _policy_classes(module, own=True)
    if len(found) == 1:
        return getattr(module, found[0])
    if not found:
        raise PolicyError(
            f"policy file '{spec}' defines no class with a place(app, view) method; "
            f"give '{spec}:ClassName'"
        )
    raise PolicyError(
        f"policy file '{spec}' needs a class: give '{spec}:ClassName' or set POLICY = "
        f"'TheOne' (it defines {len(found)}: {', '.join(found)})"
    )


def _only_class(module: ModuleType, spec: str) -> Policy:
    return instantiate(module_policy(module, spec), f"'{spec}'")


def _from_attr(module: ModuleType, attr: str, spec: str) -> Policy:
    if not hasattr(module, attr):
        found = _policy_classes(module, own=False)
        offer = f"; classes with place(): {', '.join(found)}" if found else ""
        raise PolicyError(f"policy spec '{spec}': no class '{attr}' in the module{offer}")
    return instantiate(getattr(module, attr), f"'{spec}'")


def instantiate(target: object, what: str) -> Policy:
    """A class or factory called with no arguments; an object with ``place`` as is.

    Raises:
        PolicyError: not a policy class, or it cannot be made without arguments.
    """
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


def _checked(policy: object, what: str) -> Policy:
    if not callable(getattr(policy, "place", None)):
        raise PolicyError(
            f"{what} is not a policy: it has no place(app, view) method "
            f"(give a policy name, {FILE_HINT}, or an object with place)"
        )
    return cast("Policy", policy)


def checked(policy: object, what: str) -> Policy:
    """``policy`` if it has a ``place`` method, else a PolicyError naming ``what``."""
    return _checked(policy, what)


__all__ = [
    "BUILTIN_SCHEMES",
    "ENTRY_POINT_GROUP",
    "FILE_HINT",
    "SCHEME_ENTRY",
    "PolicyScheme",
    "PolicySpec",
    "available_schemes",
    "import_file",
    "instantiate",
    "load_scheme",
    "module_policy",
    "normalise_name",
    "parse_policy_spec",
    "policy_entry_points",
    "resolve_file",
    "scheme_entry_points",
]

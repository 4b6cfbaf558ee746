"""MLSysOps policy files as a simcontinuum policy.

:class:`MLSysOpsPolicy` is an ordinary simcontinuum policy (``place``, ``plan``, ``on_event``,
``reset``) that runs one or more ``policy-<name>.py`` files through the framework's contract
(see :mod:`simcontinuum.mlsysops.agent`): every engine call is one agent cycle at the simulated
time, and the accepted fluidity / clusterPlacement actions are returned to the engine, which
applies and records them.

- ``place(app, view)`` runs a cycle when an application arrives (the agent registers it and
  analyzes at once); deploys of that application become the placement, any other action is
  returned by the ``on_event(app_arrived)`` call that follows at the same instant;
- ``plan(view, telemetry)`` runs a cycle every second, as the agent's plan scheduler does
  (``control_interval``, which the engine honours instead of ``control.interval``);
- ``reset(rng)`` starts a fresh run: ``initialize()`` is called again for every file, the
  built-in placement draws from ``rng`` (the run's ``policy`` stream).

Rows the engine does not write itself (failed calls, refused, discarded or ignored plans,
adjusted intervals, policies that never run) go to ``results.actions`` through the engine
bridge (:mod:`simcontinuum.mlsysops.bridge`), or to :attr:`MLSysOpsPolicy.records` when the
policy runs outside an engine.

Spec strings (``load_policy``): ``path/policy-x.py``, ``mlsysops:path/policy-x.py`` or
``mlsysops:path/dir`` (every ``policy-*.py`` in it), optionally followed by
``?level=continuum``, ``builtin=off`` and/or ``packages=install`` (pip-install the packages
the files list in ``initialContext``, as the agent does) joined with ``&``.
"""

from __future__ import annotations

import copy
import functools
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from simcontinuum.errors import PolicyError, ScenarioError
from simcontinuum.mlsysops.agent import SCOPES, Cycle, Loaded, MLSysOpsWarning
from simcontinuum.mlsysops.bridge import EngineBridge
from simcontinuum.mlsysops.callenv import GlobalRandomState
from simcontinuum.mlsysops.descriptions import Descriptions, read_descriptions, synthesize
from simcontinuum.mlsysops.fluidity import Note
from simcontinuum.mlsysops.policyfile import (
    Caller,
    PolicyFile,
    find_policy_files,
    is_async,
    load_policy_module,
)
from simcontinuum.mlsysops.spec import PREFIX, is_policy_spec
from simcontinuum.mlsysops.warn import warn_policy
from simcontinuum.policy.api import Action, AppView, ClusterView, Deploy, Event, Placement

LEVELS = ("cluster", "continuum")
#: A policy that cannot run: (warning key, message, its file, the exception if it raised).
Problem = tuple[tuple[Any, ...], str, PolicyFile, BaseException | None]
AGENT_PERIOD_S = 1.0


class MLSysOpsPolicy:
    """Runs MLSysOps ``policy-<name>.py`` files in simcontinuum, unchanged.

    Args:
        paths: policy files, or directories whose ``policy-*.py`` files are all loaded (as the
            agent's policy directory).
        level: ``"cluster"`` (the policies run in every cluster agent, mechanism ``fluidity``)
            or ``"continuum"`` (one continuum agent, mechanism ``clusterPlacement``).
        builtin: run the agent's built-in behaviour: fluidity deploys pinned components on
            their node, the core ``dynamicPlacement`` places the others at random on an
            eligible node (a user policy named ``dynamicPlacement`` replaces it). Off: the
            policies must deploy everything themselves.
        descriptions: a directory of MLSysOps descriptions to pass to the policies. Default:
            the scenario's ``source_path`` when it is one (scenarios from
            :func:`~simcontinuum.mlsysops.load_descriptions`); whatever is not described is
            made up from the scenario (:func:`~simcontinuum.mlsysops.descriptions.synthesize`).
        search_path: directories where relative paths are also looked for.
        loader: makes a :class:`PolicyFile` of a path (default: import it here;
            :mod:`simcontinuum.boundary.mlsysops` gives one whose functions run in an
            isolated worker).

    Raises:
        PolicyError: a file is missing, does not import, lacks a function, or two files have
            the same policy name.
    """

    control_interval = AGENT_PERIOD_S  # the agent's plan scheduler period; the engine honours it

    def __init__(
        self,
        paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
        *,
        level: str = "cluster",
        builtin: bool = True,
        descriptions: str | os.PathLike[str] | Descriptions | None = None,
        search_path: Iterable[str | os.PathLike[str]] | None = None,
        loader: Callable[[Path], PolicyFile] | None = None,
        install_packages: bool = False,
    ) -> None:
        if level not in LEVELS:
            raise PolicyError(f"MLSysOps level must be one of {', '.join(LEVELS)}, got {level!r}")
        items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
        found: list[Path] = []
        for p in items:
            found += find_policy_files(Path(p), [Path(d) for d in (search_path or ())])
        self.paths = found
        self.install_packages = bool(install_packages)
        # the loader imports each file here, or (the trust boundary) starts a worker for it
        if loader is None:
            loader = functools.partial(load_policy_module, install_packages=self.install_packages)
        self.files: list[PolicyFile] = [loader(p) for p in found]
        seen: dict[str, Path] = {}
        for f in self.files:
            if f.name in seen:
                raise PolicyError(
                    f"two MLSysOps policies are named {f.name!r}: {seen[f.name]} and {f.path}"
                )
            seen[f.name] = f.path
            for fn in ("analyze", "plan"):
                if not is_async(f.function(fn)):
                    warn_policy(
                        f"{f.path.name}: {fn}() is not 'async def'; the MLSysOps agent awaits "
                        "it, so every call will fail",
                        f.path,
                        function=fn,
                    )
        self.level = level
        self.builtin = bool(builtin)
        self.descriptions = descriptions
        self.name = "mlsysops:" + ",".join(f.name for f in self.files)
        self.records: list[tuple[Any, ...]] = []
        self._bridge: EngineBridge | None = None
        self._rng: Any = None
        self._cycle: Cycle | None = None
        self._pending: list[Action] = []
        self._now = 0.0
        self._caller = Caller()

    def __repr__(self) -> str:
        paths = [str(p) for p in self.paths]
        return f"MLSysOpsPolicy({paths}, level={self.level!r}, builtin={self.builtin})"

    def __reduce__(self) -> tuple[Any, ...]:
        desc = self.descriptions if not isinstance(self.descriptions, Descriptions) else None
        return (
            _rebuild,
            ([str(p) for p in self.paths], self.level, self.builtin, desc),
        )

    def instance_modules(self, name: str | None = None) -> list[Any]:
        """The modules of this run's policy instances (policy ``name``, or all), in the
        agents' order. As on the framework, every instance — one per application for
        ``application`` scope, one per agent for ``global`` — imports the file anew, so
        module-level state is per instance; :attr:`files` holds the templates."""
        if self._cycle is None:
            return []
        out = []
        for agent in self._cycle._ordered_agents():
            for inst in agent.instances:
                if inst.file is not None and (name is None or inst.name == name):
                    out.append(inst.file.module)
        return out

    # ------------------------------------------------------------------ engine hooks
    def bind(self, simulation: Any) -> None:
        """Record into ``simulation``'s run and read its scenario through its public driving
        API (see :mod:`simcontinuum.mlsysops.bridge`); the engine calls this right after
        ``reset``."""
        self._bridge = EngineBridge(simulation)
        self._cycle = None

    def reset(self, rng: Any) -> None:
        """Start a fresh run drawing from ``rng``; ``initialize()`` runs again. The engine
        then calls :meth:`bind`."""
        self._rng = rng
        self._bridge = None
        self._cycle = None
        self._pending = []
        self.records = []

    def place(self, app: AppView, view: ClusterView) -> Placement:
        """An application arrived: one cycle; its deploys are the placement."""
        actions = self._run(view, self._bridge.telemetry() if self._bridge else None)
        placement: Placement = {}
        for a in actions:
            if isinstance(a, Deploy) and a.app == app.id:
                placement.setdefault(a.component, []).append(a.node)
            else:
                self._pending.append(a)
        return placement

    def plan(self, view: ClusterView, telemetry: Any) -> list[Action]:
        """One agent cycle (every ``control.interval``)."""
        pending, self._pending = self._pending, []
        return pending + self._run(view, telemetry)

    def on_event(self, event: Event, view: ClusterView) -> list[Action]:
        """Returns what the arrival cycle decided besides the arriving application's deploys."""
        pending, self._pending = self._pending, []
        return pending

    # ------------------------------------------------------------------ the run
    def _run(self, view: ClusterView, delivered: Any) -> list[Action]:
        self._now = float(view.now)
        cycle = self._cycle if self._cycle is not None else self._start(view)
        return cycle.run(view, float(view.now), delivered)

    def _note(self, note: Note) -> None:
        if self._bridge is not None:
            self._bridge.record(note)
            return
        self.records.append(
            (
                self._now,
                note.call,
                note.kind,
                note.app,
                note.component,
                note.node,
                note.target,
                note.outcome,
                note.reason,
            )
        )

    def _start(self, view: ClusterView) -> Cycle:
        """Build the agents of a run: descriptions, ``initialize()`` of every file."""
        if self._rng is None:
            import numpy as np

            self._rng = np.random.default_rng(0)  # outside an engine run: a fixed stream
        scenario = self._bridge.scenario if self._bridge is not None else None
        base = self._base_descriptions(scenario)
        if scenario is not None:
            nodes: Iterable[Any] = scenario.topology.nodes
            clusters: Mapping[str, Iterable[str]] = scenario.topology.clusters
            apps: Iterable[Any] = scenario.applications
            name = scenario.name
        else:
            nodes, clusters = view.nodes.values(), view.clusters
            apps, name = [a.app for a in view.apps.values()], "continuum"
        desc = synthesize(nodes, clusters, apps, name, base)
        # policies see simulated time and the run's own global random sequences
        self._caller.now = float(view.now)
        self._caller.randomness = GlobalRandomState(self._rng)
        loaded, problems = self._initialize()
        cycle = Cycle(
            loaded,
            desc,
            _agent_hosts(clusters, base),
            level=self.level,
            builtin=self.builtin,
            rng=self._rng,
            note=self._note,
            running=self._bridge.running if self._bridge is not None else None,
            caller=self._caller,
        )
        for key, message, file, exc in problems:
            cycle.warn(key, message, policy=file, function="initialize", exc=exc)
            self._note(Note("initialize", "error", "error", message))
        if scenario is not None:
            self._check_timing(cycle, scenario, loaded)
        self._cycle = cycle
        return cycle

    def _base_descriptions(self, scenario: Any) -> Descriptions | None:
        if isinstance(self.descriptions, Descriptions):
            return self.descriptions
        root = self.descriptions
        if root is None and scenario is not None and scenario.source_path:
            root = scenario.source_path if os.path.isdir(scenario.source_path) else None
        if root is None:
            return None
        try:
            return read_descriptions(root)
        except ScenarioError as err:
            warnings.warn(
                f"MLSysOps descriptions at {root} cannot be read, made up from the scenario "
                f"instead: {err}",
                MLSysOpsWarning,
                stacklevel=3,
            )
            return None

    def _initialize(self) -> tuple[list[Loaded], list[Problem]]:
        loaded: list[Loaded] = []
        problems: list[Problem] = []
        for f in self.files:
            try:
                ctx = self._caller.call_sync(f.function("initialize"))
            except Exception as exc:
                msg = (
                    f"policy {f.name!r}: initialize() raised {type(exc).__name__}: {exc}; "
                    "the MLSysOps agent never runs this policy"
                )
                problems.append(((f.name, "initialize"), msg, f, exc))
                loaded.append(Loaded(f, None, None))
                continue
            scope = ctx.get("scope") if isinstance(ctx, dict) else None
            if not isinstance(ctx, dict) or scope not in SCOPES:
                got = (
                    f"returned {type(ctx).__name__}, not a dict"
                    if not isinstance(ctx, dict)
                    else ("returned no 'scope'" if scope is None else f"has scope {scope!r}")
                )
                msg = (
                    f"policy {f.name!r}: initialize() {got}; 'scope' must be "
                    f"{' or '.join(repr(s) for s in SCOPES)} — the MLSysOps agent never runs "
                    "this policy"
                )
                problems.append(((f.name, "initialize"), msg, f, None))
                loaded.append(Loaded(f, None, None))
                continue
            loaded.append(Loaded(f, copy.deepcopy(ctx), str(scope)))
            from simcontinuum.mlsysops.packages import hint, missing_packages, static_packages

            missing = missing_packages(static_packages(f.path))
            if missing:
                warn_policy(hint(f.path, missing), f.path, function="initialize")
        return loaded, problems

    def _check_timing(self, cycle: Cycle, scenario: Any, loaded: list[Loaded]) -> None:
        sample = scenario.telemetry.interval
        for p in loaded:
            ctx = p.context or {}
            want = (ctx.get("telemetry") or {}).get("system_scrape_interval")
            from simcontinuum.mlsysops.requirements import parse_interval

            seconds = parse_interval(want)
            if seconds and sample and abs(seconds - sample) > 1e-9:
                cycle.warn(
                    ("scrape", p.file.name),
                    f"policy {p.file.name!r} asks for system_scrape_interval {want!r}; this "
                    f"scenario samples telemetry every {sample:g} s (telemetry.interval)",
                    policy=p.file,
                    function="initialize",
                )


def _agent_hosts(
    clusters: Mapping[str, Iterable[str]], base: Descriptions | None
) -> dict[str, tuple[str, ...]]:
    """The nodes each cluster agent manages: those with an MLSysOpsNode description read from
    files (nodes added by an overlay — cameras, sensors — are no Kubernetes nodes), or every
    node of the cluster when none of them is described."""
    out = {}
    for cid, members in clusters.items():
        members = tuple(members)
        described = tuple(h for h in members if base is not None and h in base.nodes)
        out[cid] = described or members
    return out


def _rebuild(paths: list[str], level: str, builtin: bool, descriptions: Any) -> MLSysOpsPolicy:
    return MLSysOpsPolicy(paths, level=level, builtin=builtin, descriptions=descriptions)


def load_policy_file(
    path: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    *,
    level: str = "cluster",
    builtin: bool = True,
    descriptions: str | os.PathLike[str] | Descriptions | None = None,
    install_packages: bool = False,
) -> MLSysOpsPolicy:
    """A simcontinuum policy running the MLSysOps policy file(s) at ``path``.

    Example::

        policy = load_policy_file("scenarios/mlsysops-hackathon/policy-latencyMover.py")
        results = simcontinuum.run(scenario, policy=policy)

    See :class:`MLSysOpsPolicy` for the arguments.
    """
    return MLSysOpsPolicy(
        path,
        level=level,
        builtin=builtin,
        descriptions=descriptions,
        install_packages=install_packages,
    )


def load_policy_spec(
    text: str,
    *,
    search_path: Iterable[str | os.PathLike[str]] | None = None,
    loader: Callable[[Path], PolicyFile] = load_policy_module,
) -> MLSysOpsPolicy:
    """The policy of a spec string (see the module docstring for the forms); ``loader`` as
    for :class:`MLSysOpsPolicy`.

    Raises:
        PolicyError: an unknown option or a bad path.
    """
    body = text[len(PREFIX) :] if text.startswith(PREFIX) else text
    path, _, query = body.partition("?")
    opts: dict[str, Any] = {"level": "cluster", "builtin": True}
    for item in filter(None, query.split("&")):
        key, _, value = item.partition("=")
        if key == "level" and value in LEVELS:
            opts["level"] = value
        elif key == "builtin" and value in ("on", "off", "true", "false", "1", "0"):
            opts["builtin"] = value in ("on", "true", "1")
        elif key == "packages" and value in ("install", "check"):
            opts["install_packages"] = value == "install"
        else:
            raise PolicyError(
                f"policy '{text}': unknown option {item!r}; use level=cluster|continuum, "
                "builtin=on|off and packages=install|check, e.g. "
                "mlsysops:policy-x.py?level=continuum&builtin=off"
            )
    if not path:
        raise PolicyError(f"policy '{text}': give a policy-<name>.py file or a directory")
    return MLSysOpsPolicy(path, search_path=search_path, loader=loader, **opts)


class MLSysOpsScheme:
    """The ``mlsysops:PATH[?options]`` policy spec, which also claims bare ``policy-*.py``
    paths (see :func:`load_policy_spec`)."""

    example = "mlsysops:policies/"

    def load(self, arg: str, *, search_path: Iterable[str | os.PathLike[str]] | None) -> Any:
        """The :class:`MLSysOpsPolicy` of ``arg``."""
        return load_policy_spec(arg, search_path=search_path)

    def files(
        self, arg: str, *, search_path: Iterable[str | os.PathLike[str]] | None
    ) -> list[Path]:
        """The policy file, or every ``policy-*.py`` of the folder (none when missing)."""
        body = arg[len(PREFIX) :] if arg.startswith(PREFIX) else arg
        path = body.partition("?")[0]
        if not path:
            return []
        try:
            return find_policy_files(Path(path), search_path)
        except PolicyError:
            return []

    def key(self, arg: str) -> str:
        """The options (``level``, ``builtin``) identify the policy, besides the files."""
        query = arg.partition("?")[2]
        return "&".join(sorted(filter(None, query.split("&"))))


SCHEME = MLSysOpsScheme()
"""Registered as the ``mlsysops:`` scheme of :mod:`simcontinuum.policy.spec`."""


__all__ = [
    "LEVELS",
    "SCHEME",
    "MLSysOpsPolicy",
    "MLSysOpsScheme",
    "is_policy_spec",
    "load_policy_file",
    "load_policy_spec",
]

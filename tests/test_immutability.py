"""The model and the views are immutable for real: a policy that tries to change them gets an
error, and the scenario (and so the run) stays what it was."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from simcontinuum.engine.simulation import Simulation
from simcontinuum.model import DEFAULT_WEIGHTS, FrozenDict, Scenario
from simcontinuum.policy.builtins import FirstFit
from simcontinuum.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"


def attempts(view: Any, app: Any = None, telemetry: Any = None) -> dict[str, Callable[[], Any]]:
    """Every way a careless (or curious) policy might change what it was shown."""
    nid = next(iter(view.nodes))
    node = view.nodes[nid]
    out: dict[str, Callable[[], Any]] = {
        "view.clusters.clear()": lambda: view.clusters.clear(),
        "view.clusters[c] = ()": lambda: view.clusters.__setitem__("c", ()),
        "view.nodes.clear()": lambda: view.nodes.clear(),
        "view.nodes[n] = None": lambda: view.nodes.__setitem__(nid, None),
        "view.apps.pop(a)": lambda: view.apps.pop("x", None),
        "view.placements[a] = {}": lambda: view.placements.__setitem__("x", {}),
        "view.now = 0": lambda: setattr(view, "now", 0.0),
        "view.extra = 1": lambda: setattr(view, "extra", 1),
        "node.cpu_allocated = 0": lambda: setattr(node, "cpu_allocated", 0.0),
        "node.labels.add(x)": lambda: node.labels.add("x"),  # type: ignore[attr-defined]
        "node.price.per_hour = 0": lambda: setattr(node.price, "per_hour", 0.0),
    }
    for aid, comps in view.placements.items():
        out["view.placements[a][c] = ()"] = lambda aid=aid, comps=comps: comps.__setitem__(
            next(iter(comps), "c"), ()
        )
        break
    if app is not None:
        comp = app.components[0]
        out |= {
            "app.components += ()": lambda: setattr(app, "sources", ()),
            "app.app.components list": lambda: app.app.components.append(comp),  # type: ignore[attr-defined]
            "comp.cpu = 100": lambda: setattr(comp, "cpu", 100.0),
            "comp.placement.tiers.add": lambda: comp.placement.tiers.add("cloud"),  # type: ignore[attr-defined]
        }
    if telemetry is not None:
        out["telemetry.now = 0"] = lambda: setattr(telemetry, "now", 0.0)
    return out


class Meddler(FirstFit):
    """First-fit, after trying every mutation above on each view it is given."""

    name = "meddler"

    def __init__(self) -> None:
        super().__init__()
        self.tried: dict[str, str] = {}

    def _try(self, view: Any, app: Any = None, telemetry: Any = None) -> None:
        for what, act in attempts(view, app, telemetry).items():
            try:
                act()
            except (TypeError, AttributeError, dataclasses.FrozenInstanceError) as exc:
                self.tried[what] = type(exc).__name__
            else:
                self.tried[what] = "CHANGED"

    def place(self, app: Any, view: Any) -> Any:
        self._try(view, app)
        # what methods return are fresh copies: changing them is allowed and harmless
        view.eligible(app.components[0]).clear()
        app.order().reverse()
        frame = view.nodes_frame()
        frame["cores"] = 0
        return super().place(app, view)

    def plan(self, view: Any, telemetry: Any) -> list[Any]:
        self._try(view, telemetry=telemetry)
        return []


def test_a_meddling_policy_changes_nothing() -> None:
    scenario = load_scenario(QUICKSTART)
    pristine = load_scenario(QUICKSTART)
    meddler = Meddler()
    meddled = Simulation(scenario, meddler, seed=3, telemetry=True).run()
    assert meddler.tried, "the policy was never called"
    changed = [what for what, outcome in meddler.tried.items() if outcome == "CHANGED"]
    assert changed == []
    assert "telemetry.now = 0" in meddler.tried and "view.clusters.clear()" in meddler.tried
    assert scenario == pristine and scenario.digest == pristine.digest
    assert scenario.topology.clusters == pristine.topology.clusters
    plain = Simulation(load_scenario(QUICKSTART), FirstFit(), seed=3, telemetry=True).run()
    assert meddled.summary() == plain.summary()
    assert meddled.replicas["node"].tolist() == plain.replicas["node"].tolist()


def test_model_containers_are_frozen() -> None:
    sc = load_scenario(QUICKSTART)
    with pytest.raises(TypeError, match="immutable"):
        sc.topology.clusters.clear()
    with pytest.raises(TypeError, match="immutable"):
        sc.scoring.weights["cost"] = 0.0  # type: ignore[index]
    with pytest.raises(TypeError, match="immutable"):
        DEFAULT_WEIGHTS["cost"] = 5.0  # type: ignore[index]
    with pytest.raises(TypeError, match="immutable"):
        sc.topology.nodes[0].extra["x"] = 1  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        sc.duration = 1.0  # type: ignore[misc]
    assert isinstance(sc.topology.clusters, FrozenDict)
    assert all(isinstance(v, tuple) for v in sc.topology.clusters.values())


def test_scenarios_hash_compare_and_pickle() -> None:
    a, b = load_scenario(QUICKSTART), load_scenario(QUICKSTART)
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    other = load_scenario(QUICKSTART, seed=7)
    assert other != a and len({a, other}) == 2
    assert pickle.loads(pickle.dumps(a)) == a
    assert copy.deepcopy(a) == a
    assert dataclasses.replace(a, duration=1.0) != a
    assert isinstance(hash(Scenario("s", a.topology, (), (), 1.0)), int)

"""Built-in baselines, policy loading and the conformance check, on hand-built scenarios."""

from __future__ import annotations

import dataclasses
from importlib.metadata import EntryPoint
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcontinuum.errors import PolicyError
from simcontinuum.model import (
    Application,
    Arrival,
    Call,
    Component,
    Constraints,
    Link,
    Node,
    Price,
    Scenario,
    Source,
    Topology,
)
from simcontinuum.policy import (
    BUILTINS,
    AppView,
    BestFit,
    ClusterView,
    CostGreedy,
    FirstFit,
    K8sDefault,
    LatencyGreedy,
    NodeView,
    Placement,
    PolicyRegistry,
    RandomPolicy,
    RoundRobin,
    TwoLevel,
    available_policies,
    check_policy,
    load_policy,
)
from simcontinuum.policy import spec as spec_module
from simcontinuum.policy.check import app_view, empty_view

GI = 2.0**30
EDGE_OR_CLOUD = Constraints(tiers=frozenset({"edge", "cloud"}))
EDGE = Constraints(tiers=frozenset({"edge"}))
NAMES = [cls.name for cls in BUILTINS]

# ----------------------------------------------------------------------------- fixtures


def node(nid: str, tier: str, cluster: str, cores: int = 4, memory: float = 8 * GI, **kw) -> Node:
    return Node(id=nid, tier=tier, cluster=cluster, cores=cores, memory=memory, **kw)  # type: ignore[arg-type]


def comp(cid: str, cpu: float = 1.0, memory: float = 1 * GI, **kw) -> Component:
    kw.setdefault("placement", EDGE_OR_CLOUD)
    return Component(id=cid, cpu=cpu, memory=memory, **kw)


def app(*components: Component, calls: tuple[Call, ...] = (), aid: str = "shop") -> Application:
    return Application(id=aid, entry=components[0].id, components=components, calls=calls)


def chain(*components: Component, aid: str = "shop") -> Application:
    calls = tuple(Call(a.id, b.id) for a, b in pairwise(components))
    return app(*components, calls=calls, aid=aid)


def continuum(*apps: Application, nodes: tuple[Node, ...] | None = None) -> Scenario:
    """c0 (cloud) — e1 (site-a) — e2 (site-b); far-edge devices d1 near e1, d2 near e2."""
    if nodes is None:
        nodes = (
            node("c0", "cloud", "cloud", 16, 64 * GI, price=Price(1.0, 0.04, "when_active")),
            node("e1", "edge", "site-a", price=Price(0.1, 0.01, "always")),
            node("e2", "edge", "site-b", price=Price(0.1, 0.02, "always")),
            node("d1", "far_edge", "site-a", 1, 1 * GI),
            node("d2", "far_edge", "site-b", 1, 1 * GI),
        )
    links = tuple(
        Link(a, b, lat, 1e9)
        for a, b, lat in [
            ("d1", "e1", 0.002),
            ("d2", "e2", 0.002),
            ("e1", "e2", 0.010),
            ("e1", "c0", 0.030),
            ("e2", "c0", 0.030),
        ]
    )
    clusters: dict[str, tuple[str, ...]] = {}
    for n in nodes:
        clusters[n.cluster] = (*clusters.get(n.cluster, ()), n.id)
    sources = tuple(
        s
        for a in apps
        for s in (
            Source(f"{a.id}-s1", a.id, "d1", Arrival(rate=20.0)),
            Source(f"{a.id}-s2", a.id, "d2", Arrival(rate=2.0)),
        )
    )
    return Scenario(
        name="test",
        topology=Topology(nodes=nodes, links=links, clusters=clusters),
        applications=apps,
        sources=sources,
        duration=60.0,
    )


def shop() -> Application:
    return chain(comp("front", 1.0, 1 * GI), comp("back", 1.0, 2 * GI))


def place(policy: object, scenario: Scenario, view: ClusterView | None = None) -> Placement:
    a = scenario.applications[0]
    av = app_view(scenario, a)
    return policy.place(av, view or empty_view(scenario, {a.id: av}))  # type: ignore[attr-defined]


def with_state(view: ClusterView, **nodes: dict[str, object]) -> ClusterView:
    """``view`` with some nodes' live state changed (cpu_allocated, replicas, up...)."""
    new = {nid: dataclasses.replace(n, **nodes.get(nid, {})) for nid, n in view.nodes.items()}  # type: ignore[arg-type]
    return dataclasses.replace(view, nodes=new)


def cluster_of(scenario: Scenario, nid: str) -> str:
    return scenario.node(nid).cluster


# ----------------------------------------------------------------------------- every builtin


@pytest.mark.parametrize("name", NAMES)
def test_builtins_conform_on_the_shop(name: str) -> None:
    s = continuum(shop())
    assert check_policy(load_policy(name), s) == []
    placement = place(load_policy(name), s)
    assert set(placement) == {"front", "back"}
    assert all(len(v) == 1 for v in placement.values())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize(
    ("cpu", "memory"), [(1.5, 1 * GI), (0.5, 6 * GI)], ids=["cpu-bound", "memory-bound"]
)
def test_tentative_reservation_splits_what_fits_once(name: str, cpu: float, memory: float) -> None:
    nodes = (
        node("c0", "cloud", "cloud", 2, 8 * GI),
        node("e1", "edge", "site-a", 2, 8 * GI),
        node("e2", "edge", "site-b", 2, 8 * GI),
    )
    a = chain(comp("x", cpu, memory, placement=EDGE), comp("y", cpu, memory, placement=EDGE))
    s = continuum(a, nodes=nodes)
    placement = place(load_policy(name), s)
    assert sorted(placement["x"] + placement["y"]) == ["e1", "e2"]
    assert check_policy(load_policy(name), s) == []


@pytest.mark.parametrize("name", NAMES)
def test_constraints_are_respected(name: str) -> None:
    nodes = (
        node("c0", "cloud", "cloud", 16, labels=frozenset({"ssd"})),
        node("e1", "edge", "site-a"),
        node("e2", "edge", "site-b", labels=frozenset({"ssd"})),
        node("d1", "far_edge", "site-a", 1),
        node("d2", "far_edge", "site-b", 1),
    )
    a = chain(
        comp("front", placement=Constraints(labels=frozenset({"ssd"}))),
        comp("back", placement=Constraints(cluster="cloud")),
        comp("cache", cpu=0.5, placement=Constraints(node="e1")),
    )
    s = continuum(a, nodes=nodes)
    placement = place(load_policy(name), s)
    assert placement["front"][0] in {"c0", "e2"}
    assert placement["back"] == ["c0"]
    assert placement["cache"] == ["e1"]


@pytest.mark.parametrize("name", NAMES)
def test_unplaceable_component_is_left_out_never_raises(name: str) -> None:
    a = chain(comp("front"), comp("gpu", placement=Constraints(labels=frozenset({"gpu"}))))
    s = continuum(a)
    placement = place(load_policy(name), s)
    assert "gpu" not in placement and len(placement["front"]) == 1
    assert check_policy(load_policy(name), s) == [
        "warning: app 'shop': component 'gpu' left unplaced"
    ]


@pytest.mark.parametrize("name", NAMES)
def test_down_and_full_nodes_are_skipped(name: str) -> None:
    s = continuum(app(comp("only", cpu=2.0)))
    view = with_state(empty_view(s), c0={"up": False}, e1={"cpu_allocated": 3.0})
    assert place(load_policy(name), s, view) == {"only": ["e2"]}


@settings(max_examples=40, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    cores=st.lists(st.integers(1, 4), min_size=3, max_size=3),
    cpus=st.lists(st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0, 3.0]), min_size=1, max_size=4),
    replicas=st.integers(1, 3),
)
def test_capacity_is_never_exceeded(
    name: str, cores: list[int], cpus: list[float], replicas: int
) -> None:
    nodes = tuple(
        node(nid, tier, cluster, c, 4 * GI)
        for (nid, tier, cluster), c in zip(
            [("c0", "cloud", "cloud"), ("e1", "edge", "site-a"), ("e2", "edge", "site-b")],
            cores,
            strict=True,
        )
    )
    comps = [
        comp(f"c{i}", cpu, 1 * GI, replicas_min=replicas, replicas_max=replicas)
        for i, cpu in enumerate(cpus)
    ]
    findings = check_policy(load_policy(name), continuum(chain(*comps), nodes=nodes))
    assert [f for f in findings if not f.startswith("warning:")] == []


# ----------------------------------------------------------------------------- each rule


def test_first_fit_takes_the_first_feasible_node() -> None:
    assert place(FirstFit(), continuum(shop())) == {"front": ["c0"], "back": ["c0"]}


def test_best_fit_takes_the_tightest_node() -> None:
    s = continuum(app(comp("only", cpu=1.0)))
    view = with_state(empty_view(s), e1={"cpu_allocated": 2.5}, e2={"cpu_allocated": 3.0})
    assert place(BestFit(), s, view) == {"only": ["e2"]}


def test_round_robin_cursor_persists_and_resets() -> None:
    s = continuum(app(comp("only")))
    rr = RoundRobin()
    picks = [place(rr, s)["only"][0] for _ in range(4)]
    assert picks == ["c0", "e1", "e2", "c0"]
    rr.reset(np.random.default_rng(0))
    assert place(rr, s) == {"only": ["c0"]}


def test_latency_greedy_picks_the_nearest() -> None:
    s = continuum(shop())
    assert place(LatencyGreedy(), s) == {"front": ["e1"], "back": ["e1"]}
    # back does not fit next to front: the closest other node to front's node wins
    s = continuum(chain(comp("front", 3.0), comp("back", 3.0)))
    assert place(LatencyGreedy(), s) == {"front": ["e1"], "back": ["e2"]}


def test_latency_greedy_follows_the_heavier_source() -> None:
    a = app(comp("only"))
    s = dataclasses.replace(
        continuum(a),
        sources=(
            Source("s", "shop", "d2", Arrival(rate=50.0)),
            Source("t", "shop", "d1", Arrival(rate=1.0)),
        ),
    )
    assert place(LatencyGreedy(), s) == {"only": ["e2"]}


def test_cost_greedy_picks_the_cheapest() -> None:
    assert place(CostGreedy(), continuum(shop())) == {"front": ["e1"], "back": ["e1"]}


def test_cost_greedy_prefers_an_already_active_pay_per_use_node() -> None:
    when_active = Price(per_hour=1.0, per_core_hour=0.0, billing="when_active")
    nodes = (
        node("ca", "cloud", "cloud", 8, price=when_active),
        node("cb", "cloud", "cloud", 8, price=when_active),
    )
    s = continuum(app(comp("only", replicas_min=2, replicas_max=2)), nodes=nodes)
    # both empty: the first replica wakes ca, the second joins it (tentative counts)
    assert place(CostGreedy(), s) == {"only": ["ca", "ca"]}
    view = with_state(empty_view(s), cb={"replicas": (("other", "x"),), "cpu_allocated": 1.0})
    assert place(CostGreedy(), s, view) == {"only": ["cb", "cb"]}


def test_k8s_default_picks_the_least_allocated() -> None:
    s = continuum(app(comp("only", placement=EDGE)))
    view = with_state(empty_view(s), e1={"cpu_allocated": 2.0})
    assert place(K8sDefault(), s, view) == {"only": ["e2"]}
    # memory counts too: e2 has more cpu free but far less memory
    view = with_state(empty_view(s), e1={"cpu_allocated": 1.0}, e2={"memory_allocated": 7 * GI})
    assert place(K8sDefault(), s, view) == {"only": ["e1"]}


def test_k8s_default_breaks_ties_at_random_reproducibly() -> None:
    s = continuum(app(comp("only", placement=EDGE)))
    picks = []
    for seed in range(20):
        policy = K8sDefault()
        policy.reset(np.random.default_rng(seed))
        picks.append(place(policy, s)["only"][0])
        again = K8sDefault()
        again.reset(np.random.default_rng(seed))
        assert place(again, s)["only"][0] == picks[-1]
    assert set(picks) == {"e1", "e2"}


def test_two_level_keeps_the_app_in_one_cluster() -> None:
    s = continuum(shop())
    placement = place(TwoLevel(), s)
    assert {cluster_of(s, n) for nodes in placement.values() for n in nodes} == {"site-a"}
    # neither edge site holds both: the whole app goes to the one cluster that can
    s = continuum(chain(comp("front", 3.0), comp("back", 3.0)))
    assert place(TwoLevel(), s) == {"front": ["c0"], "back": ["c0"]}


def test_two_level_spreads_when_no_cluster_holds_everything() -> None:
    a = chain(comp("front", 3.0, placement=EDGE), comp("back", 3.0, placement=EDGE))
    placement = place(TwoLevel(), continuum(a))
    assert placement == {"front": ["e1"], "back": ["e2"]}


def test_random_is_reproducible_and_seed_dependent() -> None:
    s = continuum(app(comp("w", cpu=0.1, replicas_min=12, replicas_max=12)))

    def run(seed: int) -> list[str]:
        policy = RandomPolicy()
        policy.reset(np.random.default_rng(seed))
        return place(policy, s)["w"]

    assert run(3) == run(3)
    assert len({tuple(run(seed)) for seed in range(5)}) > 1
    assert place(RandomPolicy(), s) == place(RandomPolicy(), s)  # no reset: private seed 0


# ----------------------------------------------------------------------------- loading


def test_every_builtin_loads_by_name() -> None:
    for cls in BUILTINS:
        assert type(load_policy(cls.name)) is cls
    assert type(load_policy(" First_Fit ")) is FirstFit
    assert list(available_policies())[: len(NAMES)] == NAMES
    assert all(available_policies()[n] for n in NAMES)


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(PolicyError) as err:
        load_policy("frist-fit")
    msg = str(err.value)
    assert msg.startswith("unknown policy 'frist-fit'; did you mean 'first-fit'? Known: ")
    assert "k8s-default" in msg and msg.endswith("or give path/to/file.py:Class")
    with pytest.raises(PolicyError, match=r"unknown policy 'zzz'\. Known"):
        load_policy("zzz")


POLICY_FILE = """
class Mine:
    name = "mine"

    def place(self, app, view):
        return {c.id: [next(iter(view.nodes))] for c in app.components}


class NoPlace:
    pass


class NeedsArgs:
    def __init__(self, x):
        pass

    def place(self, app, view):
        return {}
"""


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "mine.py"
    path.write_text(POLICY_FILE)
    return path


def test_file_class_loads_by_path_and_search_path(policy_file: Path) -> None:
    policy = load_policy(f"{policy_file}:Mine")
    assert type(policy).__name__ == "Mine"
    assert place(policy, continuum(shop())) == {"front": ["c0"], "back": ["c0"]}
    again = load_policy("mine.py:Mine", search_path=[policy_file.parent])
    assert type(again).__name__ == "Mine"


@pytest.mark.parametrize(
    ("suffix", "message"),
    [
        (":Nope", r"no class 'Nope' in the module; classes with place\(\): Mine, NeedsArgs"),
        (":NoPlace", "class NoPlace has no place"),
        (":NeedsArgs", "cannot instantiate with no arguments: TypeError"),
    ],
)
def test_bad_classes_are_explained(policy_file: Path, suffix: str, message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        load_policy(f"{policy_file}{suffix}")


def test_missing_and_broken_files_are_explained(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match=r"policy file .*nothere\.py' not found"):
        load_policy(f"{tmp_path}/nothere.py:X")
    broken = tmp_path / "broken.py"
    broken.write_text("import os\nraise RuntimeError('boom at import')\n")
    with pytest.raises(PolicyError, match=r"cannot import .*RuntimeError: boom at import"):
        load_policy(f"{broken}:X")
    bad_syntax = tmp_path / "syntax.py"
    bad_syntax.write_text("def place(:\n")
    with pytest.raises(PolicyError, match="SyntaxError"):
        load_policy(f"{bad_syntax}:X")
    with pytest.raises(PolicyError, match=r"policy file 'mine\.py' not found"):
        load_policy("mine.py")


def test_module_specs_and_objects() -> None:
    assert type(load_policy("simcontinuum.policy.builtins:BestFit")) is BestFit
    with pytest.raises(PolicyError, match="cannot import policy module 'no_such_mod'"):
        load_policy("no_such_mod:X")
    mine = FirstFit()
    assert load_policy(mine) is mine
    assert type(load_policy(TwoLevel)) is TwoLevel
    with pytest.raises(PolicyError, match="no place"):
        load_policy(42)


def test_registry_instances_do_not_share_state() -> None:
    reg = PolicyRegistry()
    reg.register("mine", FirstFit, "first-fit again")
    assert type(reg.load("mine")) is FirstFit
    assert reg.describe()["mine"] == "first-fit again"
    assert "mine" not in available_policies()
    with pytest.raises(PolicyError, match="unknown policy 'mine'"):
        load_policy("mine")
    with pytest.raises(PolicyError, match="already taken"):
        reg.register("first-fit", FirstFit)


def test_entry_points_are_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    group = spec_module.ENTRY_POINT_GROUP
    eps = [
        EntryPoint("ep-fit", "simcontinuum.policy.builtins:BestFit", group),
        EntryPoint("ep-broken", "no_such_mod:X", group),
    ]
    monkeypatch.setattr(spec_module, "entry_points", lambda group: eps)
    assert type(load_policy("ep-fit")) is BestFit
    assert "ep-broken" in available_policies()
    with pytest.raises(PolicyError, match="cannot load policy 'ep-broken' from entry point"):
        load_policy("ep-broken")


# ----------------------------------------------------------------------------- check_policy


class Scripted:
    """Returns whatever it was given, to exercise check_policy."""

    def __init__(self, result: object) -> None:
        self.result = result

    def place(self, app: AppView, view: ClusterView) -> object:
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


@pytest.mark.parametrize(
    ("result", "finding"),
    [
        (RuntimeError("nope"), "app 'shop': place raised RuntimeError: nope"),
        ([("front", "e1")], "app 'shop': place returned list, expected a dict"),
        (
            {"front": ["nowhere"], "back": ["e1"]},
            "app 'shop': component 'front': unknown node 'nowhere'",
        ),
        ({"ghost": ["e1"]}, "app 'shop': unknown component 'ghost'"),
        ({"front": "e1", "back": ["e1"]}, "app 'shop': component 'front': expected a list"),
        ({"front": ["d1"], "back": ["e1"]}, "on node 'd1': tier 'far_edge' not in allowed tiers"),
        ({"front": ["e1", "e1"], "back": ["e1"]}, "replicas > replicas_max 1"),
        ({"front": ["e1"]}, "warning: app 'shop': component 'back' left unplaced"),
    ],
)
def test_check_policy_reports(result: object, finding: str) -> None:
    findings = check_policy(Scripted(result), continuum(shop()))
    assert any(f.startswith(finding) or finding in f for f in findings), findings


def test_check_policy_reports_capacity_over_one_placement() -> None:
    s = continuum(chain(comp("front", 3.0), comp("back", 3.0)))
    findings = check_policy(Scripted({"front": ["e1"], "back": ["e1"]}), s)
    assert findings == [
        "app 'shop': component 'back' on node 'e1': needs 3 cpu, node has 1 free of 4"
    ]


def test_check_policy_checks_optional_methods() -> None:
    class Odd(FirstFit):
        name = ""

        def plan(self, view: ClusterView) -> list[object]:
            return []

        async def on_event(self, event: object, view: ClusterView) -> list[object]:
            return []

    findings = check_policy(Odd(), continuum(shop()))
    assert any(
        f.startswith("plan(view) cannot be called as plan(view, telemetry)") for f in findings
    )
    assert "on_event is async; the engine calls on_event(event, view) synchronously" in findings
    assert "name should be a non-empty string, got ''" in findings
    assert check_policy(object(), continuum(shop())) == [
        "object has no callable place(app, view) method"
    ]


def test_check_policy_takes_specs_and_never_calls_reset() -> None:
    class NoReset(FirstFit):
        def reset(self, rng: np.random.Generator) -> None:
            raise AssertionError("check_policy must not call reset")

    assert check_policy(NoReset(), continuum(shop())) == []
    assert check_policy("first-fit", continuum(shop())) == []
    assert check_policy("frist-fit", continuum(shop()))[0].startswith("unknown policy 'frist-fit'")


def test_empty_view_latency_and_rates() -> None:
    s = continuum(shop())
    view = empty_view(s)
    assert view.latency("d1", "c0") == pytest.approx(0.032)
    assert view.latency("d1", "d2") == pytest.approx(0.014)
    assert view.latency("e1", "e1") == 0.0
    assert view.latency("e1", "ghost") == float("inf")
    assert app_view(s, s.applications[0]).sources == (("d1", 20.0), ("d2", 2.0))
    assert isinstance(view.node("e1"), NodeView) and view.clusters["site-a"] == ("e1", "d1")

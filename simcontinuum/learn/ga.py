"""A genetic algorithm over static placements, with the simulator as the fitness function.

Genome: one gene per component replica (``replicas_min`` of each component of each
application, in scenario and call order); a gene is an index into that component's eligible
nodes (constraints — tiers, labels, pinned node, cluster — hold by construction). *Repair*
walks the genes in order and moves a gene whose node has no room left (cpu, memory; all
applications counted as present at once, which is conservative when they come and go) to a
random eligible node that has room, when there is one.

Fitness: the scenario's score (lower is better) of :class:`~simcontinuum.learn.fixed.FixedPlacement`
of the decoded genome, averaged over the evaluation seeds. Individuals are evaluated in
parallel through the sweep executors (:func:`simcontinuum.experiment.executors.executor`: this
process, local processes or Dask); a genome evaluated once is never simulated again.

One generation: keep the ``elitism`` best; fill the rest with children of two parents chosen
by tournament (``tournament`` individuals drawn, the best wins), crossed over (``uniform``:
each gene from either parent; ``one-point``: a prefix from one, the rest from the other) with
probability ``crossover_rate``, each gene mutated with probability ``mutation_rate`` (default
1 / genome length), then repaired.

Invariant: all randomness comes from ``numpy.random.default_rng(seed)`` and the simulations
are deterministic, so the same inputs give the same result on every executor.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from simcontinuum.errors import SimContinuumError
from simcontinuum.learn.fixed import FixedMap, FixedPlacement, write_placement
from simcontinuum.policy.api import constraint_violation

if TYPE_CHECKING:
    import pandas as pd

    from simcontinuum.model import Scenario

CROSSOVERS = ("uniform", "one-point")


class OptimizeError(SimContinuumError):
    """The search cannot start: a bad argument or a scenario with nothing to place."""


@dataclass(frozen=True)
class Slot:
    """One gene: a replica of a component and the nodes it may go to."""

    app: str
    component: str
    replica: int
    choices: tuple[str, ...]
    cpu: float
    memory: float


def layout(scenario: Scenario) -> list[Slot]:
    """The genes of ``scenario``: ``replicas_min`` per component; components that no node
    may host are left out (nothing to choose)."""
    from simcontinuum.policy.api import AppView

    slots: list[Slot] = []
    nodes = scenario.topology.nodes
    for app in scenario.applications:
        for cid in AppView(app).order():
            comp = app.component(cid)
            choices = tuple(n.id for n in nodes if constraint_violation(comp, n) is None)
            if not choices:
                continue
            for r in range(comp.replicas_min):
                slots.append(Slot(app.id, cid, r, choices, comp.cpu, comp.memory))
    return slots


def decode(genome: Sequence[int], slots: Sequence[Slot]) -> FixedMap:
    """The placement ``{app: {component: [node, ...]}}`` a genome stands for."""
    out: FixedMap = {}
    for g, s in zip(genome, slots, strict=True):
        out.setdefault(s.app, {}).setdefault(s.component, []).append(s.choices[int(g)])
    return out


def repair(
    genome: np.ndarray, slots: Sequence[Slot], scenario: Scenario, rng: np.random.Generator
) -> np.ndarray:
    """Move genes off nodes without room to a random eligible node with room (in place)."""
    nodes = {n.id: n for n in scenario.topology.nodes}
    cpu = {nid: float(n.cores) for nid, n in nodes.items()}
    mem = {nid: (n.memory if n.memory > 0 else float("inf")) for nid, n in nodes.items()}

    def fits(s: Slot, nid: str) -> bool:
        return s.cpu <= cpu[nid] + 1e-9 and s.memory <= mem[nid] + 1e-6

    for i, s in enumerate(slots):
        nid = s.choices[int(genome[i])]
        if not fits(s, nid):
            room = [k for k, c in enumerate(s.choices) if fits(s, c)]
            if room:
                genome[i] = room[int(rng.integers(len(room)))]
                nid = s.choices[int(genome[i])]
        cpu[nid] -= s.cpu
        mem[nid] -= s.memory
    return genome


def evaluate(scenario: Scenario, placement: FixedMap, seeds: Sequence[int]) -> float:
    """Mean score of ``placement`` over ``seeds`` (telemetry off: it does not change scores).

    A module-level function of picklable arguments, so any executor can run it."""
    from simcontinuum.engine.simulation import Simulation

    scores = []
    for seed in seeds:
        # neither telemetry nor per-step records change a score: skip both
        sim = Simulation(
            scenario, FixedPlacement(placement), seed=seed, telemetry=False, steps=False
        )
        res = sim.run()
        if res.meta["interrupted"]:
            raise KeyboardInterrupt
        scores.append(float(res.summary()["score"]))
    return float(np.mean(scores))


@dataclass
class GAResult:
    """What a search found.

    Attributes:
        placement: the best placement; score: its mean score over ``seeds``.
        history: one row per generation (``generation, best, mean, std, worst, evaluated,
            wall_s``; generation 0 is the initial population).
        evaluations: distinct placements simulated (each on every seed).
    """

    placement: FixedMap
    score: float
    genome: list[int]
    history: pd.DataFrame
    seeds: list[int]
    evaluations: int
    wall_s: float
    executor: str
    workers: int
    settings: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | os.PathLike[str], scenario_name: str = "") -> str:
        """Write the best placement as a ``fixed:`` policy file (YAML, with a header)."""
        s = self.settings
        comment = (
            f"best placement found by simcontinuum optimize (genetic algorithm)\n"
            f"scenario: {scenario_name}; seed {s.get('seed')}; {s.get('generations')} "
            f"generations x {s.get('population')} individuals; {self.evaluations} placements "
            f"simulated\nmean score over seeds {self.seeds}: {self.score:.6g} (lower is better)\n"
            f"replay: simcontinuum run SCENARIO --policy fixed:{os.path.basename(str(path))}"
        )
        return str(write_placement(self.placement, path, comment=comment))


Progress = Callable[[dict[str, Any]], None]
"""Called with each generation's history row as it completes."""


def optimize(
    scenario: Scenario | str | os.PathLike[str] | dict[str, Any],
    *,
    generations: int = 10,
    population: int = 16,
    seeds: Sequence[int] = (0,),
    seed: int = 0,
    elitism: int = 2,
    tournament: int = 3,
    crossover: str = "uniform",
    crossover_rate: float = 0.9,
    mutation_rate: float | None = None,
    jobs: int = 1,
    executor_kind: str = "auto",
    address: str | None = None,
    progress: Progress | None = None,
) -> GAResult:
    """Evolve static placements of ``scenario`` (see the module docstring).

    Args:
        scenario: a scenario, YAML path or parsed dict.
        generations: generations after the initial population.
        population: individuals per generation.
        seeds: simulation seeds each individual is scored on (its fitness is the mean).
        seed: the GA's own seed: same inputs and seed ⇒ same result.
        elitism: best individuals copied unchanged into the next generation.
        tournament: individuals per tournament.
        crossover: ``uniform`` or ``one-point``; crossover_rate: probability of crossing.
        mutation_rate: per-gene probability (default: 1 / genome length).
        jobs, executor_kind, address: as for ``simcontinuum bench`` (``auto``, ``inline``,
            ``process``, ``dask``).
        progress: called with each generation's history row.

    Raises:
        OptimizeError: bad arguments or nothing to place; ExecutorError: no executor.
    """
    import pandas as pd

    from simcontinuum.experiment.executors import executor
    from simcontinuum.experiment.grid import ignore_sigint
    from simcontinuum.model import Scenario as _Scenario
    from simcontinuum.scenario import load_scenario as load

    sc = scenario if isinstance(scenario, _Scenario) else load(scenario)
    _check(generations, population, seeds, elitism, tournament, crossover, crossover_rate)
    slots = layout(sc)
    if not slots:
        raise OptimizeError(f"scenario '{sc.name}': no component replica has an eligible node")
    rate = 1.0 / len(slots) if mutation_rate is None else float(mutation_rate)
    if not 0.0 <= rate <= 1.0:
        raise OptimizeError(f"mutation rate must be in [0, 1], got {mutation_rate!r}")
    rng = np.random.default_rng(seed)
    sizes = np.array([len(s.choices) for s in slots])
    seed_list = [int(s) for s in seeds]
    cache: dict[tuple[int, ...], float] = {}
    history: list[dict[str, Any]] = []
    started = time.perf_counter()
    elite = min(elitism, population - 1)
    with executor(executor_kind, jobs, address, initializer=ignore_sigint) as running:

        def scores(pop: list[np.ndarray]) -> tuple[np.ndarray, int]:
            todo = list(dict.fromkeys(tuple(int(g) for g in ind) for ind in pop))
            todo = [k for k in todo if k not in cache]
            futures = [
                running.executor.submit(evaluate, sc, decode(k, slots), seed_list) for k in todo
            ]
            try:
                for k, fut in zip(todo, futures, strict=True):
                    cache[k] = fut.result()
            except KeyboardInterrupt:
                running.stop()
                raise
            return np.array([cache[tuple(int(g) for g in ind)] for ind in pop]), len(todo)

        pop = [repair(rng.integers(sizes), slots, sc, rng) for _ in range(population)]
        fit, new = scores(pop)
        history.append(_row(0, fit, new, started, progress))
        for gen in range(1, generations + 1):
            order = np.argsort(fit, kind="stable")
            nxt = [pop[i].copy() for i in order[:elite]]
            while len(nxt) < population:
                a = _tournament(fit, tournament, rng)
                b = _tournament(fit, tournament, rng)
                child = pop[a].copy()
                if rng.random() < crossover_rate:
                    child = _cross(pop[a], pop[b], crossover, rng)
                flip = rng.random(len(slots)) < rate
                if flip.any():
                    child[flip] = rng.integers(sizes[flip])
                nxt.append(repair(child, slots, sc, rng))
            pop = nxt
            fit, new = scores(pop)
            history.append(_row(gen, fit, new, started, progress))
        kind, workers = running.kind, running.workers
    best = min(cache.items(), key=lambda kv: (kv[1], kv[0]))
    return GAResult(
        placement=decode(best[0], slots),
        score=best[1],
        genome=list(best[0]),
        history=pd.DataFrame(history),
        seeds=seed_list,
        evaluations=len(cache),
        wall_s=time.perf_counter() - started,
        executor=kind,
        workers=workers,
        settings={
            "seed": seed,
            "generations": generations,
            "population": population,
            "elitism": elite,
            "tournament": tournament,
            "crossover": crossover,
            "crossover_rate": crossover_rate,
            "mutation_rate": rate,
            "genes": len(slots),
        },
    )


def _check(
    generations: int,
    population: int,
    seeds: Sequence[int],
    elitism: int,
    tournament: int,
    crossover: str,
    crossover_rate: float,
) -> None:
    if generations < 0:
        raise OptimizeError(f"generations must be >= 0, got {generations}")
    if population < 2:
        raise OptimizeError(f"population must be >= 2, got {population}")
    if not seeds:
        raise OptimizeError("give at least one evaluation seed")
    if elitism < 0:
        raise OptimizeError(f"elitism must be >= 0, got {elitism}")
    if tournament < 1:
        raise OptimizeError(f"tournament size must be >= 1, got {tournament}")
    if crossover not in CROSSOVERS:
        raise OptimizeError(f"crossover must be one of {', '.join(CROSSOVERS)}, got {crossover!r}")
    if not 0.0 <= crossover_rate <= 1.0:
        raise OptimizeError(f"crossover rate must be in [0, 1], got {crossover_rate}")


def _tournament(fit: np.ndarray, k: int, rng: np.random.Generator) -> int:
    picks = rng.integers(len(fit), size=k)
    return int(picks[np.argmin(fit[picks])])


def _cross(a: np.ndarray, b: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "uniform":
        return np.where(rng.random(len(a)) < 0.5, a, b)
    if len(a) < 2:
        return a.copy()
    cut = int(rng.integers(1, len(a)))
    return np.concatenate([a[:cut], b[cut:]])


def _row(
    gen: int, fit: np.ndarray, new: int, started: float, progress: Progress | None
) -> dict[str, Any]:
    row = {
        "generation": gen,
        "best": float(fit.min()),
        "mean": float(fit.mean()),
        "std": float(fit.std()),
        "worst": float(fit.max()),
        "evaluated": new,
        "wall_s": time.perf_counter() - started,
    }
    if progress is not None:
        progress(row)
    return row


__all__ = [
    "CROSSOVERS",
    "GAResult",
    "OptimizeError",
    "Slot",
    "decode",
    "evaluate",
    "layout",
    "optimize",
    "repair",
]

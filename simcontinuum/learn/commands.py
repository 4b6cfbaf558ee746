"""``simcontinuum dataset``, ``train`` and ``optimize``: parse, call :mod:`simcontinuum.learn`,
print. Cheap to import: pandas, scikit-learn, the engine and the executors load in handlers.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from simcontinuum.argtypes import (
    add_command,
    add_common,
    natural_int,
    positive_int,
    seconds,
)

if TYPE_CHECKING:
    from rich.console import Console

DATASET_EPILOG = """\
examples:
  simcontinuum dataset scenarios/hackathon.yaml --policy random --seeds 0..9 -o data.parquet
  simcontinuum dataset scenarios/quickstart.yaml --seeds 3 -o qs.csv --window 20

One row per decision (each placed replica at placement time, and each live replica every
control interval) with the state's features and the outcome of the requests in the window
after it; the columns are documented in 'pydoc simcontinuum.learn.datasets'. Random
placements (the default policy) cover the most (component, node) pairs.
"""

TRAIN_EPILOG = """\
examples:
  simcontinuum train data.parquet -o model.joblib
  simcontinuum train hack.parquet qs.parquet -o model.joblib --kind random-forest
  simcontinuum run scenarios/hackathon.yaml --policy ml:model.joblib

Fits a regressor of the target (mean latency of the window by default) on the (component,
node) features and writes model.joblib with model.features.json beside it; --policy
ml:model.joblib then places each replica on the node with the lowest prediction.
"""

OPTIMIZE_EPILOG = """\
examples:
  simcontinuum optimize scenarios/quickstart.yaml --generations 10 --population 16 \\
      --jobs 2 --seed 1 -o best.yaml
  simcontinuum optimize scenarios/hackathon.yaml --eval-seeds 3 --executor dask -o best.yaml
  simcontinuum run scenarios/quickstart.yaml --policy fixed:best.yaml

Evolves static placements (one gene per component replica: a node among its eligible ones)
with the simulator as the fitness function (the scenario's score, mean over --eval-seeds
seeds); individuals are simulated in parallel on the same executors as 'simcontinuum bench'.
Same arguments and --seed give the same result. The best placement is written as a policy
file for --policy fixed:FILE.
"""


def _share(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}")
    return value


def register(subparsers: Any) -> None:
    """Add ``dataset``, ``train`` and ``optimize`` to the CLI."""
    p = add_command(
        subparsers,
        "dataset",
        help="simulate seeds and write a training table of decisions and their outcomes",
        description="Run SCENARIO under a policy for each seed and write one row per "
        "decision point with the state's features and the outcome (latency, SLO, cost).",
        epilog=DATASET_EPILOG,
    )
    p.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    p.add_argument("--policy", "-p", default="random", help="policy spec (default: random)")
    p.add_argument("--window", type=seconds, default=30.0, help="outcome window, s (30)")
    p.add_argument("--interval", type=seconds, help="s between control rows (default: control)")
    add_common(
        p,
        seeds="0..9",
        out=".parquet or .csv",
        out_metavar="FILE",
        out_required=True,
        quiet="print nothing but errors",
    )
    p.set_defaults(handler=cmd_dataset)

    p = add_command(
        subparsers,
        "train",
        help="fit the example latency model on datasets and save it for --policy ml:FILE",
        description="Fit a regressor of the outcome on (component, node) features and save "
        "it with its feature spec.",
        epilog=TRAIN_EPILOG,
    )
    p.add_argument("data", nargs="+", metavar="DATASET", help="tables from 'dataset'")
    add_common(p, out="model file (.joblib)", out_metavar="FILE", out_required=True)
    p.add_argument(
        "--target", default="outcome_mean_latency_s", help="column to predict (lower is better)"
    )
    p.add_argument(
        "--kind", choices=("gradient-boosting", "random-forest"), default="random-forest"
    )
    p.add_argument("--random-state", type=natural_int, default=0, help="the estimator's seed (0)")
    p.set_defaults(handler=cmd_train)

    p = add_command(
        subparsers,
        "optimize",
        help="search static placements with a genetic algorithm, the simulator as fitness",
        description="Evolve static placements of SCENARIO and write the best as a policy "
        "file (--policy fixed:FILE).",
        epilog=OPTIMIZE_EPILOG,
    )
    p.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file")
    p.add_argument("--algorithm", choices=("ga",), default="ga", help="ga (genetic algorithm)")
    p.add_argument("--generations", "-g", type=natural_int, default=10, help="(default: 10)")
    p.add_argument("--population", "-P", type=positive_int, default=16, help="(default: 16)")
    p.add_argument(
        "--eval-seeds", type=positive_int, default=1, help="seeds per individual (default: 1)"
    )
    p.add_argument("--first-seed", type=natural_int, default=0, help="first evaluation seed (0)")
    add_common(p, seed="the GA's seed (default: 0)")
    p.set_defaults(seed=0)
    p.add_argument("--elitism", type=natural_int, default=2, help="best kept as is (default: 2)")
    p.add_argument("--tournament", type=positive_int, default=3, help="tournament size (3)")
    p.add_argument("--crossover", choices=("uniform", "one-point"), default="uniform")
    p.add_argument("--crossover-rate", type=_share, default=0.9, help="(default: 0.9)")
    p.add_argument("--mutation-rate", type=_share, help="per gene (default: 1 / genes)")
    p.add_argument("--jobs", "-j", type=positive_int, default=1, help="parallel simulations (1)")
    p.add_argument(
        "--executor",
        choices=("auto", "inline", "process", "dask"),
        default="auto",
        help="auto (default): this process for --jobs 1, local processes otherwise",
    )
    p.add_argument("--address", metavar="tcp://HOST:8786", help="an existing Dask scheduler")
    add_common(
        p,
        out="best placement (.yaml)",
        out_metavar="FILE",
        out_required=True,
        quiet="no per-generation lines",
    )
    p.set_defaults(handler=cmd_optimize)


def _err(text: str) -> None:
    sys.stderr.write(text.rstrip("\n") + "\n")


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() else 120)


# ----------------------------------------------------------------------------- dataset


def cmd_dataset(args: argparse.Namespace) -> int:
    """``simcontinuum dataset SCENARIO ...``"""
    from simcontinuum.learn.datasets import dataset, write_dataset
    from simcontinuum.policy.registry import load_policy

    seeds = args.seeds.resolve(args.first_seed)
    load_policy(args.policy)  # a bad spec fails now, with the registry's message
    df = dataset(args.scenario, args.policy, seeds, window=args.window, interval=args.interval)
    path = write_dataset(df, args.out)
    if not args.quiet:
        counts = df["decision"].value_counts().to_dict() if len(df) else {}
        print(
            f"{len(df):,} rows x {len(df.columns)} columns from {len(seeds)} seed(s) "
            f"({counts.get('place', 0):,} place, {counts.get('control', 0):,} control) "
            f"written to {path}"
        )
    return 0


# ----------------------------------------------------------------------------- train


def cmd_train(args: argparse.Namespace) -> int:
    """``simcontinuum train DATASET... -o model.joblib``"""
    import importlib.util
    from pathlib import Path

    missing = [m for m in ("sklearn", "joblib") if importlib.util.find_spec(m) is None]
    if missing:  # 'make run' installs the core only; the ML extra is one line away
        _err(
            f"error: 'simcontinuum train' needs scikit-learn and joblib ({', '.join(missing)} "
            "not installed); install them with:\n"
            "  pip install 'simcontinuum[ml]'\n"
            "(in a clone of the repository: .venv/bin/pip install -e '.[ml]')"
        )
        return 2

    import numpy as np

    from simcontinuum.learn.datasets import concat, read_dataset
    from simcontinuum.learn.features import FEATURES
    from simcontinuum.learn.mlpolicy import save_model, train_latency_model, training_rows

    for f in args.data:
        if not Path(f).is_file():
            _err(f"error: dataset '{f}' not found; make one with 'simcontinuum dataset'")
            return 2
    try:
        data = concat([read_dataset(f) for f in args.data])
        model = train_latency_model(
            data, target=args.target, kind=args.kind, random_state=args.random_state
        )
    except (ValueError, KeyError) as exc:
        _err(f"error: {exc}")
        return 2
    rows = training_rows(data, args.target)
    pred = model.predict(rows[list(FEATURES)].astype(float))
    mae = float(np.mean(np.abs(pred - rows[args.target].to_numpy(dtype=float))))
    model_path, spec = save_model(model, args.out, target=args.target)
    print(
        f"fitted {type(model).__name__} on {len(rows):,} rows (target {args.target}, "
        f"training MAE {mae:.4g}); wrote {model_path} and {spec.name}\n"
        f"use it: simcontinuum run SCENARIO --policy ml:{args.out}"
    )
    return 0


# ----------------------------------------------------------------------------- optimize


def cmd_optimize(args: argparse.Namespace) -> int:
    """``simcontinuum optimize SCENARIO ...``"""
    from simcontinuum.experiment.executors import ExecutorError
    from simcontinuum.learn.ga import OptimizeError, optimize
    from simcontinuum.scenario import load_scenario

    if args.address and args.executor not in ("dask", "auto"):
        _err("error: --address is for --executor dask")
        return 2
    kind = "dask" if args.address else args.executor
    scenario = load_scenario(args.scenario)
    seeds = list(range(args.first_seed, args.first_seed + args.eval_seeds))
    console = _console()
    if not args.quiet:
        console.print(
            f"[bold]optimize[/] {scenario.name}: genetic algorithm, {args.generations} "
            f"generations x {args.population} individuals, seeds {seeds}, GA seed {args.seed}"
        )
        head = f"{'gen':>4} {'best':>12} {'mean':>12} {'std':>10} {'new':>5} {'wall s':>8}"
        console.print(f"[bold]{head}[/]")

    def progress(row: dict[str, Any]) -> None:
        if not args.quiet:
            console.print(
                f"{row['generation']:>4} {row['best']:>12.5g} {row['mean']:>12.5g} "
                f"{row['std']:>10.3g} {row['evaluated']:>5} {row['wall_s']:>8.1f}"
            )

    try:
        result = optimize(
            scenario,
            generations=args.generations,
            population=args.population,
            seeds=seeds,
            seed=args.seed,
            elitism=args.elitism,
            tournament=args.tournament,
            crossover=args.crossover,
            crossover_rate=args.crossover_rate,
            mutation_rate=args.mutation_rate,
            jobs=args.jobs,
            executor_kind=kind,
            address=args.address,
            progress=progress,
        )
    except (OptimizeError, ExecutorError) as exc:
        _err(f"error: {exc}")
        return 2
    path = result.save(args.out, scenario.name)
    if not args.quiet:
        from rich.table import Table

        t = Table(title=f"best placement (mean score {result.score:.5g} over seeds {seeds})")
        t.add_column("application")
        t.add_column("component")
        t.add_column("nodes")
        for app, comps in result.placement.items():
            for comp, nodes in comps.items():
                t.add_row(app, comp, ", ".join(nodes))
        console.print(t)
    _err(
        f"{result.evaluations} placements simulated ({len(seeds)} seed(s) each) in "
        f"{result.wall_s:.1f} s on {result.workers} {result.executor} worker(s); wrote {path}"
        f"\nreplay: simcontinuum run {args.scenario} --policy fixed:{path}"
    )
    return 0


__all__ = ["cmd_dataset", "cmd_optimize", "cmd_train", "register"]

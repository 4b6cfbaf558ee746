"""The README's ML recipe, measured: train on random placements, compare with the baselines.

    .venv/bin/python docs/figures/ml_recipe.py        # writes docs/img/ml-recipe.png

Runs exactly the README commands (dataset on seeds 100..104, train), then scores the model,
first-fit and random on the held-out seeds 0..4 of hackathon.yaml and draws the means.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import simcontinuum
from simcontinuum.cli import main

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = str(ROOT / "scenarios" / "hackathon.yaml")
EVAL_SEEDS = range(5)


def measure(workdir: Path) -> dict[str, list[float]]:
    data, model = workdir / "data.parquet", workdir / "model.joblib"
    argv = ["dataset", SCENARIO, "--policy", "random", "--seeds", "100..104", "-o", str(data)]
    assert main([*argv, "-q"]) == 0
    assert main(["train", str(data), "-o", str(model)]) == 0
    scores: dict[str, list[float]] = {}
    for label, policy in (
        ("ml:model.joblib", f"ml:{model}"),
        ("first-fit", "first-fit"),
        ("random", "random"),
    ):
        scores[label] = [
            simcontinuum.run(SCENARIO, policy=policy, seed=s, telemetry=False).summary()["score"]
            for s in EVAL_SEEDS
        ]
    return scores


def figure(scores: dict[str, list[float]], out: Path) -> None:
    fig, ax = plt.subplots(figsize=(6.4, 2.8), dpi=120)
    labels = list(scores)
    means = [float(np.mean(v)) for v in scores.values()]
    bars = ax.barh(labels, means, color=["#2a9d8f", "#8d99ae", "#e76f51"])
    for bar, m in zip(bars, means, strict=True):
        ax.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, f" {m:.1f}", va="center")
    ax.invert_yaxis()
    ax.set_xlabel("score on hackathon.yaml, mean over seeds 0–4 (lower is better)")
    ax.set_title("README ML recipe: random forest, trained on seeds 100–104", fontsize=10)
    ax.set_xlim(0, max(means) * 1.15)
    fig.tight_layout()
    fig.savefig(out)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(Path(tmp))
    for k, v in result.items():
        print(f"{k:16s} mean {np.mean(v):7.2f}  per seed {[round(x, 2) for x in v]}")
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "img" / "ml-recipe.png"
    figure(result, target)
    print(f"figure written to {target}")

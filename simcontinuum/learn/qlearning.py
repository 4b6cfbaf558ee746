"""A minimal reinforcement-learning example: tabular Q-learning on :class:`ContinuumEnv`.

No framework: the observation is cut into ``bins`` levels per dimension and used as the key
of a table of action values, updated by one-step Q-learning with an ε-greedy behaviour whose ε
falls linearly over training. Episodes use seeds ``seed, seed + 1, ...``; evaluation uses
other seeds and reports each run's exact score (from the results, not the rewards).

Run the example (hackathon scenario, 2-minute episodes, a few thousand steps)::

    python -m simcontinuum.learn.qlearning --steps 3000

It prints the mean score ± 95% CI over the evaluation seeds of: the trained agent (greedy),
random actions, and doing nothing (the base policy's placement alone).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from simcontinuum.learn.env import ContinuumEnv


@dataclass
class QLearning:
    """A table of action values over discretised observations.

    Args:
        n_actions: size of the discrete action space.
        bins: levels per observation dimension (observations are in [0, 1]).
        alpha: learning rate; gamma: discount.
    """

    n_actions: int
    bins: int = 4
    alpha: float = 0.2
    gamma: float = 0.95
    table: dict[bytes, np.ndarray] = field(default_factory=dict)

    def key(self, obs: np.ndarray) -> bytes:
        """The table key of an observation."""
        levels = np.minimum((np.asarray(obs) * self.bins).astype(np.int16), self.bins - 1)
        return levels.tobytes()

    def values(self, obs: np.ndarray) -> np.ndarray:
        """Action values of ``obs`` (zeros for an unseen state)."""
        k = self.key(obs)
        if k not in self.table:
            self.table[k] = np.zeros(self.n_actions)
        return self.table[k]

    def act(self, obs: np.ndarray, epsilon: float, rng: np.random.Generator) -> int:
        """ε-greedy action (ties: the lowest action, i.e. no-op first)."""
        if rng.random() < epsilon:
            return int(rng.integers(self.n_actions))
        return int(np.argmax(self.values(obs)))

    def update(
        self, obs: np.ndarray, action: int, reward: float, nxt: np.ndarray, done: bool
    ) -> None:
        """One Q-learning update."""
        q = self.values(obs)
        target = reward if done else reward + self.gamma * float(self.values(nxt).max())
        q[action] += self.alpha * (target - q[action])


def train(
    env: ContinuumEnv,
    steps: int = 3000,
    *,
    seed: int = 0,
    epsilon: tuple[float, float] = (1.0, 0.05),
    agent: QLearning | None = None,
) -> tuple[QLearning, list[float]]:
    """Train for ``steps`` environment steps; returns the agent and each episode's return."""
    agent = agent or QLearning(len(env.actions))
    rng = np.random.default_rng(seed)
    returns: list[float] = []
    episode = 0
    obs, _ = env.reset(seed=seed)
    total = 0.0
    for t in range(steps):
        eps = epsilon[0] + (epsilon[1] - epsilon[0]) * min(1.0, t / max(1, int(0.8 * steps)))
        a = agent.act(obs, eps, rng)
        nxt, r, done, truncated, _ = env.step(a)
        agent.update(obs, a, r, nxt, done)
        total += r
        obs = nxt
        if done or truncated:
            returns.append(total)
            episode += 1
            total = 0.0
            obs, _ = env.reset(seed=seed + episode)
    return agent, returns


Chooser = Callable[[np.ndarray], int]


def evaluate(env: ContinuumEnv, choose: Chooser, seeds: Sequence[int]) -> list[dict[str, Any]]:
    """One episode per seed with ``choose(obs) -> action``; each row has the return, the
    exact score and the migrations of the run."""
    rows = []
    for s in seeds:
        obs, _ = env.reset(seed=int(s))
        ret, done = 0.0, False
        while not done:
            obs, r, done, truncated, _ = env.step(choose(obs))
            ret += r
            done = done or truncated
        summary = env.results().summary()
        rows.append(
            {
                "seed": int(s),
                "return": ret,
                "score": float(summary["score"]),
                "migrations": int(summary["migrations"]),
            }
        )
    return rows


def compare(env: ContinuumEnv, agent: QLearning, seeds: Sequence[int], *, seed: int = 0) -> Any:
    """Mean score ± 95% CI (and mean return) over ``seeds`` for the greedy agent, random
    actions and no-op, as a DataFrame."""
    import pandas as pd

    from simcontinuum.experiment.stats import mean_ci

    rng = np.random.default_rng(seed + 1)
    n = len(env.actions)
    choosers: dict[str, Chooser] = {
        "q-learning (greedy)": lambda o: int(np.argmax(agent.values(o))),
        "random actions": lambda o: int(rng.integers(n)),
        "no-op (base policy only)": lambda o: 0,
    }
    out = []
    for name, choose in choosers.items():
        rows = evaluate(env, choose, seeds)
        scores = [r["score"] for r in rows]
        mean, low, high = mean_ci(scores)
        out.append(
            {
                "agent": name,
                "n": len(rows),
                "score_mean": mean,
                "score_ci_low": low,
                "score_ci_high": high,
                "return_mean": float(np.mean([r["return"] for r in rows])),
                "migrations_mean": float(np.mean([r["migrations"] for r in rows])),
            }
        )
    return pd.DataFrame(out)


def main(argv: Sequence[str] | None = None) -> int:
    """The example: train on the hackathon scenario and compare with random actions."""
    parser = argparse.ArgumentParser(
        prog="python -m simcontinuum.learn.qlearning",
        description="Train tabular Q-learning on ContinuumEnv and compare it with random "
        "actions and no-op on held-out seeds.",
    )
    parser.add_argument("--scenario", default="scenarios/hackathon.yaml")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds per episode")
    parser.add_argument("--steps", type=int, default=3000, help="training steps")
    parser.add_argument("--eval-seeds", type=int, default=20, help="evaluation episodes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    import importlib.util

    if importlib.util.find_spec("gymnasium") is None:  # 'make run' installs the core only
        print(
            "error: the RL example needs gymnasium, which is not installed; install it with:\n"
            "  pip install 'simcontinuum[rl]'\n"
            "(in a clone of the repository: .venv/bin/pip install -e '.[rl]')",
            file=sys.stderr,
        )
        return 2
    from simcontinuum.learn.env import ContinuumEnv

    env = ContinuumEnv(args.scenario, duration=args.duration)
    agent, returns = train(env, args.steps, seed=args.seed)
    k = max(1, len(returns) // 10)
    print(
        f"trained {args.steps} steps ({len(returns)} episodes, {len(agent.table)} states); "
        f"mean return of the first {k} episodes {np.mean(returns[:k]):.3f}, "
        f"of the last {k} {np.mean(returns[-k:]):.3f}"
    )
    seeds = range(10_000 + args.seed, 10_000 + args.seed + args.eval_seeds)
    table = compare(env, agent, list(seeds), seed=args.seed)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())


__all__ = ["QLearning", "compare", "evaluate", "main", "train"]

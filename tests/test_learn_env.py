"""ContinuumEnv: the Gymnasium contract, exact replay under a seed, rewards that track the score."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

pytest.importorskip("gymnasium")

from gymnasium.utils.env_checker import check_env

from simcontinuum.learn.env import ContinuumEnv
from simcontinuum.learn.qlearning import QLearning, evaluate, train

ROOT = Path(__file__).resolve().parent.parent


def short(name: str, duration: str = "60s") -> dict[str, Any]:
    doc = yaml.safe_load((ROOT / "scenarios" / f"{name}.yaml").read_text())
    doc["duration"] = duration
    return doc


def episode(env: ContinuumEnv, seed: int, actions: list[int]) -> tuple[Any, ...]:
    obs, _ = env.reset(seed=seed)
    seen, rewards, done, k = [obs], [], False, 0
    while not done:
        obs, r, done, truncated, _ = env.step(actions[k % len(actions)])
        assert not truncated
        seen.append(obs)
        rewards.append(r)
        k += 1
    return np.array(seen), np.array(rewards), env.results().summary()["score"]


def test_passes_the_gymnasium_checker() -> None:
    env = ContinuumEnv(short("hackathon"))
    check_env(env, skip_render_check=True)
    assert env.actions[0] is None
    nodes = ("group1-node1", "group1-node2", "cloud-node1")
    assert env.actions[1:] == [("camera-pipeline", "classifier", n) for n in nodes]
    assert env.observation_space.shape == (4 * 4 + 2 * 1 + 3 + 1,)


def test_reset_with_a_seed_replays_exactly() -> None:
    env = ContinuumEnv(short("hackathon"))
    a = episode(env, 4, [0, 3, 1, 2])
    b = episode(env, 4, [0, 3, 1, 2])
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]
    c = episode(ContinuumEnv(short("hackathon")), 4, [0, 3, 1, 2])  # a fresh env too
    assert np.array_equal(a[1], c[1])
    assert len(a[1]) == 5  # 60 s in 10 s steps, the first interval before the first step


def test_rewards_add_up_to_about_minus_the_score() -> None:
    env = ContinuumEnv(short("hackathon", "120s"), policy="first-fit")
    for actions in ([0], [3, 0, 1]):
        _, rewards, score = episode(env, 1, actions)
        assert -rewards.sum() == pytest.approx(score, rel=0.1)


def test_actions_move_and_are_recorded() -> None:
    env = ContinuumEnv(short("hackathon"), policy="first-fit")
    env.reset(seed=0)
    _, _, _, _, info = env.step(3)
    assert info["action"] == "move camera-pipeline/classifier group1-node1 -> cloud-node1"
    _, _, _, _, info = env.step(3)
    assert info["action"] == "noop (already there)"
    with pytest.raises(ValueError, match="not in Discrete"):
        env.step(9)
    res = env.results()
    moves = res.actions[res.actions["kind"] == "move"]
    assert moves["outcome"].tolist() == ["applied"] and res.meta["migrations"] == 1
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(0)


def test_too_short_a_horizon() -> None:
    with pytest.raises(ValueError, match="must be longer than one step"):
        ContinuumEnv(short("hackathon"), duration=5)


def test_q_learning_learns_to_fix_a_bad_placement() -> None:
    env = ContinuumEnv(short("hackathon", "60s"), policy="k8s-default")  # classifier on cloud
    agent, returns = train(env, 300, seed=0, agent=QLearning(len(env.actions)))
    assert len(returns) >= 50
    greedy = evaluate(env, lambda o: int(np.argmax(agent.values(o))), [100, 101])
    noop = evaluate(env, lambda o: 0, [100, 101])
    assert np.mean([r["score"] for r in greedy]) < np.mean([r["score"] for r in noop])


def test_registered_with_gymnasium_and_reset_options() -> None:
    import gymnasium as gym

    import simcontinuum.learn.env as env_module

    scenario = str(Path(__file__).resolve().parents[1] / "scenarios" / "hackathon.yaml")
    env = gym.make(env_module.ENV_ID, scenario=scenario)
    env.reset(seed=3, options={"duration": 40.0})
    steps, done, truncated = 0, False, False
    while not done:
        _obs, _, done, truncated, info = env.step(0)
        assert truncated is False
        steps += 1
    assert info["time_s"] == 40.0 and steps == 3  # 10 s intervals after the first
    again = gym.make(f"simcontinuum.learn.env:{env_module.ENV_ID}", scenario=scenario)
    a, _ = again.reset(seed=3, options={"duration": 40.0})
    b, _ = env.reset(seed=3, options={"duration": 40.0})
    assert (a == b).all()  # same seed, same episode
    env.reset(seed=3, options={"policy": "first-fit"})
    with pytest.raises(ValueError, match="unknown reset option"):
        env.reset(seed=3, options={"durration": 5})
    limited = gym.make(env_module.ENV_ID, scenario=scenario, max_episode_steps=2)
    limited.reset(seed=0)
    limited.step(0)
    assert limited.step(0)[3] is True  # the TimeLimit wrapper truncates

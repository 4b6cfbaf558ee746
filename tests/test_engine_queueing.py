"""The engine against queueing theory: with no network in the way, a node is an M/G/c FIFO
queue and a chain of components on different nodes is a Jackson network of them.

Every case runs ~10^5 requests (about one second) and compares the mean sojourn time of the
scored ``ok`` requests with the closed form, within 4 batch-means standard errors (see
``conftest.assert_mean_close``: 20 batches of thousands of requests each, far longer than the
relaxation time ``~1 / (mu (1 - sqrt(rho))^2)`` — under 5 s of simulated time at the loads
used — so the batch means are nearly independent). The band is a few per cent of the target,
while the classic mistakes (work × speed instead of ÷, ignoring a core, serving in parallel
instead of FIFO, counting the return trip twice) are off by tens of per cent or more.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import (
    Pin,
    application,
    assert_mean_close,
    batch_means,
    comp,
    mknode,
    ok_latencies,
    poisson,
    run,
    scenario,
    source,
    zero_link,
)

from simcontinuum.model import Call, Scenario

WARMUP = 200.0  # simulated seconds dropped: many relaxation times at every load below


def erlang_c(c: int, a: float) -> float:
    """Probability that an arrival waits in M/M/c with offered load ``a = lambda / mu``.

    >>> round(erlang_c(1, 0.5), 12)  # M/M/1: P(wait) = rho
    0.5
    """
    top = a**c / math.factorial(c) * c / (c - a)
    return top / (sum(a**k / math.factorial(k) for k in range(c)) + top)


def erlang_b(c: int, a: float) -> float:
    """Blocking probability of M/M/c/c (Erlang's loss formula), by the stable recursion."""
    b = 1.0
    for k in range(1, c + 1):
        b = a * b / (k + a * b)
    return b


def mmc_sojourn(lam: float, mu: float, c: int) -> float:
    """Mean time in system of M/M/c: ``C(c, a) / (c mu - lambda) + 1 / mu``."""
    return erlang_c(c, lam / mu) / (c * mu - lam) + 1.0 / mu


def one_node(
    lam: float,
    mean_work: float,
    dist: str = "exponential",
    *,
    cores: int = 1,
    speed: float = 1.0,
    duration: float = 20_000.0,
    seed: int = 11,
    cv: float = 1.0,
    **node_kw: object,
) -> Scenario:
    """One node hosting one component; the source sits on the node itself (zero network)."""
    node = mknode("n", cores=cores, speed=speed, **node_kw)
    app = application("q", [comp("s", mean_work, dist, cpu=0.1, cv=cv)])
    return scenario(
        [node],
        [app],
        [source("q", "n", poisson(lam))],
        duration=duration,
        warmup=WARMUP,
        seed=seed,
    )


def test_erlang_helpers_match_known_values() -> None:
    # M/M/2 with a = 1: C = (1/2 * 2) / (1 + 1 + 1) = 1/3; Erlang B(2, 1) = 0.5 / 2.5.
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    assert mmc_sojourn(5.0, 10.0, 1) == pytest.approx(1 / (10.0 - 5.0))


def test_mm1_mean_sojourn() -> None:
    lam, mu = 5.0, 10.0  # rho = 0.5, ~10^5 requests
    res = run(one_node(lam, 1 / mu), Pin({"s": ["n"]}))
    lat = ok_latencies(res)
    assert len(lat) > 90_000
    assert_mean_close(lat, 1.0 / (mu - lam))


def test_mm1_with_speed_two_divides_the_work() -> None:
    # 0.2 core-seconds per request on a speed-2 node: 0.1 s of service, mu = 10.
    lam, mu = 7.0, 10.0
    res = run(one_node(lam, 0.2, speed=2.0, duration=15_000.0, seed=5), Pin({"s": ["n"]}))
    assert_mean_close(ok_latencies(res), 1.0 / (mu - lam))


@pytest.mark.parametrize("cores", [2, 4])
def test_mmc_mean_sojourn_is_erlang_c(cores: int) -> None:
    mu = 10.0
    lam = 0.75 * cores * mu  # per-server utilisation 0.75
    res = run(one_node(lam, 1 / mu, cores=cores, duration=8000.0, seed=cores), Pin({"s": ["n"]}))
    expected = mmc_sojourn(lam, mu, cores)
    # A node with c cores is one c-server queue, not c separate M/M/1 queues nor an M/M/1 at
    # c × mu: those would give clearly different means (checked here to show the test's power).
    assert abs(expected - 1.0 / (mu - lam / cores)) > 0.1 * expected
    assert abs(expected - 1.0 / (cores * mu - lam)) > 0.1 * expected
    assert_mean_close(ok_latencies(res), expected)


def test_md1_mean_sojourn_is_pollaczek_khinchine() -> None:
    lam, s = 6.0, 0.1  # constant 0.1 s of service: rho = 0.6
    rho = lam * s
    expected = s + rho * s / (2.0 * (1.0 - rho))  # = 0.175 s (M/M/1 would be 0.25 s)
    res = run(one_node(lam, s, "constant", duration=15_000.0), Pin({"s": ["n"]}))
    lat = ok_latencies(res)
    assert lat.min() == pytest.approx(s, abs=1e-9)  # never faster than the service time
    assert_mean_close(lat, expected)


def test_mg1_lognormal_mean_sojourn_is_pollaczek_khinchine() -> None:
    lam, s, cv = 5.0, 0.1, 0.5  # E[S^2] = (1 + cv^2) s^2
    rho = lam * s
    expected = s + lam * (1 + cv * cv) * s * s / (2.0 * (1.0 - rho))
    res = run(one_node(lam, s, "lognormal", duration=15_000.0, seed=3, cv=cv), Pin({"s": ["n"]}))
    assert_mean_close(ok_latencies(res), expected)


def test_tandem_is_a_jackson_network() -> None:
    """Entry on A (mu_a = 10) calls B (mu_b = 12.5), zero network: by Burke's theorem B sees
    Poisson arrivals, and under the RPC semantics the latency is the sojourn at A plus the
    sojourn at B (the answer flows back using no resource)."""
    lam, mu_a, mu_b = 5.0, 10.0, 12.5
    app = application(
        "t",
        [comp("a", 1 / mu_a, "exponential"), comp("b", 1 / mu_b, "exponential")],
        [Call("a", "b")],
    )
    sc = scenario(
        [mknode("A"), mknode("B")],
        [app],
        [source("t", "A", poisson(lam))],
        links=[zero_link("A", "B")],
        duration=20_000.0,
        warmup=WARMUP,
        seed=7,
    )
    res = run(sc, Pin({"a": ["A"], "b": ["B"]}))
    expected = 1 / (mu_a - lam) + 1 / (mu_b - lam)  # 0.2 + 0.1333
    assert_mean_close(ok_latencies(res), expected)
    assert (res.requests["network_latency_s"].dropna() == 0.0).all()


def test_loss_system_blocks_with_erlang_b() -> None:
    """``max_queue = 0`` turns a 2-core node into M/M/2/2: an arrival finding both cores busy
    is dropped (``queue_full``), with probability Erlang B(2, a)."""
    lam, mu = 10.0, 10.0  # a = 1: B = 0.2
    sc = one_node(lam, 1 / mu, cores=2, max_queue=0, duration=10_000.0, seed=2)
    res = run(sc, Pin({"s": ["n"]}))
    rq = res.requests[res.requests["scored"]].sort_values("arrival_s")
    dropped = (rq["status"] == "dropped").to_numpy(dtype=float)
    assert set(rq["status"].unique()) <= {"ok", "dropped", "incomplete"}
    assert rq.loc[rq["status"] == "dropped", "reason"].str.startswith("queue_full:n").all()
    # Blocking indicators are correlated over a busy period (~0.1 s); batch means over
    # 20 batches of ~5000 arrivals handle it. Served requests never queue: latency = service.
    assert_mean_close(dropped, erlang_b(2, lam / mu), max_rel_se=0.05)
    served = rq.loc[rq["status"] == "ok", "latency_s"].to_numpy()
    assert_mean_close(served, 1 / mu)


def test_batch_means_detects_a_wrong_target() -> None:
    """The statistical check is not vacuous: the M/M/1 run above is rejected against the
    M/M/1 mean of a 10 % faster server."""
    res = run(one_node(5.0, 0.1, duration=20_000.0), Pin({"s": ["n"]}))
    mean, se = batch_means(ok_latencies(res))
    wrong = 1.0 / (11.0 - 5.0)
    assert abs(mean - wrong) > 4 * se
    assert np.isfinite(mean)

"""The fast percentile is exactly NumPy's (method ``linear``), float for float."""

from __future__ import annotations

import numpy as np
import pytest

from simcontinuum.metrics.quantile import percentile


@pytest.mark.parametrize("q", [0, 1, 50, 90, 95, 99, 99.9, 100])
def test_percentile_is_numpys_bit_for_bit(q: float) -> None:
    rng = np.random.default_rng(3)
    for n in [*range(1, 40), 97, 300, 1001]:
        for values in (
            rng.lognormal(-3.0, 0.8, n),
            rng.exponential(0.02, n),
            np.round(rng.uniform(0, 1, n), 2),  # ties
            np.full(n, 0.125),
        ):
            assert percentile(values, q) == float(np.percentile(values, q)), (n, q)


def test_percentile_leaves_its_input_alone() -> None:
    values = np.array([3.0, 1.0, 2.0])
    percentile(values, 95)
    assert values.tolist() == [3.0, 1.0, 2.0]

import numpy as np
import pytest

from tables.poisson_draws import multiplied_pair, poisson_pair

MEANS = [(1.45, 1.15), (3.1, 2.8), (1e-6, 9.9999), (0.3, 5.0)]


def numpy_pair(seed: int, home: float, away: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.poisson(home, n), rng.poisson(away, n)


def same(drawn, expected) -> bool:
    return all(
        a.dtype == b.dtype and np.array_equal(a, b) for a, b in zip(drawn, expected, strict=True)
    )


@pytest.mark.parametrize(("home", "away"), MEANS)
@pytest.mark.parametrize("block", [0, 7])  # 7 uniforms at a time: a draw runs out and restarts
def test_the_multiplication_gives_numpys_counts(home, away, block):
    for seed in range(5):
        drawn = multiplied_pair(np.random.default_rng(seed), home, away, 3000, block)
        assert same(drawn, numpy_pair(seed, home, away, 3000))


@pytest.mark.parametrize(("home", "away"), [*MEANS, (12.5, 1.2), (0.0, 2.0), (2.0, 40.0)])
def test_a_pair_is_numpys_for_every_mean(home, away):
    """Means numpy draws another way (10 and above, 0) are left to numpy."""
    drawn = poisson_pair(np.random.default_rng(11), home, away, 5000)
    assert same(drawn, numpy_pair(11, home, away, 5000))

"""The engine's own counts (`simulator.engine.quantiles`) against scipy's laws, and its keyed uniforms
(`simulator.engine.keyed`)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from simulator.engine.keyed import keyed_uniforms
from simulator.engine.quantiles import binomial_quantile, poisson_quantile


def test_poisson_quantile_is_the_exact_inverse_cdf():
    rng = np.random.default_rng(3)
    lam = np.r_[0.0, 1e-4, rng.uniform(0, 3, 300), rng.uniform(3, 60, 300), rng.uniform(60, 5e4, 300)]
    u = rng.random(lam.size)
    u[:4] = [1e-12, 1 - 1e-12, 0.5, 1e-300]                     # the tails, where the start is far off
    want = np.where(lam > 0, stats.poisson.ppf(u, np.where(lam > 0, lam, 1.0)), 0)
    assert np.array_equal(poisson_quantile(u, lam), want.astype(np.int64))


def test_binomial_quantile_is_the_exact_inverse_cdf():
    """Against scipy's binom.ppf, over tick-sized cells (small n·p: the pmf walk) and large
    ones (n·p in the thousands: the Cornish–Fisher bracket), p from 0 to 1."""
    rng = np.random.default_rng(11)
    n = rng.poisson(rng.choice([0.5, 3, 40, 400, 20_000], 30_000)).astype(np.int64)
    p = rng.choice([0.0, 1e-4, 0.02, 0.3, 0.97, 1.0], n.size) * rng.uniform(0.5, 1.0, n.size)
    p[::7] = 1.0
    u = rng.random(n.size)
    want = stats.binom.ppf(u, n, p)
    assert np.array_equal(binomial_quantile(u, n, p), want.astype(np.int64))


def test_binomial_quantile_is_monotone_in_p_for_one_uniform():
    """What couples two plans: the same uniform gives at least as many buyers at a higher p."""
    rng = np.random.default_rng(2)
    u, n = rng.random(5000), rng.integers(0, 300, 5000)
    p = rng.uniform(0, 0.2, 5000)
    assert (binomial_quantile(u, n, p * 1.1) >= binomial_quantile(u, n, p)).all()


def test_keyed_uniforms_are_uniform_and_independent_across_keys_and_counters():
    """Uniform (Kolmogorov–Smirnov), pairs of neighbouring counters and of two keys on one
    counter independent (χ² on a 10 × 10 grid), and a function of (key, a, b) only."""
    a = np.repeat(np.arange(2000), 50)
    b = np.tile(np.arange(50), 2000)
    u = keyed_uniforms(np.uint64(7), a, b)
    assert stats.kstest(u, "uniform").pvalue > 1e-3
    for x, y in ((u[:-1:2], u[1::2]), (u, keyed_uniforms(np.uint64(8), a, b)),
                 (u, keyed_uniforms(np.uint64(7), b, a))):
        grid = np.histogram2d(x, y, bins=10, range=[[0, 1], [0, 1]])[0]
        assert stats.chisquare(grid.ravel()).pvalue > 1e-3
    assert np.array_equal(u[123:130], keyed_uniforms(np.uint64(7), a[123:130], b[123:130]))
    assert 0.0 < u.min() and u.max() < 1.0

"""The engine's own Poisson draws (`simulator.engine.poisson`) against scipy's Poisson law."""

from __future__ import annotations

import numpy as np
from scipy import stats

from simulator.engine.poisson import poisson_quantile, sparse_poisson


def test_poisson_quantile_is_the_exact_inverse_cdf():
    rng = np.random.default_rng(3)
    lam = np.r_[0.0, 1e-4, rng.uniform(0, 3, 300), rng.uniform(3, 60, 300), rng.uniform(60, 5e4, 300)]
    u = rng.random(lam.size)
    u[:4] = [1e-12, 1 - 1e-12, 0.5, 1e-300]                     # the tails, where the start is far off
    want = np.where(lam > 0, stats.poisson.ppf(u, np.where(lam > 0, lam, 1.0)), 0)
    assert np.array_equal(poisson_quantile(u, lam), want.astype(np.int64))


def test_sparse_poisson_returns_the_non_empty_cells_in_order():
    rate = np.array([[0.0, 2.0, 0.0], [50.0, 0.0, 1e-3]])
    idx, n = sparse_poisson(np.random.default_rng(1), rate)
    assert np.all(np.diff(idx) > 0) and np.all(n >= 1)
    assert set(idx.tolist()) <= {1, 3, 5} and 3 in idx        # rate 0 never, rate 50 always
    assert n.dtype.kind == "i"


def test_sparse_poisson_follows_the_poisson_law():
    """Counts of cells with small, middling and large rates: each rate's frequencies of
    0, 1, 2, ... match the Poisson pmf (chi-square), and its mean lies within 4 standard errors."""
    rates = np.array([0.01, 0.2, 1.0, 4.0, 30.0])
    reps = 40_000
    rate = np.tile(rates, reps)
    idx, n = sparse_poisson(np.random.default_rng(7), rate)
    counts = np.zeros(rate.size, dtype=np.int64)
    counts[idx] = n
    counts = counts.reshape(reps, rates.size)
    for j, lam in enumerate(rates):
        x = counts[:, j]
        assert abs(x.mean() - lam) < 4 * np.sqrt(lam / reps)
        hi = int(stats.poisson.ppf(0.999, lam))                # bins 0..hi−1 and a tail bin
        lo = int(stats.poisson.ppf(0.001, lam))
        edges = np.arange(lo, hi + 1)
        observed = np.r_[(x < lo).sum(), [(x == k).sum() for k in edges[:-1]], (x >= hi).sum()]
        expect = reps * np.r_[stats.poisson.cdf(lo - 1, lam), stats.poisson.pmf(edges[:-1], lam),
                              stats.poisson.sf(hi - 1, lam)]
        keep = expect > 5
        obs, exp = observed[keep], expect[keep]
        obs = np.r_[obs, observed[~keep].sum()]
        exp = np.r_[exp, expect[~keep].sum()]
        nz = exp > 0
        chi2 = (((obs - exp) ** 2)[nz] / exp[nz]).sum()
        assert stats.chi2.sf(chi2, nz.sum() - 1) > 1e-3, (lam, chi2)

"""Poisson draws the fast engine needs beyond `Generator.poisson`: many cells with small rates
(`sparse_poisson`) and an exact inverse CDF on given uniforms (`poisson_quantile`)."""

from __future__ import annotations

import numpy as np
from scipy import special


def sparse_poisson(rng: np.random.Generator, rate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Draws X ~ Poisson(rate) for every cell of `rate` (any shape, ≥ 0) and returns the
    non-zero ones: (flat indices in C order, ascending; their counts ≥ 1).

    By the Poisson process: X counts the arrivals of a unit-rate process in [0, rate], so
    X = 0 when the first arrival E ~ Exp(1) falls after `rate`, and otherwise X = 1 +
    Poisson(rate − E) (memorylessness). Exact, and cheaper than `rng.poisson` when most cells
    are empty: one exponential (a ziggurat draw) per cell, a Poisson draw only where E ≤ rate.
    """
    e = rng.standard_exponential(rate.size)
    e -= rate.ravel()                                   # E − rate < 0 where an arrival falls in
    idx = np.flatnonzero(e < 0.0)                       # (strict: a zero rate never counts)
    rest = e[idx]
    np.negative(rest, out=rest)
    return idx, 1 + rng.poisson(rest)


def poisson_quantile(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Inverse CDF of Poisson(lam) at u (same shapes): the least k with P(X ≤ k) ≥ u.
    A Cornish–Fisher start, its CDF (`scipy.special.pdtr`) and one step by the probability
    mass (the start is mostly one off), then exact steps on the CDF for the cells still off; monotone in lam for a fixed u, which is what couples plans on
    one seed."""
    u, lam = np.broadcast_arrays(np.asarray(u, float), np.asarray(lam, float))
    out = np.zeros(u.shape, dtype=np.int64)
    live = lam > 0
    if not live.any():
        return out
    lv, uv = lam[live], u[live]
    z = special.ndtri(uv)
    root = np.sqrt(lv)
    k = np.floor(lv + root * z + (z * z - 1) / 6 + (z * z * z - 7 * z) / (72 * root))
    k = np.maximum(0, k).astype(np.int64)
    at = special.pdtr(k, lv)                                   # F(k)
    pk = np.exp(special.xlogy(k, lv) - lv - special.gammaln(k + 1.0))   # P(X = k)
    up = np.flatnonzero(at < uv)                               # F(k) < u: step up
    k[up] += 1                                                 # the start is mostly one off:
    up = up[at[up] + pk[up] * lv[up] / k[up] < uv[up]]         # F(k + 1) = F(k) + P(X = k + 1)
    while up.size:
        k[up] += 1
        up = up[special.pdtr(k[up], lv[up]) < uv[up]]
    down = np.flatnonzero((at >= uv) & (k > 0) & (at - pk >= uv))   # F(k − 1) ≥ u: step down
    while down.size:
        k[down] -= 1
        down = down[k[down] > 0]
        down = down[special.pdtr(k[down] - 1, lv[down]) >= uv[down]]
    out[live] = k
    return out

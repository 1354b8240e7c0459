"""Counts the fast engine draws beyond `Generator.poisson`: exact inverse CDFs on given uniforms
(`poisson_quantile`, `binomial_quantile`). An inverse CDF on a shared uniform is monotone in the rate, so two plans
on one seed that differ in a probability draw counts that move together (common random
numbers, docs/model.md "Randomness")."""

from __future__ import annotations

import numpy as np
from scipy import special

SMALL_MEAN = 30.0      # cells with a mean up to this start from F(0) and walk up by the pmf


def _walk_poisson(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Least k with P(Poisson(λ) ≤ k) ≥ u for small λ: from F(0) = e^−λ, k up one pmf step
    (P(k + 1) = P(k) · λ / (k + 1)) at a time, vectorized over the cells still short of u."""
    k = np.zeros(u.size, dtype=np.int64)
    pmf = np.exp(-lam)
    cdf = pmf.copy()
    live = np.flatnonzero(cdf < u)
    while live.size:
        k[live] += 1
        pmf[live] *= lam[live] / k[live]
        cdf[live] += pmf[live]
        live = live[(cdf[live] < u[live]) & (pmf[live] > 0)]
    return k


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
    small = live & (lam <= SMALL_MEAN)                          # a few pmf steps from F(0) = e^−λ
    if small.any():
        out[small] = _walk_poisson(u[small], lam[small])
        live &= ~small
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




def binomial_quantile(u: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Inverse CDF of Binomial(n, p) at u (same shapes, u in (0, 1)): the least k with
    P(X ≤ k) ≥ u.

    Cells with a small mean walk up from F(0) = (1 − p)^n by the pmf's ratio
    P(k + 1) / P(k) = (n − k)/(k + 1) · p/(1 − p), a few steps for the conversion-sized
    probabilities of a tick; the others start from the Cornish–Fisher normal quantile and step
    by the CDF (`scipy.special.betainc`) until it brackets u. Above p = ½ it reads n − the
    quantile of Binomial(n, 1 − p) at 1 − u (equal but on a set of u of measure zero)."""
    u, n, p = np.broadcast_arrays(np.asarray(u, float), np.asarray(n, np.int64), np.asarray(p, float))
    out = np.zeros(u.shape, dtype=np.int64)
    p = np.clip(p, 0.0, 1.0)
    full = (p >= 1.0) & (n > 0)
    out[full] = n[full]
    live = (n > 0) & (p > 0) & ~full
    if not live.any():
        return out
    flip = live & (p > 0.5)                      # n − Binomial(n, 1 − p) at 1 − u: the short walk
    if flip.any():
        out[flip] = n[flip] - binomial_quantile(1.0 - u[flip], n[flip], 1.0 - p[flip])
        live &= ~flip
        if not live.any():
            return out
    idx = np.flatnonzero(live)
    uv, nv, pv = u.ravel()[idx], n.ravel()[idx], p.ravel()[idx]
    log_f0 = nv * np.log1p(-pv)
    need = np.log(uv) > log_f0                                    # F(0) < u: at least one
    idx, uv, nv, pv, log_f0 = idx[need], uv[need], nv[need], pv[need], log_f0[need]
    small = (nv * pv <= SMALL_MEAN) & (log_f0 > -700.0)
    flat = out.ravel()
    if small.any():
        flat[idx[small]] = _walk_up(uv[small], nv[small], pv[small], log_f0[small])
    big = ~small
    if big.any():
        flat[idx[big]] = _bracket(uv[big], nv[big], pv[big])
    return out


def _walk_up(u, n, p, log_f0):
    """Least k ≥ 1 with F(k) ≥ u, from F(0) < u, one pmf step at a time (vectorized)."""
    k = np.zeros(u.size, dtype=np.int64)
    pmf = np.exp(log_f0)
    cdf = pmf.copy()
    odds = p / (1.0 - p)
    live = np.arange(u.size)
    while live.size:
        kl = k[live]
        pmf[live] *= (n[live] - kl) / (kl + 1) * odds[live]
        cdf[live] += pmf[live]
        k[live] = kl + 1
        live = live[(cdf[live] < u[live]) & (k[live] < n[live])]
    return k


def _bracket(u, n, p):
    """Least k with F(k) ≥ u for large means: a Cornish–Fisher start, then CDF steps."""
    q = 1.0 - p
    mean, sd = n * p, np.sqrt(n * p * q)
    z = special.ndtri(u)
    skew = (q - p) / sd
    k = np.clip(np.floor(mean + sd * (z + skew * (z * z - 1) / 6) - 0.5), 0, n).astype(np.int64)
    cdf = _binom_cdf(k, n, p)
    up = np.flatnonzero(cdf < u)
    while up.size:
        k[up] += 1
        up = up[_binom_cdf(k[up], n[up], p[up]) < u[up]]
    down = np.flatnonzero(k > 0)
    down = down[_binom_cdf(k[down] - 1, n[down], p[down]) >= u[down]]
    while down.size:
        k[down] -= 1
        down = down[k[down] > 0]
        down = down[_binom_cdf(k[down] - 1, n[down], p[down]) >= u[down]]
    return k


def _binom_cdf(k, n, p):
    """P(Binomial(n, p) ≤ k) = I_{1−p}(n − k, k + 1) for k < n, 1 at k ≥ n."""
    k = np.asarray(k)
    out = np.ones(k.shape)
    below = k < n
    out[below] = special.betainc((n - k)[below], (k + 1)[below], (1.0 - p)[below])
    return out

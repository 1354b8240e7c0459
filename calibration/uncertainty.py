"""An interval for every fitted parameter, and whether the data identify it.

**Profile likelihood**, 95 %. The loss is read as a Gaussian likelihood: for `log_scaled`,
each target's log errors have their own variance ŝ_t² (estimated at the optimum with
n_t − p·n_t/n degrees of freedom), so the deviance is D(θ) = Σ_t Σ Δ²/ŝ_t²; for `msm` the
loss already is a χ² statistic (scaled up by D_min/(q − p) when the model fits worse than its
degrees of freedom allow). The interval of parameter j is where the profile — D minimized over
the other parameters with θ_j held — stays within χ²₁(0.95) = 3.84 of the minimum.

Why a profile and not the alternatives: a Wald interval (±1.96 standard errors from the
Jacobian) is symmetric in the search coordinates and ignores curvature — a promotion lift
or an elasticity near a bound gets an interval beyond the bound or far too narrow; a bootstrap
over periods refits the model hundreds of times and treats periods as exchangeable, which
a launch spike (one period) is not; near-best trials are only as good as the sampler's
coverage. The profile follows the loss itself and needs only a few refits per parameter:
each side starts at the Wald end and takes secant steps on √ΔD (linear in θ under the
quadratic approximation) until ΔD is within 10 % of 3.84 — two or three refits per side.
With more than `REFIT_MAX` unknowns the other parameters follow the linearized ridge
(δ = −J_o⁺(r̂ + J_j Δθ_j), one model run per point) instead of being refitted, which
narrows the interval a little where the ridge bends.

For Optuna fits the profile is sampled rather than computed: the interval spans the trials
whose deviance lies within 3.84 of the best one (the trials' lower envelope is the profile,
seen through the sampler's coverage). When fewer than 3p trials fall inside (a sampler that
converged tightly samples few points on the threshold), a quadratic surface fitted to the
trials nearest the best gives the profile half-widths instead.

Caveats: residuals of a weekly series are autocorrelated, so D counts more independent
errors than there are; the intervals are then too narrow by about √((1 + ρ)/(1 − ρ)).

**Identification.** A parameter is not identified when no target informs it (`REQUIRES`: a
return rate without a `returns` column, a cost without any money flow) or when its profile
stays within the threshold across its whole declared range (traffic and conversion without a
`visits` target trade off exactly; a promotion lift of a SKU never on promotion).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calibration.calibrators import Fit, SimModel, from_unit, to_unit
from calibration.losses import Loss
from simulator.scenario.calibrate_schema import Unknown

CHI2_95 = 3.841458820694124
"""χ²₁ 95 % quantile: the profile's threshold."""

REFIT_MAX = 8
"""Up to this many unknowns the profile refits the others at each point; beyond, they follow
the linearized ridge."""

REQUIRES = {
    "return_rate": ("returns",),
    "cpc": ("ad_spend",), "cpm": ("ad_spend",),
    "unit_cost": (), "salvage_value": (), "commission_rate": (), "cost_per_message": (),
    "platform_fee_rate": (), "shipping_cost_per_order": (), "return_cost_per_unit": (),
}
"""The last key of a path → history targets that can inform it (empty: none can)."""


@dataclass
class Interval:
    low: float
    high: float
    identified: bool
    reason: str = ""


def requirement(u: Unknown, targets) -> str | None:
    """Why no target informs `u`, or None."""
    key = str(u.locs[0][-1])
    need = REQUIRES.get(key)
    if need is None:
        return None
    if not need:
        return f"no history column informs {key} (costs are not part of the targets)"
    if not set(need) & set(targets):
        cols = " or ".join(repr(n) for n in need)
        return f"no {cols} target: the history says nothing about {key}"
    return None


def scales(r: np.ndarray, groups: np.ndarray, p: int, chi2: bool) -> np.ndarray:
    """Per-residual divisors that turn the loss's residuals at the optimum into standardized
    ones (module docstring)."""
    n = r.size
    if chi2:
        factor = max(1.0, float(r @ r) / max(n - p, 1))
        return np.full(n, np.sqrt(factor))
    out = np.ones(n)
    for t in dict.fromkeys(groups):
        m = groups == t
        nt = int(m.sum())
        dof = max(nt - p * nt / n, 1.0)
        out[m] = max(np.sqrt(float(r[m] @ r[m]) / dof), 1e-12)
    return out


def profile_intervals(model: SimModel, loss: Loss, fit: Fit, *, progress=None) -> dict[str, Interval]:
    """Profile-likelihood intervals around a least-squares `fit` (module docstring)."""
    from scipy.optimize import least_squares

    unknowns = model.unknowns
    p = len(unknowns)
    fun = model.unit_residuals(loss)
    s = scales(fit.residuals, loss.groups, p, loss.chi2)
    x_hat = np.asarray(fit.x, dtype=float)
    z_hat = fit.residuals / s
    d_min = float(z_hat @ z_hat)
    J = fit.jac / s[:, None] if fit.jac is not None else None

    def deviance(x):
        z = fun(x) / s
        return float(z @ z)

    # Wald standard errors in unit coordinates, for the starting points
    se = np.full(p, 0.1)
    if J is not None:
        cov = np.linalg.pinv(J.T @ J)
        se = np.sqrt(np.clip(np.diag(cov), 1e-12, None))

    def profile_at(j, c):
        """(ΔD, x) with x_j = c and the others refitted (or moved along the linearized ridge)."""
        x = x_hat.copy()
        x[j] = c
        others = [i for i in range(p) if i != j]
        if J is not None and others:
            Jo, Jj = J[:, others], J[:, j]
            delta = -np.linalg.lstsq(Jo, z_hat + Jj * (c - x_hat[j]), rcond=None)[0]
            x[others] = np.clip(x_hat[others] + delta, 0.0, 1.0)
        if p <= REFIT_MAX and others:
            def inner(xo):
                y = x.copy()
                y[others] = xo
                return fun(y) / s
            res = least_squares(inner, np.clip(x[others], 1e-9, 1 - 1e-9), bounds=(0.0, 1.0), method="trf",
                                diff_step=1e-6, max_nfev=20 * len(others))
            x[others] = res.x
            return 2 * res.cost - d_min, x
        return deviance(x) - d_min, x

    out: dict[str, Interval] = {}
    for j, u in enumerate(unknowns):
        ends = []
        flat_sides = 0
        for sign in (-1.0, 1.0):
            bound = 0.0 if sign < 0 else 1.0
            step = max(1.96 * se[j], 1e-4)
            c = float(np.clip(x_hat[j] + sign * step, 0.0, 1.0))
            end = bound
            for _ in range(4):
                if abs(c - x_hat[j]) < 1e-9:
                    end = c
                    break
                dd, _ = profile_at(j, c)
                if dd < CHI2_95 and c == bound:
                    end, flat_sides = bound, flat_sides + 1
                    break
                if abs(dd - CHI2_95) <= 0.1 * CHI2_95:
                    end = c
                    break
                ratio = np.sqrt(CHI2_95 / max(dd, 1e-12))
                c_new = float(np.clip(x_hat[j] + (c - x_hat[j]) * min(ratio, 10.0), 0.0, 1.0))
                end = c if dd >= CHI2_95 else c_new
                c = c_new
            ends.append(end)
        if progress:
            progress(j + 1, p, "intervals")
        lo, hi = from_unit(u, ends[0]), from_unit(u, ends[1])
        identified, reason = True, ""
        if flat_sides == 2 or (ends[0] <= 1e-9 and ends[1] >= 1 - 1e-9):
            identified, reason = False, ("the loss changes by less than the 95 % threshold across the whole "
                                         f"range {u.low:g}–{u.high:g}: the data do not pin it down")
        out[u.name] = Interval(min(lo, hi), max(lo, hi), identified, reason)
    return out


def trial_intervals(model: SimModel, loss: Loss, fit: Fit) -> dict[str, Interval]:
    """Intervals from the trials of an Optuna fit within χ²₁(0.95) of the best (docstring)."""
    p = len(model.unknowns)
    s = scales(fit.residuals, loss.groups, p, loss.chi2)
    dev = np.array([float((row["residuals"] / s) @ (row["residuals"] / s)) for row in fit.trials])
    near = dev - dev.min() <= CHI2_95
    all_vals = np.array([row["values"] for row in fit.trials])
    vals = all_vals[near]
    surface = _quadratic_halfwidths(model.unknowns, all_vals, dev) if near.sum() < 3 * p else None
    out = {}
    for j, u in enumerate(model.unknowns):
        lo, hi = float(vals[:, j].min()), float(vals[:, j].max())
        lo, hi = min(lo, fit.values[j]), max(hi, fit.values[j])
        if surface is not None and np.isfinite(surface[j]):
            x = to_unit(u, fit.values[j])
            lo = min(lo, from_unit(u, x - surface[j]))
            hi = max(hi, from_unit(u, x + surface[j]))
        span = to_unit(u, hi) - to_unit(u, lo)
        identified, reason = True, ""
        if span > 0.9:
            identified, reason = False, (f"trials within the 95 % threshold of the best span {span:.0%} of the "
                                         f"range {u.low:g}–{u.high:g}: the data do not pin it down")
        out[u.name] = Interval(lo, hi, identified, reason)
    return out


def _quadratic_halfwidths(unknowns, values: np.ndarray, dev: np.ndarray) -> np.ndarray | None:
    """Too few trials within the threshold to span an interval (a sampler that converged
    tightly): fit a quadratic surface D(x) to the trials nearest the best in deviance (unit
    coordinates) and return each parameter's profile half-width √(2 · 3.84 · (H⁻¹)_jj)."""
    p = len(unknowns)
    X = np.array([[to_unit(u, v) for u, v in zip(unknowns, row)] for row in values])
    order = np.argsort(dev)[: max(10 * (p + 1) * (p + 2) // 2, 20)]
    X, d = X[order], dev[order]
    x0 = X[0]
    Z = X - x0
    iu = np.triu_indices(p)
    quad = np.stack([Z[:, a] * Z[:, b] for a, b in zip(*iu)], axis=1)
    A = np.hstack([np.ones((len(Z), 1)), Z, quad])
    if len(Z) < A.shape[1] + 2:
        return None
    coef = np.linalg.lstsq(A, d, rcond=None)[0]
    H = np.zeros((p, p))
    for c, (a, b) in zip(coef[1 + p:], zip(*iu)):
        H[a, b] += c
        H[b, a] += c          # d = ... + c·z_a·z_b: the Hessian has 2c on the diagonal, c off it
    try:
        Hinv = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return None
    var = np.diag(Hinv)
    return np.where(var > 0, np.sqrt(2 * CHI2_95 * np.clip(var, 0, None)), np.nan)


def with_requirements(intervals: dict[str, Interval], unknowns: list[Unknown], targets) -> dict[str, Interval]:
    """Flag unknowns that no target informs, whatever their profile says."""
    for u in unknowns:
        why = requirement(u, targets)
        if why:
            iv = intervals.get(u.name) or Interval(u.low, u.high, False)
            intervals[u.name] = Interval(iv.low, iv.high, False, why)
    return intervals

"""A sample of the fitted parameters' joint uncertainty (`fit_sample.json`, `fit_sample.csv`).

**Method: a Laplace (asymptotic normal) approximation** under the fit's own prior. The loss
is read as in `calibration.uncertainty`: a Gaussian likelihood whose deviance D(x) =
Σ (r_i(x) / s_i)² has the per-target scales s_i of the profile intervals (`scales`: each
target's residual variance at the optimum, or the χ² scaling of `msm`). Near the optimum x̂,
D(x) ≈ D(x̂) + (x − x̂)ᵀ H (x − x̂) with the Gauss–Newton precision H = J_sᵀ J_s, J_s the
residual Jacobian divided by s — σ² (JᵀJ)⁻¹ is its inverse when one σ serves every target.

For `log_scaled` the covariance is the sandwich H⁻¹ B H⁻¹ (B = J_sᵀ diag(z²) J_s · n/(n − p),
z = r/s, White's HC1) rather than H⁻¹: one variance per target assumes every cell is as noisy
as the next on the log scale, but a count's log varies as 1/μ, so the cells of a discounted
or promoted SKU are quieter than the others. Gauss–Newton then understates the spread of a
level parameter: on the synthetic store of the tests (three SKUs, 0–30 % discounts) its SD
was 0.78 of the conversion rate's spread over 80 simulated histories (2.7 standard errors
short), the sandwich's 0.91 (1.2 standard errors; the elasticity 0.93 and 0.94). With equal
variances B = H and the two agree. `msm` residuals are already
divided by their sampling standard deviations (a χ² statistic), so H is its precision as is.

The fit searched a box (each parameter's declared `low`–`high`) with a flat prior in its
search coordinates, so the approximate posterior is N(x̂, H⁻¹ B H⁻¹) truncated to the box.

Coordinates: those of the search (`calibrators.to_unit`) — the log of a `log: true`
parameter, the value itself otherwise. That is where least squares took its steps and where
the profile intervals are measured, and a normal on the log of a positive volume or rate keeps
it positive and skewed to the right like its profile interval.

Directions the history does not pin down: an eigen-direction of H with precision below
`FLAT` (a standard deviation above a thousand box widths), and every parameter no target
informs (`uncertainty.requirement`: its row and column of H are set to zero), are drawn from
the prior: uniformly across the box, while the combinations the history does pin down (the
product of traffic and conversion without a `visits` target) keep their spread. Such a sample
is as wide as the declared ranges in those directions — honest, and a reason to narrow the
ranges or add a target; the file names them (`unidentified`).

Sampling the truncated normal: `DRAWS` independent chains, each started at a draw of the
untruncated normal clipped into the box, take `SWEEPS` sweeps of Gibbs updates along H's
eigen-directions (along each, the target is a normal truncated to the segment inside the box,
or uniform on it); the last state of each chain is one draw. Without truncation one sweep is
already exact; the sweeps are for draws near the box's faces.

Fits by Optuna (`tpe`, `cmaes`) have no Jacobian: it is taken by central differences
(`STEP` of the unit range either side) on the fast engine's mean over the fit's replications,
which share their seeds (common random numbers), so a difference measures the parameter and
not the luck. The step is wide (5 % of the range) because a simulated count moves in whole
units and a replication's draws change with the parameter: at 1 % the differences' noise
inflated J_sᵀ J_s and narrowed the test store's sample by a third; 5 % and 10 % agree. The
residual scales then include the simulation's own noise (the fit compares the history with a
mean of R replications), which widens the sample by about √(1 + 1/R) — the price of fitting
a simulator.

Why not emcee (MCMC on the simulated loss): every step of every walker is a model run — tens
of thousands of runs where the Laplace sample needs the fit's Jacobian (none for least
squares, 2p runs for Optuna) — and on the fast engine the loss is noisy, which a random-walk
sampler reads as posterior roughness. The Laplace sample is exact for a model linear in its
parameters near the optimum with Gaussian errors; where the loss is far from quadratic inside
the box (a parameter near a bound, a curved ridge) it is an approximation, and the profile
intervals of `fit.json` show how far.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calibration.calibrators import from_unit, tidy
from calibration.uncertainty import requirement, scales

METHOD = "laplace"
DRAWS = 1000
"""Rows of the sample."""
SWEEPS = 30
"""Gibbs sweeps per chain."""
FLAT = 1e-6
"""Precision (in unit coordinates, whose box is 1 wide) below which a direction is flat: drawn uniformly."""
STEP = 0.05
"""Central-difference step of an Optuna fit's Jacobian, in unit coordinates."""
SAMPLE_STREAM = 0x66697473   # "fits": the sample's entropy word beside the calibration's seed


@dataclass
class FitSample:
    """`draws` (D, P) of the fitted `parameters` in their natural units, and how they were made."""

    parameters: list[str]
    draws: np.ndarray
    fit: dict
    scale: dict[str, str]
    jacobian: str
    unidentified: list[str] = field(default_factory=list)
    seed: int = 0
    method: str = METHOD

    def to_text(self) -> str:
        """`fit_sample.json`: indented, one line a draw."""
        import json

        body = self.to_json()
        rows = body.pop("draws")
        head = json.dumps(body, indent=1, ensure_ascii=False)
        lines = ",\n  ".join(json.dumps(r) for r in rows)
        return head[:-2] + ',\n "draws": [\n  ' + lines + "\n ]\n}\n"

    def to_json(self) -> dict:
        return {
            "method": self.method,
            "about": ("a Laplace (asymptotic normal) approximation of the fitted parameters' joint uncertainty: "
                      "the normal around the fit with the covariance of the loss at the optimum (Gauss-Newton, "
                      "sandwich for log_scaled), in the search coordinates (log where the parameter is log: true), "
                      "truncated to the declared ranges; directions the history does not pin down are drawn "
                      "uniformly across the ranges. One row of draws per draw, in the order of parameters"),
            "fit": self.fit,
            "jacobian": self.jacobian,
            "scale": self.scale,
            "unidentified": self.unidentified,
            "seed": self.seed,
            "parameters": self.parameters,
            "draws": [[float(x) for x in row] for row in self.draws],
        }


def finite_difference_jacobian(fun, x: np.ndarray, step: float = STEP) -> np.ndarray:
    """(n, P) central differences of `fun` at `x`, each side clipped into [0, 1]."""
    cols = []
    for j in range(len(x)):
        up, down = x.copy(), x.copy()
        up[j], down[j] = min(x[j] + step, 1.0), max(x[j] - step, 0.0)
        cols.append((fun(up) - fun(down)) / (up[j] - down[j]))
    return np.stack(cols, axis=1)


def precision(jac: np.ndarray, residuals: np.ndarray, groups: np.ndarray, chi2: bool,
              uninformed: list[int]) -> np.ndarray:
    """(P, P) the precision of the fitted parameters in unit coordinates (module docstring):
    Gauss–Newton H = J_sᵀ J_s for `msm`, the sandwich H B⁻¹ H for `log_scaled`; zero along
    directions of H below FLAT and on the `uninformed` parameters."""
    n, p = jac.shape
    s = scales(residuals, groups, p, chi2)
    js = jac / s[:, None]
    js[:, uninformed] = 0.0
    h = js.T @ js
    lam, vecs = np.linalg.eigh((h + h.T) / 2)
    kept = lam >= FLAT
    if not kept.any():
        return np.zeros((p, p))
    v = vecs[:, kept]
    if chi2:
        inner = np.diag(lam[kept])
    else:   # Var = H⁻¹ B H⁻¹ on the informed directions, B = J_sᵀ diag(z²) J_s · n / (n − p)
        jv, z = js @ v, residuals / s
        b = (jv * z[:, None] ** 2).T @ jv * n / max(n - p, 1)
        inner = np.diag(lam[kept]) @ np.linalg.pinv(b) @ np.diag(lam[kept])
    out = v @ inner @ v.T
    return (out + out.T) / 2


def truncated_normal(x_hat: np.ndarray, h: np.ndarray, n: int, rng: np.random.Generator,
                     sweeps: int = SWEEPS) -> tuple[np.ndarray, list[int]]:
    """((n, P) draws of N(x_hat, h⁻¹) truncated to [0, 1]^P, flat along directions of precision
    below FLAT; the indices of the parameters that move along a flat direction)."""
    from scipy.stats import truncnorm

    p = len(x_hat)
    lam, vecs = np.linalg.eigh(h)
    flat = lam < FLAT
    sd = np.where(flat, np.inf, 1.0 / np.sqrt(np.where(flat, 1.0, lam)))
    # start: the untruncated normal (uniform across the box along flat directions), clipped into the box
    spread = np.where(flat, 0.0, sd)
    c0 = rng.standard_normal((n, p)) * spread + np.where(flat, rng.uniform(-1.0, 1.0, (n, p)) * np.sqrt(p), 0.0)
    x = np.clip(x_hat + c0 @ vecs.T, 0.0, 1.0)
    for _ in range(sweeps):
        for k in range(p):
            v = vecs[:, k]
            c = (x - x_hat) @ v                                # (n,) the chain's coordinate along v
            lo, hi = np.full(n, -np.inf), np.full(n, np.inf)   # steps t with x + t v inside the box
            for i in np.flatnonzero(np.abs(v) > 1e-12):
                a, b = -x[:, i] / v[i], (1.0 - x[:, i]) / v[i]
                lo, hi = np.maximum(lo, np.minimum(a, b)), np.minimum(hi, np.maximum(a, b))
            lo, hi = c + np.minimum(lo, 0.0), c + np.maximum(hi, 0.0)
            room = hi - lo > 1e-12                             # a chain wedged in a corner stays
            hi = np.where(room, hi, lo + 1e-12)
            if flat[k]:
                new = rng.uniform(lo, hi)
            else:
                new = truncnorm.rvs(lo / sd[k], hi / sd[k], scale=sd[k], size=n, random_state=rng)
            new = np.where(room, new, c)
            x = np.clip(x + np.outer(new - c, v), 0.0, 1.0)
    moving = sorted({int(i) for k in np.flatnonzero(flat) for i in np.flatnonzero(np.abs(vecs[:, k]) > 1e-6)})
    return x, moving


def fit_sample(result, model, *, draws: int = DRAWS, seed: int = 0) -> FitSample:
    """The joint sample of `result`'s fitted parameters (a `CalibrationResult`; `model` its
    `SimModel`), from the fit's own Jacobian (module docstring)."""
    fit, unknowns = result.fit, result.unknowns
    x_hat = np.asarray(fit.x, dtype=float)
    if fit.jac is not None:
        jac, how = np.asarray(fit.jac, dtype=float), "least squares' own Jacobian at the optimum"
    else:
        jac = finite_difference_jacobian(model.unit_residuals(result.loss), x_hat)
        how = (f"central differences of ±{STEP:g} of each range (unit coordinates) on the {fit.engine} engine's "
               f"mean over {model.reps} replication(s) with common seeds")
    targets = list(result.loss.targets)
    uninformed = [j for j, u in enumerate(unknowns) if requirement(u, targets)]
    h = precision(jac, fit.residuals, result.loss.groups, result.loss.chi2, uninformed)
    rng = np.random.default_rng(np.random.SeedSequence([seed, SAMPLE_STREAM]))
    x, moving = truncated_normal(np.clip(x_hat, 0.0, 1.0), h, draws, rng)
    values = np.array([[tidy(from_unit(u, xi)) for u, xi in zip(unknowns, row)] for row in x])
    flagged = {u.name for u in unknowns if not result.intervals[u.name].identified}
    unidentified = [u.name for j, u in enumerate(unknowns) if j in moving or u.name in flagged]
    return FitSample(parameters=[u.name for u in unknowns], draws=values, fit=identity(result),
                     scale={u.name: "log" if u.log else "linear" for u in unknowns}, jacobian=how,
                     unidentified=unidentified, seed=seed)


def identity(result) -> dict:
    """What names the fit a sample comes from: its scenario, history (with the file's SHA-256),
    loss, method and fitted values."""
    h = result.history_file
    digest = None
    if h is not None and Path(h).is_file():
        digest = hashlib.sha256(Path(h).read_bytes()).hexdigest()
    return {"scenario": result.scenario.meta.name,
            "scenario_file": Path(result.source).name if result.source else None,
            "history": result.history.source, "history_sha256": digest,
            "periods_fitted": int(result.mask.sum()), "loss": result.loss.name,
            "loss_value": float(result.fit.loss), "method": result.fit.method,
            "engine": result.fit.engine, "values": dict(result.values)}

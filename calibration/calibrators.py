"""Calibrators: three seams, as in black-it — a model `(theta, seeds) -> SimTable`, a loss
(`calibration.losses`) and a search.

- `SimModel` sets the unknowns in the scenario, builds the replay of the history and plays it,
  with the `expected` engine (one deterministic record) or the `fast` engine (replications
  0 … R−1 of one seed for every candidate: common random numbers, so two candidates differ by
  their parameters, not by their luck).
- `fit_least_squares`: scipy's trust-region reflective least squares on the loss's residual
  vector, with finite-difference Jacobians. The search runs in unit coordinates u ∈ [0, 1]
  per unknown (log-scaled where `log: true`), so one step size suits a conversion rate and a
  traffic volume alike. It needs a smooth objective: use it with the expected engine.
- `fit_optuna`: Optuna's TPE (`tpe`) or CMA-ES (`cmaes`) over the loss of simulated
  replications, the start enqueued as trial 0. No gradients, robust to noise and to a rugged
  loss, but hundreds of trials where least squares needs tens of iterations.

Which to use (docs/calibration.md): least squares on the expected engine whenever the flows
that matter are far from their saturation points (stock, budgets, conversion capped at 1) —
the expected engine is then the exact mean of the stochastic one and the fit takes seconds.
Optuna on replications when the means are not enough: stock-outs or budgets that bind in some
replications and not in others, small counts where the mean of log(1 + y) is not log(1 + mean),
or a loss with plateaus.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from calibration.losses import Loss
from calibration.replay import Replay, SimTable
from simulator.scenario.calibrate_schema import Unknown
from simulator.scenario.overrides import set_value


# --------------------------------------------------------------- coordinates
def to_unit(u: Unknown, v: float) -> float:
    """The value `v` of unknown `u` as a coordinate in [0, 1] (log scale where `log`)."""
    if u.log:
        return (math.log(v) - math.log(u.low)) / (math.log(u.high) - math.log(u.low))
    return (v - u.low) / (u.high - u.low)


def from_unit(u: Unknown, x: float) -> float:
    x = min(max(float(x), 0.0), 1.0)
    if u.log:
        return math.exp(math.log(u.low) + x * (math.log(u.high) - math.log(u.low)))
    return u.low + x * (u.high - u.low)


def tidy(x: float) -> float:
    """10 significant digits, so a written scenario reproduces the evaluated one exactly."""
    return float(f"{x:.10g}")


# --------------------------------------------------------------------- model
@dataclass
class SimModel:
    """The model seam: parameter values (one per unknown, natural units) → simulated table.

    `base` is the calibrated scenario as plain data (`spec.plain_data`). `engine` `expected`
    ignores `reps` and `seed`; `fast` plays replications 0 … reps−1 of `seed` every time."""

    replay: Replay
    unknowns: list[Unknown]
    base: dict
    targets: list[str]
    engine: str = "expected"
    reps: int = 1
    seed: int = 0
    evaluations: int = 0
    seconds: float = 0.0

    def data(self, values) -> dict:
        """The scenario as plain data with every unknown set to its value."""
        import copy

        data = copy.deepcopy(self.base)
        for u, v in zip(self.unknowns, values):
            for loc in u.locs:
                set_value(data, loc, tidy(float(v)))
        return data

    def __call__(self, values, *, engine: str | None = None, reps: int | None = None) -> SimTable:
        t0 = time.perf_counter()
        sc = self.replay.scenario_from(self.data(values))
        out = self.replay.simulate(sc, self.targets, engine=engine or self.engine,
                                   reps=reps or self.reps, seed=self.seed)
        self.evaluations += 1
        self.seconds += time.perf_counter() - t0
        return out

    def unit_residuals(self, loss: Loss) -> Callable[[np.ndarray], np.ndarray]:
        """x in [0, 1]^p → the loss's residuals."""
        return lambda x: loss.residuals(self([from_unit(u, xi) for u, xi in zip(self.unknowns, x)]))


@dataclass
class Fit:
    """What a calibrator found. `values` in natural units, `x` in unit coordinates; `trials`
    (Optuna only): one row per trial with its values, loss and residuals."""

    values: list[float]
    x: np.ndarray
    loss: float
    loss_start: float
    residuals: np.ndarray
    method: str
    engine: str
    evaluations: int
    seconds: float
    jac: np.ndarray | None = None
    trials: list[dict] = field(default_factory=list)
    message: str = ""


Progress = Callable[[int, int, str], None]


def fit_least_squares(model: SimModel, loss: Loss, start: list[float], *, max_evaluations: int | None = None,
                      progress: Progress | None = None) -> Fit:
    """scipy.optimize.least_squares (trf, bounds [0, 1]) from `start` (natural units)."""
    from scipy.optimize import least_squares

    t0 = time.perf_counter()
    p = len(model.unknowns)
    budget = max_evaluations or 60 * (p + 1)
    fun = model.unit_residuals(loss)
    calls = {"n": 0}

    def counted(x):
        calls["n"] += 1
        if progress:
            progress(min(calls["n"], budget), budget, "least squares")
        return fun(x)

    x0 = np.clip([to_unit(u, v) for u, v in zip(model.unknowns, start)], 1e-6, 1 - 1e-6)
    r0 = counted(x0)
    res = least_squares(counted, x0, bounds=(0.0, 1.0), method="trf", x_scale=1.0,
                        diff_step=1e-6, ftol=1e-10, xtol=1e-10, gtol=1e-10, max_nfev=budget)
    values = [tidy(from_unit(u, xi)) for u, xi in zip(model.unknowns, res.x)]
    r = fun(np.array([to_unit(u, v) for u, v in zip(model.unknowns, values)]))
    return Fit(values, res.x, float(r @ r), float(r0 @ r0), r, "least_squares", model.engine,
               calls["n"] + 1, time.perf_counter() - t0, jac=res.jac, message=str(res.message))


def fit_optuna(model: SimModel, loss: Loss, start: list[float], *, method: str = "tpe", trials: int = 200,
               seed: int = 0, progress: Progress | None = None) -> Fit:
    """Optuna TPE or CMA-ES over the loss; trial 0 is `start`. Every trial plays the same
    replications (common random numbers), so the sampler compares like with like."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    t0 = time.perf_counter()
    if method == "cmaes":
        sampler = optuna.samplers.CmaEsSampler(seed=seed)   # trial 0 (the start) is enqueued
    else:
        sampler = optuna.samplers.TPESampler(seed=seed, multivariate=True,
                                             n_startup_trials=min(20, max(5, trials // 10)))
    study = optuna.create_study(direction="minimize", sampler=sampler)
    study.enqueue_trial({u.name: v for u, v in zip(model.unknowns, start)})
    rows: list[dict] = []

    def objective(trial):
        vals = [trial.suggest_float(u.name, u.low, u.high, log=u.log) for u in model.unknowns]
        r = loss.residuals(model(vals))
        rows.append({"values": vals, "loss": float(r @ r), "residuals": r})
        if progress:
            progress(len(rows), trials, method)
        return float(r @ r)

    study.optimize(objective, n_trials=trials)
    best = min(rows, key=lambda row: row["loss"])
    values = [tidy(v) for v in best["values"]]
    x = np.array([to_unit(u, v) for u, v in zip(model.unknowns, values)])
    return Fit(values, x, best["loss"], rows[0]["loss"], best["residuals"], method, model.engine,
               len(rows), time.perf_counter() - t0, trials=rows)

"""`calibrate(scenario, history)`: fit a scenario's unknowns to a store's history.

```python
from calibration import calibrate
res = calibrate("scenarios/dominicks_tuna.yaml", "../shared/data/dominicks_tuna_weekly.csv", holdout=0.2)
res.values            # {parameter: fitted value}
res.intervals         # {parameter: Interval(low, high, identified, reason)}
res.backtest          # {"model": {wape, mape}, "baselines": {name: {wape, mape}}, ...}
res.scenario          # the calibrated Scenario
res.to_json()         # what `promosim calibrate --json` prints
```

Steps: read and check the history (`load_history`; channel rows are summed per SKU), check
that every target is a column of it, replay the scenario over the history's periods with the
plan that was set (`replay`), fit the unknowns on the training periods (`calibrators`), put an
interval on each (`uncertainty`), and with a holdout predict the held-out periods and score
the prediction beside the naive baselines (`backtest`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from calibration.backtest import cut, run_backtest
from calibration.baselines import mape, wape
from calibration.calibrators import Fit, SimModel, fit_least_squares, fit_optuna
from calibration.history import History, HistoryError, history_from_frame, load_history
from calibration.losses import LOSSES, Loss
from calibration.replay import Replay, SimTable, observed
from calibration.sample import FitSample, fit_sample
from simulator.scenario.calibrate_schema import STORE_LEVEL, Unknown, plain_data, resolve
from calibration.uncertainty import Interval, profile_intervals, trial_intervals, with_requirements
from simulator.scenario.errors import Issue, ScenarioError
from simulator.files import json_safe


class CalibrationError(ScenarioError):
    """A calibration that cannot run (no calibrate block, a target the history lacks):
    located issues, like a scenario error."""


@dataclass
class CalibrationResult:
    """Everything a calibration produced (module docstring). `values` and `intervals` are keyed
    by parameter name: the path as written, or the concrete path for `each`."""

    scenario: object
    source: Path | None
    history: History
    history_file: Path | None
    unknowns: list[Unknown]
    start: dict[str, float]
    values: dict[str, float]
    intervals: dict[str, Interval]
    fit: Fit
    loss: Loss
    replay: Replay
    mask: np.ndarray
    obs: dict[str, np.ndarray]
    sim: SimTable
    band: SimTable | None
    backtest: dict | None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    columns: dict[str, str] = field(default_factory=dict)
    sample: FitSample | None = None          # the fitted parameters' joint sample (`sample=0`: none)

    def settings(self) -> list[tuple[tuple, float]]:
        """(location, value) for every location a fitted parameter sets."""
        return [(loc, self.values[u.name]) for u in self.unknowns for loc in u.locs]

    def fit_table(self) -> dict[str, dict]:
        """Per target, WAPE and MAPE of the fitted simulation on the fitted cells."""
        out = {}
        for t in self.loss.targets:
            c = self.loss.cells(t)
            a, p = self.obs[t][c], self.sim.mean(t)[c]
            out[t] = {"wape": _num(wape(a, p)), "mape": _num(mape(a, p)), "cells": int(c.sum())}
        return out

    def to_json(self) -> dict:
        f = self.fit
        params = {}
        for u in self.unknowns:
            iv = self.intervals[u.name]
            params[u.name] = {"value": self.values[u.name], "ci_low": _num(iv.low), "ci_high": _num(iv.high),
                              "identified": iv.identified, "start": self.start[u.name], "low": u.low,
                              "high": u.high, "log": u.log}
            if iv.reason:
                params[u.name]["reason"] = iv.reason
        h = self.history
        return json_safe({
            "scenario": self.scenario.meta.name,
            "history": {"source": h.source, "unit": h.unit, "periods": len(h.periods),
                        "missing": len(h.missing), "missing_summary": h.missing_summary(),
                        "fitted_periods": int(self.mask[~h.periods.isin(h.missing)].sum())},
            "parameters": params,
            "fit": {"method": f.method, "engine": f.engine, "loss": self.loss.name, "value": f.loss,
                    "start_value": f.loss_start, "evaluations": f.evaluations, "seconds": round(f.seconds, 3),
                    "targets": self.fit_table(), "message": f.message},
            "backtest": self.backtest,
            "sample": None if self.sample is None else {
                "method": self.sample.method, "draws": len(self.sample.draws), "jacobian": self.sample.jacobian,
                "unidentified": self.sample.unidentified,
                "sd": dict(zip(self.sample.parameters, map(float, self.sample.draws.std(axis=0, ddof=1))))},
            "warnings": self.warnings,
            "seconds": round(self.seconds, 3),
        })


def _num(x):
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)

def _by_sku(h: History) -> History:
    """A channel-level history summed per (period, SKU): counts and money add up; the plan
    (price, discount, promo) is averaged."""
    f = h.frame
    plan = [c for c in f.columns if c in ("price", "discount", "promo")]
    sums = f.drop(columns=plan).groupby(level=["period", "sku"]).sum(min_count=1)
    if plan:
        sums = sums.join(f[plan].groupby(level=["period", "sku"]).mean())
    return history_from_frame(sums, h.unit, h.source)


def calibrate(
    scenario, history=None, *, columns: dict[str, str] | None = None, holdout=None,
    method: str | None = None, engine: str | None = None, trials: int | None = None,
    replications: int | None = None, seed: int | None = None, strict: bool = False,
    start: dict[str, float] | None = None, intervals: bool = True, band_replications: int = 20,
    sample: int = 1000, progress: Callable[[int, int, str], None] | None = None, log: Callable[[str], None] | None = None,
) -> CalibrationResult:
    """Fit `scenario`'s `calibrate.parameters` to `history` (module docstring).

    `scenario`: a Scenario or a YAML path. `history`: a History, a file, or None for
    `calibrate.history.file`. `columns` overrides the block's column map (`--map`).
    `holdout`: a fraction or a date — fit on the earlier periods, backtest on the rest.
    `method`, `engine`, `trials`, `replications`, `seed` override the block. `start`: starting
    values by parameter name (default: the scenario's values). `band_replications`: fast-engine
    replications of the fitted scenario for the simulated band of the plots (0: none).
    `sample`: draws of the fitted parameters' joint uncertainty (`calibration.sample`; 0: none).
    """
    from simulator.scenario import load_scenario
    from simulator.scenario.schema import Scenario

    t0 = time.perf_counter()
    say = log or (lambda text: None)
    source = None
    if not isinstance(scenario, Scenario):
        source = Path(scenario)
        scenario = load_scenario(source)
    where = str(source) if source else "<scenario>"
    cal = scenario.calibrate
    if cal is None:
        raise CalibrationError([Issue(where, None, "calibrate", "no calibrate: block; declare the unknowns "
                                      "under calibrate.parameters (docs/calibration.md)")])
    spec = cal.history.with_columns(columns) if columns else cal.history
    history_file = None
    if not isinstance(history, History):
        base_dir = source.parent if source else Path(".")
        history_file = Path(history) if history is not None else (base_dir / spec.file if spec.file else None)
        history = load_history(history, spec, list(scenario.skus), list(scenario.channels), strict,
                               timezone=scenario.meta.timezone, base_dir=base_dir, spec_file=where)
    warnings: list[str] = list(history.warnings)
    if "channel" in history.frame.index.names:
        history = _by_sku(history)
        warnings.append("the history has channel rows: they are summed per period and SKU")
    if len(history.missing):
        warnings.append(history.missing_summary())
    elif len(history.gaps):
        warnings.append(f"{len(history.gaps)} SKU gap(s) (no row for a SKU in a period others have): left out of fits")

    targets = dict(cal.targets)
    lacking = [t for t in targets if t not in history.frame.columns]
    if lacking:
        have = ", ".join(history.targets) or "none"
        raise CalibrationError([Issue(where, None, f"calibrate.targets.{t}", (
            f"the history has no {t!r} column (its targets: {have}); map it with calibrate.history.columns "
            f"{{{t}: <column>}} (--map {t}=<column>) or drop the target")) for t in lacking])
    if history.frame[[t for t in targets]].isna().all().any():
        empty = [t for t in targets if history.frame[t].isna().all()]
        raise CalibrationError([Issue(where, None, f"calibrate.targets.{t}", f"the history's {t!r} column is empty")
                                for t in empty])

    unknowns = resolve(scenario)
    starts = {u.name: u.start for u in unknowns}
    for name, v in (start or {}).items():
        if name not in starts:
            raise ValueError(f"start: unknown parameter {name!r}; parameters are {', '.join(starts)}")
        u = next(u for u in unknowns if u.name == name)
        starts[name] = min(max(float(v), u.low), u.high)

    replay = Replay(scenario, history)
    for sid, n in replay.above_list.items():
        warnings.append(f"SKU {sid!r}: price above its list price in {n} period(s), read as list price (discount 0)")
    mask = cut(history, holdout) if holdout is not None else np.ones(len(history.periods), dtype=bool)
    obs = observed(history, replay.skus, targets)
    list_price = np.array([scenario.skus[s].price for s in replay.skus])
    disc = np.array([[replay.discounts[s][f"p{i + 1:04d}"] for s in replay.skus] for i in range(replay.n)])
    log_price = np.log(list_price[None, :] * (1 - disc))
    promo = np.array([[s in replay.promos[i] for s in replay.skus] for i in range(replay.n)])
    loss = LOSSES[cal.loss](obs, targets, mask, log_price=log_price, promo=promo)
    for t in targets:
        if not loss.cells(t).any():
            raise CalibrationError([Issue(where, None, f"calibrate.targets.{t}", f"no recorded {t!r} value in the fitted periods")])

    method = method or cal.method
    engine = engine or cal.engine or ("expected" if method == "least_squares" else "fast")
    reps = 1 if engine == "expected" else (replications or cal.replications)
    seed = seed if seed is not None else (cal.seed if cal.seed is not None else scenario.meta.seed)
    model = SimModel(replay, unknowns, plain_data(scenario), list(targets), engine, reps, seed)
    x0 = [starts[u.name] for u in unknowns]
    say(f"calibrating {len(unknowns)} parameter(s) on {int(mask[~history.periods.isin(history.missing)].sum())} "
        f"{history.unit}s with {method} on the {engine} engine" + (f" ({reps} replications)" if engine == "fast" else ""))
    if method == "least_squares":
        fit = fit_least_squares(model, loss, x0, progress=progress)
    elif method in ("tpe", "cmaes"):
        fit = fit_optuna(model, loss, x0, method=method, trials=trials or cal.trials, seed=seed, progress=progress)
    else:
        raise ValueError(f"unknown method {method!r}; expected least_squares, tpe or cmaes")
    say(f"fit: loss {fit.loss_start:.4g} → {fit.loss:.4g} in {fit.evaluations} runs ({fit.seconds:.1f} s)")

    if not intervals:
        ivs = {u.name: Interval(math.nan, math.nan, True) for u in unknowns}
    elif method == "least_squares":
        ivs = profile_intervals(model, loss, fit, progress=progress)
    else:
        ivs = trial_intervals(model, loss, fit)
    ivs = with_requirements(ivs, unknowns, targets)
    values = {u.name: v for u, v in zip(unknowns, fit.values)}
    for name, iv in ivs.items():
        if not iv.identified:
            warnings.append(f"{name} is not identified: {iv.reason}")

    data = scenario.model_dump(mode="python")
    fitted = model.data(fit.values)
    for key in ("channels", "skus", "calendar", "segments", "meta"):
        data[key] = fitted[key]
    calibrated = Scenario.model_validate(data)

    sim = model(fit.values)
    band = None
    if engine == "fast":
        band = sim
    elif band_replications:
        band = model(fit.values, engine="fast", reps=band_replications)

    bt = None
    if holdout is not None:
        sku_targets = [t for t in targets if t not in STORE_LEVEL]
        target = "units" if "units" in targets else (sku_targets[0] if sku_targets else None)
        if target is None:
            warnings.append("no SKU-level target to backtest (the baselines forecast per SKU)")
        else:
            bt = run_backtest(history, holdout, sim.mean(target), replay.skus, target)
    result = CalibrationResult(
        scenario=calibrated, source=source, history=history, history_file=history_file, unknowns=unknowns,
        start=starts, values=values, intervals=ivs, fit=fit, loss=loss, replay=replay, mask=mask, obs=obs,
        sim=sim, band=band, backtest=bt, warnings=warnings, columns=dict(spec.columns),
    )
    if sample:
        result.sample = fit_sample(result, model, draws=sample, seed=seed)
        loose = [n for n in result.sample.unidentified if ivs[n].identified]   # the others are warned above
        if loose:
            warnings.append("the fit sample draws " + ", ".join(loose) + " across a flat direction of the loss "
                            "(fit_sample.json: unidentified): the history pins down a combination, not each")
    result.seconds = time.perf_counter() - t0
    return result


__all__ = ["CalibrationError", "CalibrationResult", "HistoryError", "calibrate"]

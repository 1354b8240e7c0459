"""Naive baselines and forecast metrics for backtests on held-out periods.

A calibrated model earns trust by beating simple forecasts on periods it was not fitted
on. `split_holdout` cuts a history into training and held-out periods; each baseline
predicts the held-out periods from the training ones only:

- `last_value` — the series' last training value, held flat;
- `seasonal_naive` — the value one season earlier (52 weeks, 7 days or 24 hours), stepping
  back whole seasons until a training period with a value is found (never a held-out
  actual, never a missing period); with none, the last value (recorded as a fallback);
- `loglog_regression` — per series, OLS of log(target) on log(price) and the promotion flag
  (plus an intercept) on the training periods, applied to the held-out periods' known
  prices and flags (a planner knows the plan).

Every baseline has the signature `(train, test_periods, known_plan, *, target) -> Forecast`
and predicts every series (SKU, or SKU × channel) of `train` in every one of `test_periods`.
`wape` and `mape` score a forecast against actuals; `backtest_baselines` does it all.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from calibration.history import History, history_from_frame
from simulator.scenario.errors import InputError

# ------------------------------------------------------------------ metrics


def _aligned(actual, predicted) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (a, p) with a known; a Series pair is aligned on the actual's index."""
    if isinstance(actual, pd.Series) and isinstance(predicted, pd.Series):
        predicted = predicted.reindex(actual.index)
    a = np.asarray(actual, dtype=float).ravel()
    p = np.asarray(predicted, dtype=float).ravel()
    if a.shape != p.shape:
        raise ValueError(f"actual and predicted differ in length ({a.size} vs {p.size})")
    known = ~np.isnan(a)
    a, p = a[known], p[known]
    if np.isnan(p).any():
        raise ValueError(f"no prediction for {int(np.isnan(p).sum())} of {a.size} actual values")
    return a, p


def wape(actual, predicted) -> float:
    """Weighted absolute percentage error Σ|a − p| / Σ|a| (a fraction: 0.25 is 25 %).

    Cells with no actual (NaN) are left out; a missing prediction for a known actual is a
    ValueError. NaN when Σ|a| = 0 (undefined) or nothing is left.
    """
    a, p = _aligned(actual, predicted)
    scale = np.abs(a).sum()
    return float(np.abs(a - p).sum() / scale) if scale > 0 else math.nan


def mape(actual, predicted) -> float:
    """Mean absolute percentage error: the mean of |a − p| / |a| over the cells with a ≠ 0
    (a fraction). Cells with a = 0 are left out (their error is undefined); NaN when no cell
    is left. Unlike `wape`, a small series weighs as much as a big one."""
    a, p = _aligned(actual, predicted)
    nz = a != 0
    return float(np.mean(np.abs(a[nz] - p[nz]) / np.abs(a[nz]))) if nz.any() else math.nan


# ----------------------------------------------------------------- forecasts
@dataclass(frozen=True, eq=False)  # holds DataFrames: compare their parts
class Forecast:
    """Predictions of `target` by one method.

    `values`: indexed (`period`, `sku`[, `channel`]) like a history frame, one value per
    test period × series of the training history (NaN only for a series with no training
    value at all). `fallbacks`: the cells predicted by `last_value` instead of the method
    (seasonal_naive with no training period whole seasons back; loglog_regression without a
    fit or without a known price/flag). `coefficients`: loglog_regression's fit per series.
    """

    method: str
    target: str
    values: pd.Series
    fallbacks: pd.MultiIndex
    coefficients: pd.DataFrame | None = None


def _train_history(train: History | pd.DataFrame, unit: str | None) -> History:
    if isinstance(train, History):
        return train
    if unit is None:
        raise ValueError("a training frame needs its period unit (unit='week', 'day' or 'hour')")
    return history_from_frame(train, unit)


def _cells(h: History, test_periods: Sequence) -> pd.MultiIndex:
    periods = pd.DatetimeIndex(list(test_periods) if not isinstance(test_periods, pd.Index) else test_periods)
    series = h.series_keys()
    tuples = [(t, *(s if isinstance(s, tuple) else (s,))) for t in periods for s in series]
    return pd.MultiIndex.from_tuples(tuples, names=h.frame.index.names)


def _series_of(cell: tuple):
    """The series key of a (period, sku[, channel]) cell, as series_keys() has it."""
    return cell[1] if len(cell) == 2 else cell[1:]


def _last_values(h: History, target: str) -> dict:
    known = h.frame[target].dropna()
    if known.empty:
        return {}
    last = known.groupby(level=h.keys, sort=False).tail(1)
    return {_series_of(k): v for k, v in last.items()}


def _empty_cells(names) -> pd.MultiIndex:
    return pd.MultiIndex.from_arrays([[]] * len(names), names=names)


def _need_target(h: History, target: str) -> None:
    if target not in h.frame.columns:
        raise ValueError(f"the history has no {target!r} column (it has {', '.join(h.frame.columns)})")


def last_value(
    train: History | pd.DataFrame, test_periods: Sequence, known_plan: pd.DataFrame | None = None,
    *, target: str = "units", unit: str | None = None,
) -> Forecast:
    """Each series' value in its last training period with a value, held flat.

    `known_plan` is accepted for a common signature and not used. A training frame (not a
    History) needs `unit`."""
    h = _train_history(train, unit)
    _need_target(h, target)
    last = _last_values(h, target)
    cells = _cells(h, test_periods)
    values = pd.Series([last.get(_series_of(c), np.nan) for c in cells], index=cells, name=target, dtype=float)
    return Forecast("last_value", target, values, _empty_cells(cells.names))


def seasonal_naive(
    train: History | pd.DataFrame, test_periods: Sequence, known_plan: pd.DataFrame | None = None,
    *, target: str = "units", unit: str | None = None,
) -> Forecast:
    """The value one season before each test period — 52 weeks, 7 days or 24 hours by the
    period unit — stepping back whole seasons until a training period with a value for that
    series is found. Only `train` is searched, so a held-out actual is never used, nor a
    missing period or a gap. With none, the series' last value (a recorded fallback)."""
    h = _train_history(train, unit)
    _need_target(h, target)
    known = h.frame[target].dropna()
    pos = h.grid.positions(known.index.get_level_values("period"))
    by_series: dict = {}
    for (cell, value), p in zip(known.items(), pos):
        by_series.setdefault(_series_of(cell), {})[int(p)] = value
    last = _last_values(h, target)
    season = h.grid.season
    cells = _cells(h, test_periods)
    test_pos = h.grid.positions(cells.get_level_values("period")) if len(cells) else np.array([], int)
    values = np.full(len(cells), np.nan)
    fallback = []
    for j, (cell, p) in enumerate(zip(cells, test_pos)):
        series = _series_of(cell)
        seen = by_series.get(series, {})
        earliest = min(seen) if seen else p
        q = int(p) - season
        while q >= earliest and q not in seen:
            q -= season
        if q in seen:
            values[j] = seen[q]
        else:
            values[j] = last.get(series, np.nan)
            fallback.append(cell)
    fallbacks = pd.MultiIndex.from_tuples(fallback, names=cells.names) if fallback else _empty_cells(cells.names)
    return Forecast("seasonal_naive", target, pd.Series(values, index=cells, name=target), fallbacks)


def loglog_regression(
    train: History | pd.DataFrame, test_periods: Sequence, known_plan: pd.DataFrame | None = None,
    *, target: str = "units", unit: str | None = None, smearing: bool = False,
) -> Forecast:
    """Per series, OLS of log(target) on log(price) and promo (plus an intercept) on the
    training periods with target > 0, predicting exp(fit) at the test periods' known price
    and promo flag (`known_plan`, indexed like a history frame, e.g. `test.plan()`).

    exp(fit) estimates the conditional *median* (log errors are roughly symmetric), which is
    what an absolute-error score such as WAPE rewards; `smearing=True` multiplies by Duan's
    smearing factor mean(exp(residual)) to estimate the mean instead. The factor is reported
    either way.

    A regressor that does not vary in a series' training rows (a brand never on promotion)
    is left out of that series' fit (its coefficient is NaN, its effect 0). A series with
    fewer usable rows than coefficients + 1, or a test cell without a known price (or flag,
    when the fit uses it), gets the last value, recorded as a fallback.

    `coefficients` (one row per series): `intercept`, `elasticity` (the log-price slope),
    `promo_coef` (the log-lift of a promotion), `promo_lift` (exp(promo_coef) − 1, e.g. 0.25
    for +25 %), `n` (rows fitted), `r2`, `smearing`. Elasticity and lift are a sensible
    starting point for calibrating `skus.<id>.elasticity`.
    """
    h = _train_history(train, unit)
    _need_target(h, target)
    if "price" not in h.frame.columns:
        raise ValueError("loglog_regression needs a price column in the training history")
    last = _last_values(h, target)
    coefs: dict = {}
    frame = h.frame
    has_promo = "promo" in frame.columns
    for series, g in frame.groupby(level=h.keys, sort=True):
        series = series if not (isinstance(series, tuple) and len(series) == 1) else series[0]
        y, price = g[target].to_numpy(float), g["price"].to_numpy(float)
        promo = g["promo"].to_numpy(float) if has_promo else np.zeros(len(g))
        use = (y > 0) & (price > 0) & np.isfinite(y) & np.isfinite(price) & np.isfinite(promo)
        coefs[series] = _fit(np.log(y[use]), np.log(price[use]), promo[use])

    cells = _cells(h, test_periods)
    plan = known_plan.reindex(cells) if known_plan is not None else pd.DataFrame(index=cells)
    price = plan["price"].to_numpy(float) if "price" in plan else np.full(len(cells), np.nan)
    promo = plan["promo"].to_numpy(float) if "promo" in plan else np.full(len(cells), np.nan)
    values = np.full(len(cells), np.nan)
    fallback = []
    for j, cell in enumerate(cells):
        series = _series_of(cell)
        c = coefs.get(series)
        uses_price = c is not None and not math.isnan(c["elasticity"])
        uses_promo = c is not None and not math.isnan(c["promo_coef"])
        if (c is None or c["n"] == 0 or (uses_price and not price[j] > 0)
                or (uses_promo and math.isnan(promo[j]))):
            values[j] = last.get(series, np.nan)
            fallback.append(cell)
            continue
        z = c["intercept"]
        if uses_price:
            z += c["elasticity"] * math.log(price[j])
        if uses_promo:
            z += c["promo_coef"] * promo[j]
        values[j] = math.exp(z) * (c["smearing"] if smearing else 1.0)
    table = pd.DataFrame.from_dict(coefs, orient="index")
    table.index.names = h.keys
    fallbacks = pd.MultiIndex.from_tuples(fallback, names=cells.names) if fallback else _empty_cells(cells.names)
    name = "loglog_regression"
    return Forecast(name, target, pd.Series(values, index=cells, name=target), fallbacks, table)


def _fit(log_y: np.ndarray, log_p: np.ndarray, promo: np.ndarray) -> dict:
    """OLS of log_y on [1, log_p, promo], leaving out a regressor that does not vary."""
    n = log_y.size
    names = ["intercept"]
    columns = [np.ones(n)]
    if n and np.ptp(log_p) > 0:
        names.append("elasticity")
        columns.append(log_p)
    if n and np.ptp(promo) > 0:
        names.append("promo_coef")
        columns.append(promo)
    out = {"intercept": math.nan, "elasticity": math.nan, "promo_coef": math.nan,
           "promo_lift": math.nan, "n": 0, "r2": math.nan, "smearing": math.nan}
    if n < len(names) + 1:
        return out
    x = np.column_stack(columns)
    beta, *_ = np.linalg.lstsq(x, log_y, rcond=None)
    resid = log_y - x @ beta
    out.update(dict(zip(names, (float(b) for b in beta))))
    if not math.isnan(out["promo_coef"]):
        out["promo_lift"] = math.expm1(out["promo_coef"])
    ss = float(((log_y - log_y.mean()) ** 2).sum())
    out["n"] = int(n)
    out["r2"] = 1 - float((resid**2).sum()) / ss if ss > 0 else math.nan
    out["smearing"] = float(np.exp(resid).mean())
    return out


BASELINES: dict[str, Callable[..., Forecast]] = {
    "last_value": last_value,
    "seasonal_naive": seasonal_naive,
    "loglog_regression": loglog_regression,
}
"""Every baseline by the name a backtest report gives it."""


# ------------------------------------------------------------------ holdout
class HoldoutError(InputError):
    """A holdout that cannot split the history: not a fraction or a date, or leaving no
    period with data on one side."""


def parse_holdout(text: str) -> float | pd.Timestamp:
    """The CLI's `--holdout`: a fraction in (0, 1) (`0.2`) or a date (`1996-01-01`)."""
    try:
        value = float(text)
    except ValueError:
        try:
            t = pd.Timestamp(text)
            if pd.isna(t):
                raise ValueError(text)
            return t
        except (ValueError, TypeError):
            raise HoldoutError(f"--holdout: expected a fraction such as 0.2 or a date such as 1996-01-01, got {text!r}") from None
    if not 0 < value < 1:
        raise HoldoutError(f"--holdout: a fraction must lie strictly between 0 and 1, got {text}")
    return value


def split_holdout(history: History, holdout: float | str | dt.date | pd.Timestamp) -> tuple[History, History]:
    """(train, test): the earlier periods and the held-out later ones.

    `holdout` a fraction in (0, 1): the last round(fraction × n) of the n periods *with data*
    (missing periods are not counted; at least one is held out). A date (text, date or
    time; naive means the history's time zone): the period that contains it is the first
    held-out one. Both sides must keep at least one period with data.
    """
    observed = history.observed
    if isinstance(holdout, float | int) and not isinstance(holdout, bool):
        if not 0 < holdout < 1:
            raise HoldoutError(f"holdout: a fraction must lie strictly between 0 and 1, got {holdout}")
        n_test = max(1, math.floor(holdout * len(observed) + 0.5))
        if n_test >= len(observed):
            raise HoldoutError(f"holdout {holdout} leaves no training period ({len(observed)} periods with data, "
                               f"{n_test} held out); hold out a smaller fraction")
        cut = observed[len(observed) - n_test]
    else:
        t = pd.Timestamp(holdout)
        t = t.tz_localize(history.timezone) if t.tzinfo is None else t.tz_convert(history.timezone)
        cut = history.grid.at([math.floor(history.grid.offsets(pd.DatetimeIndex([t]))[0] + 1e-9)])[0]
        if not (observed < cut).any():
            raise HoldoutError(f"holdout {t:%Y-%m-%d}: no period with data before it to train on (the history "
                               f"runs {observed[0]:%Y-%m-%d} – {observed[-1]:%Y-%m-%d})")
        if not (observed >= cut).any():
            raise HoldoutError(f"holdout {t:%Y-%m-%d}: no period with data from it on to hold out (the history "
                               f"runs {observed[0]:%Y-%m-%d} – {observed[-1]:%Y-%m-%d})")
    return history.between(None, cut), history.between(cut, None)


# ----------------------------------------------------------------- backtest
@dataclass(frozen=True, eq=False)  # holds DataFrames: compare their parts
class Backtest:
    """Baselines scored on held-out periods. `table`: one row per method with `wape`, `mape`
    (fractions), `cells` scored, `cells_mape` (those with a ≠ 0) and `fallbacks`."""

    train: History
    test: History
    target: str
    forecasts: dict[str, Forecast] = field(default_factory=dict)
    table: pd.DataFrame = field(default_factory=pd.DataFrame)


def evaluate(forecast: Forecast, test: History) -> dict:
    """WAPE and MAPE of `forecast` against the held-out actuals it can speak for (cells of
    series that had a training value; the others have no prediction from any baseline)."""
    actual = test.frame[forecast.target].dropna()
    predicted = forecast.values.reindex(actual.index)
    scored = predicted.notna().to_numpy()
    a, p = actual[scored], predicted[scored]
    return {"wape": wape(a, p), "mape": mape(a, p), "cells": int(scored.sum()),
            "cells_mape": int((a != 0).sum()), "fallbacks": len(forecast.fallbacks)}


def backtest_baselines(history: History, holdout, *, target: str = "units",
                       methods: Sequence[str] = tuple(BASELINES)) -> Backtest:
    """Split `history` at `holdout`, predict the held-out periods with data with every
    baseline in `methods` (loglog_regression with the held-out periods' known plan) and score
    them."""
    train, test = split_holdout(history, holdout)
    forecasts = {m: BASELINES[m](train, test.observed, test.plan(), target=target) for m in methods}
    table = pd.DataFrame.from_dict({m: evaluate(f, test) for m, f in forecasts.items()}, orient="index")
    table.index.name = "method"
    return Backtest(train, test, target, forecasts, table)

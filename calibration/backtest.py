"""Backtest: fit on the earlier periods, predict the held-out ones, score against the baselines.

`--holdout` (a fraction or a date) cuts the history with `baselines.split_holdout`, so the
model and the three baselines (`last_value`, `seasonal_naive`, `loglog_regression`) are scored
on exactly the same held-out cells (`baselines.evaluate`: cells of series with a training
value). The fitted scenario is replayed over the whole history: the held-out periods' known
plan (prices, discounts, promotion flags — what a planner sets in advance) drives the
prediction, as it drives the regression baseline; their outcomes are never seen by the fit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from calibration.baselines import Forecast, backtest_baselines, evaluate, split_holdout
from calibration.history import History


def model_forecast(history: History, test: History, predicted: np.ndarray, skus: list[str],
                   target: str) -> Forecast:
    """The model's prediction (`predicted`: (P, K) over every period of `history`, SKUs in
    `skus` order) of `target` on every held-out period with data × series of the history."""
    pos = {t: i for i, t in enumerate(history.periods)}
    series = [s for s in history.series_keys() if s in skus]
    rows, vals = [], []
    for t in test.observed:
        for s in series:
            rows.append((t, s))
            vals.append(float(predicted[pos[t], skus.index(s)]))
    index = pd.MultiIndex.from_tuples(rows, names=["period", "sku"])
    return Forecast("model", target, pd.Series(vals, index=index, name=target), pd.MultiIndex.from_tuples([], names=["period", "sku"]))


def run_backtest(history: History, holdout, predicted: np.ndarray, skus: list[str], target: str) -> dict:
    """WAPE and MAPE of the model and of every baseline on the held-out periods."""
    train, test = split_holdout(history, holdout)
    bt = backtest_baselines(history, holdout, target=target)
    model = evaluate(model_forecast(history, test, predicted, skus, target), test)
    return {
        "target": target,
        "holdout": str(holdout),
        "train_periods": len(train.observed),
        "test_periods": len(test.observed),
        "first_test_period": history.label(test.observed[0]),
        "model": {"wape": model["wape"], "mape": model["mape"], "cells": model["cells"]},
        "baselines": {m: {"wape": float(r["wape"]), "mape": float(r["mape"]), "cells": int(r["cells"])}
                      for m, r in bt.table.iterrows()},
    }


def cut(history: History, holdout) -> np.ndarray:
    """(P,) True for the training periods of `history` under `holdout`."""
    train, _ = split_holdout(history, holdout)
    last = train.periods[-1]
    return np.asarray(history.periods <= last)

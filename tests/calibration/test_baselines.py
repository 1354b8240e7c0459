"""Baselines and metrics on small synthetic series with answers computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from calibration.baselines import (
    BASELINES,
    backtest_baselines,
    last_value,
    loglog_regression,
    mape,
    parse_holdout,
    seasonal_naive,
    split_holdout,
    wape,
)
from calibration.history import History, history_from_frame

TZ = "Asia/Shanghai"
DAY0 = pd.Timestamp("2026-01-01", tz=TZ)
STEP = {"hour": pd.Timedelta(hours=1), "day": pd.Timedelta(days=1), "week": pd.Timedelta(days=7)}


def history(rows: list[tuple], unit: str = "day", columns=("units",)) -> History:
    """rows: (period number, sku, *values) — period n starts n units after DAY0."""
    frame = pd.DataFrame(
        [(DAY0 + n * STEP[unit], sku, *vals) for n, sku, *vals in rows],
        columns=["period", "sku", *columns],
    ).set_index(["period", "sku"])
    return history_from_frame(frame, unit)


def day(n: int) -> pd.Timestamp:
    return DAY0 + pd.Timedelta(days=n)


def at(forecast, n: int, sku: str, unit: str = "day") -> float:
    return float(forecast.values.loc[(DAY0 + n * STEP[unit], sku)])


# ---------------------------------------------------------------- last_value
def test_last_value_holds_the_last_training_value_flat():
    h = history([(0, "a", 5), (1, "a", 7), (2, "a", 9),          # day 3 missing
                 (0, "b", 2), (1, "b", 4), (2, "b", np.nan)])    # b's last cell is empty
    f = last_value(h, [day(4), day(5)])
    assert f.method == "last_value" and f.target == "units"
    assert [at(f, 4, "a"), at(f, 5, "a"), at(f, 4, "b"), at(f, 5, "b")] == [9, 9, 4, 4]
    assert len(f.fallbacks) == 0


def test_a_training_frame_needs_its_unit():
    h = history([(0, "a", 5), (1, "a", 7)])
    assert at(last_value(h.frame, [day(3)], unit="day"), 3, "a") == 7
    with pytest.raises(ValueError, match="needs its period unit"):
        last_value(h.frame, [day(3)])
    with pytest.raises(ValueError, match="no 'orders' column"):
        last_value(h, [day(3)], target="orders")


# ------------------------------------------------------------ seasonal_naive
def _seasonal_case() -> tuple[History, History]:
    """Daily, season 7. SKU a: days 0–13 in training with value 100 + day, but no row on
    day 8 (a gap: SKU c has one); day 9 is missing for everyone. SKU b starts on day 10
    (50 + day − 10). Days 14–22 are held out with values ≥ 1000 that no forecast may ever
    return."""
    rows = [(d, "a", 100 + d) for d in range(14) if d not in (8, 9)]
    rows += [(d, "b", 50 + d - 10) for d in range(10, 14)]
    rows += [(d, "c", 1) for d in range(14) if d != 9]
    rows += [(d, s, 1000 + d) for d in range(14, 23) for s in ("a", "b", "c")]
    train, test = split_holdout(history(rows), day(14))
    assert train.periods[-1] == day(13) and test.periods[0] == day(14)
    assert list(train.missing) == [day(9)] and (day(8), "a") in train.gaps
    return train, test


def test_seasonal_naive_steps_back_whole_seasons_to_a_training_value():
    train, test = _seasonal_case()
    f = seasonal_naive(train, test.observed)
    got_a = {d: at(f, d, "a") for d in range(14, 23)}
    assert got_a == {
        14: 107,   # day 7
        15: 101,   # day 8 is a gap for a → day 1
        16: 102,   # day 9 is missing → day 2
        17: 110, 18: 111, 19: 112, 20: 113,
        21: 107,   # day 14 is held out → day 7 (never the held-out 1014)
        22: 101,   # day 15 held out, day 8 a gap → day 1: two seasons over both
    }
    assert f.values.max() < 1000


def test_seasonal_naive_falls_back_to_the_last_value_and_records_it():
    train, test = _seasonal_case()
    f = seasonal_naive(train, test.observed)
    got_b = {d: at(f, d, "b") for d in range(14, 23)}
    # b has training days 10–13 only: days 14–16 and 21–22 find none whole weeks back
    assert got_b == {14: 53, 15: 53, 16: 53, 17: 50, 18: 51, 19: 52, 20: 53, 21: 53, 22: 53}
    assert sorted((t, s) for t, s in f.fallbacks) == [(day(d), "b") for d in (14, 15, 16, 21, 22)]


@pytest.mark.parametrize("unit, season", [("week", 52), ("day", 7), ("hour", 24)])
def test_the_season_follows_the_period_unit(unit, season):
    n = season + 5
    h = history([(k, "a", k) for k in range(n)], unit)
    assert h.grid.season == season
    t = DAY0 + n * STEP[unit]
    assert seasonal_naive(h, [t]).values.tolist() == [n - season]


# --------------------------------------------------------- loglog_regression
def _exact(rows_promo: list[tuple[float, int]], a=5.0, e=-3.0, b=0.4) -> list[tuple]:
    return [(k, "a", math.exp(a) * p**e * math.exp(b * q), p, q) for k, (p, q) in enumerate(rows_promo)]


COLS = ("units", "price", "promo")


def test_loglog_regression_recovers_an_exact_law():
    rows = _exact([(1.0, 0), (1.2, 0), (0.8, 1), (1.1, 1), (0.9, 0), (1.3, 0)])
    h = history(rows, columns=COLS)
    plan = pd.DataFrame({"price": [0.7, 1.0], "promo": [1, 0]},
                        index=pd.MultiIndex.from_tuples([(day(6), "a"), (day(7), "a")], names=["period", "sku"]))
    f = loglog_regression(h, [day(6), day(7)], plan)
    c = f.coefficients.loc["a"]
    assert c["intercept"] == pytest.approx(5.0) and c["elasticity"] == pytest.approx(-3.0)
    assert c["promo_coef"] == pytest.approx(0.4) and c["promo_lift"] == pytest.approx(math.exp(0.4) - 1)
    assert c["n"] == 6 and c["r2"] == pytest.approx(1.0) and c["smearing"] == pytest.approx(1.0)
    assert at(f, 6, "a") == pytest.approx(math.exp(5) * 0.7**-3 * math.exp(0.4))
    assert at(f, 7, "a") == pytest.approx(math.exp(5))
    assert len(f.fallbacks) == 0


def test_loglog_regression_leaves_out_a_flag_that_never_varies_and_zero_units():
    rows = _exact([(1.0, 0), (1.2, 0), (0.8, 0), (1.1, 0)]) + [(4, "a", 0.0, 2.0, 0)]
    h = history(rows, columns=COLS)
    plan = pd.DataFrame({"price": [0.5], "promo": [1]},
                        index=pd.MultiIndex.from_tuples([(day(5), "a")], names=["period", "sku"]))
    f = loglog_regression(h, [day(5)], plan)
    c = f.coefficients.loc["a"]
    assert math.isnan(c["promo_coef"]) and math.isnan(c["promo_lift"]) and c["n"] == 4
    assert at(f, 5, "a") == pytest.approx(math.exp(5) * 0.5**-3)  # the flag has no effect


def test_loglog_regression_median_and_smearing_by_hand():
    """Price and flag constant: the fit is the mean of log units. Units 10 and 40 → exp(fit)
    = 20 (the geometric mean, a median forecast); residuals ±log 2 → Duan's factor
    (2 + 1/2) / 2 = 1.25, and the smeared forecast is 25, the arithmetic mean."""
    h = history([(0, "a", 10.0, 1.0, 0), (1, "a", 40.0, 1.0, 0)], columns=COLS)
    plan = pd.DataFrame({"price": [1.0], "promo": [0]},
                        index=pd.MultiIndex.from_tuples([(day(2), "a")], names=["period", "sku"]))
    plain = loglog_regression(h, [day(2)], plan)
    smeared = loglog_regression(h, [day(2)], plan, smearing=True)
    assert plain.coefficients.loc["a", "smearing"] == pytest.approx(1.25)
    assert math.isnan(plain.coefficients.loc["a", "elasticity"])
    assert at(plain, 2, "a") == pytest.approx(20.0) and at(smeared, 2, "a") == pytest.approx(25.0)


def test_loglog_regression_falls_back_without_a_fit_or_a_plan():
    rows = _exact([(1.0, 0), (1.2, 1), (0.8, 0), (1.1, 1)])
    rows += [(0, "b", 3.0, 1.0, 0), (1, "b", 4.0, 1.1, 0)]  # two rows: too few for 2 coefficients + 1
    h = history(rows, columns=COLS)
    plan = pd.DataFrame({"price": [np.nan, 1.0], "promo": [0, 0]},
                        index=pd.MultiIndex.from_tuples([(day(4), "a"), (day(4), "b")], names=["period", "sku"]))
    f = loglog_regression(h, [day(4)], plan)
    assert at(f, 4, "a") == pytest.approx(rows[3][2])  # no known price: a's last value
    assert at(f, 4, "b") == 4.0                        # no fit: b's last value
    assert sorted(f.fallbacks) == [(day(4), "a"), (day(4), "b")]
    assert f.coefficients.loc["b", "n"] == 0
    with pytest.raises(ValueError, match="needs a price column"):
        loglog_regression(history([(0, "a", 1.0), (1, "a", 2.0)]), [day(2)])


def test_every_baseline_has_one_signature():
    h = history(_exact([(1.0, 0), (1.2, 1), (0.8, 0), (1.1, 1)]), columns=COLS)
    for name, method in BASELINES.items():
        f = method(h, [day(4)], h.plan(), target="units")
        assert f.method == name and len(f.values) == 1


# ------------------------------------------------------------------ metrics
def test_wape_and_mape_by_hand():
    a, p = [10, 0, 5], [8, 1, 5]
    assert wape(a, p) == pytest.approx(3 / 15)          # (2 + 1 + 0) / (10 + 0 + 5)
    assert mape(a, p) == pytest.approx((2 / 10 + 0 / 5) / 2)  # the zero actual is left out
    assert wape([3, -1], [3, 1]) == pytest.approx(2 / 4)  # absolute values of actuals
    assert wape(a, a) == 0 and mape(a, a) == 0


def test_metric_edge_cases():
    assert math.isnan(wape([0, 0], [1, 2])) and math.isnan(mape([0, 0], [1, 2]))
    assert math.isnan(wape([], [])) and math.isnan(mape([], []))
    assert wape([np.nan, 4], [100, 3]) == pytest.approx(1 / 4)  # no actual: not scored
    with pytest.raises(ValueError, match="no prediction for 1 of 2"):
        wape([1, 4], [np.nan, 3])
    with pytest.raises(ValueError, match="differ in length"):
        mape([1, 2], [1])


def test_metrics_align_series_on_the_actuals_index():
    actual = pd.Series([10.0, 20.0], index=["x", "y"])
    predicted = pd.Series([25.0, 9.0, 1e9], index=["y", "x", "z"])
    assert wape(actual, predicted) == pytest.approx(6 / 30)
    assert mape(actual, predicted) == pytest.approx((0.1 + 0.25) / 2)


# ------------------------------------------------------------------ holdout
def test_split_by_fraction_counts_periods_with_data():
    rows = [(d, "a", d) for d in range(10) if d not in (6, 7)]  # 8 days with data
    train, test = split_holdout(history(rows), 0.25)
    assert list(test.observed) == [day(8), day(9)]
    assert train.periods[-1] == day(7) and list(train.missing) == [day(6), day(7)]
    train, test = split_holdout(history(rows), 0.3)  # 2.4 → 2
    assert len(test.observed) == 2
    train, test = split_holdout(history(rows), 0.01)  # at least one
    assert list(test.observed) == [day(9)]


def test_split_by_date_holds_out_the_period_containing_it():
    h = history([(w, "a", w) for w in range(6)], unit="week")  # weeks from Thu 2026-01-01
    train, test = split_holdout(h, "2026-01-25")  # a Sunday in week 3 (Jan 22–28)
    assert test.periods[0] == DAY0 + 3 * STEP["week"]
    assert len(train.observed) == 3 and len(test.observed) == 3
    assert split_holdout(h, pd.Timestamp("2026-01-22", tz=TZ))[1].periods[0] == test.periods[0]


@pytest.mark.parametrize("holdout, fragment", [
    (0.0, "strictly between 0 and 1"), (1.0, "strictly between 0 and 1"),
    (0.99, "leaves no training period"),
    ("2025-12-01", "no period with data before it"), ("2027-01-01", "no period with data from it on"),
])
def test_split_rejects(holdout, fragment):
    with pytest.raises(ValueError, match=fragment):
        split_holdout(history([(d, "a", d) for d in range(4)]), holdout)


def test_parse_holdout():
    assert parse_holdout("0.2") == 0.2
    assert parse_holdout("1996-01-01") == pd.Timestamp("1996-01-01")
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        parse_holdout("20")
    with pytest.raises(ValueError, match="a fraction such as 0.2 or a date"):
        parse_holdout("soon")


def test_backtest_table():
    rows = [(d, "a", 10.0 + (d % 7), 1.0 + 0.01 * (d % 3), d % 2) for d in range(28)]
    b = backtest_baselines(history(rows, columns=COLS), 0.25)
    assert list(b.table.index) == ["last_value", "seasonal_naive", "loglog_regression"]
    assert list(b.table.columns) == ["wape", "mape", "cells", "cells_mape", "fallbacks"]
    assert (b.table["cells"] == 7).all()
    # a purely weekly pattern: the seasonal naive forecast is exact
    assert b.table.loc["seasonal_naive", "wape"] == 0

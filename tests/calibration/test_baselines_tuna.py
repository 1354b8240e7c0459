"""The baselines on real data: Dominick's canned tuna, 7 brands, weekly, with missing weeks.

The export is read as a planner would declare it in `calibrate.history`: `week` is the
period (Dominick's week 1 starts Thursday 1989-09-14, Chicago), `brand` the SKU (mapped to
SKU ids by `sku_map`), `on_sale` the promotion flag. An 80/20 split by weeks with data
holds out the last 68 of 338 weeks (weeks 277–398, of which 54 are missing).

Recorded figures (units, 476 held-out brand-weeks; WAPE / MAPE as fractions):

| baseline          | WAPE  | MAPE  |
|-------------------|-------|-------|
| last_value        | 0.619 | 0.385 |
| seasonal_naive    | 1.078 | 1.296 |
| loglog_regression | 0.477 | 0.360 |

The regression beats both naive forecasts on WAPE and on MAPE (checked on this data before
asserting it). Seasonal naive is the worst: canned tuna has little yearly pattern, and
sales follow price cuts and promotions, which a week 52 weeks back knows nothing about.
The figures are pinned (to 0.1 %) so that any change to a baseline shows up here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from calibration.baselines import backtest_baselines, loglog_regression
from calibration.history import load_history
from simulator.scenario.history_schema import HistorySpec
from tests.conftest import SHARED_DATA, need_outside

BRANDS = {  # bayesm's `tuna` documentation names the seven brands
    1: "starkist_6oz", 2: "chicken_of_the_sea_6oz", 3: "bumble_bee_solid_6_12oz",
    4: "bumble_bee_chunk_6_12oz", 5: "geisha_6oz", 6: "bumble_bee_large", 7: "hh_chunk_lite_6_5oz",
}
SPEC = {  # the calibrate.history block, as YAML would give it (integer sku_map keys)
    "columns": {"period": "week", "sku": "brand", "promo": "on_sale"},
    "period": {"unit": "week", "start": "1989-09-14", "index_base": 1},
    "timezone": "America/Chicago",
    "sku_map": BRANDS,
}


@pytest.fixture(scope="module")
def tuna():
    path = need_outside(SHARED_DATA / "dominicks_tuna_weekly.csv", "Dominick's tuna data")
    return load_history(path, HistorySpec.model_validate(SPEC), list(BRANDS.values()))


def test_tuna_loads_with_its_missing_weeks(tuna):
    assert len(tuna.frame) == 2366 and set(tuna.frame.columns) == {"units", "price", "promo"}
    assert tuna.ignored_columns == ("wholesale_price", "store_traffic")
    assert len(tuna.periods) == 398 and len(tuna.missing) == 60 and len(tuna.gaps) == 0
    assert str(tuna.periods[0]) == "1989-09-14 00:00:00-05:00"  # Dominick's week 1, a Thursday
    assert tuna.label(tuna.periods[-1]) == "week 398 (1997-04-24)"
    assert tuna.label(tuna.missing[0]) == "week 211 (1993-09-23)"
    assert all(t.day_name() == "Thursday" and t.hour == 0 for t in tuna.periods)
    assert "weeks 332–371 (1996-01-18 – 1996-10-17)" in tuna.missing_summary()


def test_tuna_backtest_80_20(tuna):
    b = backtest_baselines(tuna, 0.2)
    assert len(b.test.observed) == 68 and len(b.train.observed) == 270
    assert b.test.label(b.test.periods[0]) == "week 277 (1994-12-29)"
    t = b.table
    assert (t["cells"] == 476).all() and (t["fallbacks"] == 0).all()
    for other in ("last_value", "seasonal_naive"):
        assert t.loc["loglog_regression", "wape"] < t.loc[other, "wape"]
        assert t.loc["loglog_regression", "mape"] < t.loc[other, "mape"]
    recorded = pd.DataFrame(
        {"wape": [0.6189, 1.0780, 0.4772], "mape": [0.3853, 1.2960, 0.3597]},
        index=["last_value", "seasonal_naive", "loglog_regression"])
    np.testing.assert_allclose(t[["wape", "mape"]].to_numpy(float), recorded.to_numpy(), rtol=1e-3)


def test_tuna_elasticities_are_those_of_the_data(tuna):
    """Training-period fit: every brand within −6…−1; on all weeks six of seven (Bumble Bee
    Large Cans, brand 6, has R² 0.07 and an elasticity near 0). Brands 1–5 sit in the −3.5 to
    −5.5 range either way, as the data's README says (about −3 to −5)."""
    b = backtest_baselines(tuna, 0.2)
    fits = {
        "train": b.forecasts["loglog_regression"].coefficients,
        "all": loglog_regression(tuna, [], None).coefficients,
    }
    for name, c in fits.items():
        e = c["elasticity"]
        inside = e.between(-6, -1)
        assert inside.sum() >= 6, (name, e.round(2).to_dict())
        assert e[[BRANDS[k] for k in range(1, 6)]].between(-5.5, -3.5).all(), (name, e.round(2).to_dict())
    assert fits["train"]["elasticity"].between(-6, -1).all()
    # on all weeks, every brand sells more on promotion
    assert (fits["all"]["promo_lift"] > 0).all()

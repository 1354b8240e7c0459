"""Busy hours (`engine.busy`, `engine.coarse`): grouping a reporting period's busy slots must not
change the law of anything the engine books.

The same plan is played three ways on independent seeds: every busy slot split on its own (the
law the grouping must keep), grouped as the engine does, and grouped with every SKU coarse (so
every tick that matters is found by refinement after the draw). Means of totals, event ticks
and hourly shapes agree within 4.5 standard errors of their difference. The unit tests check
the placement draws against their closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from simulator.engine import fast
from simulator.engine.busy import Grouping
from simulator.engine.coarse import Coarse
from simulator.model import build_model
from simulator.scenario import Scenario
from tests.helpers import at, events_of

REPS = 40
Z = 4.5


def _plan() -> Scenario:
    """Eight hours of one-minute ticks, hundreds of buyers a minute: a hero SKU that sells out,
    one with (s, Q) reorders, one that starts empty and is restocked, two with ample stock, one
    with a flash sale that sells out and falls back to the regular price, a coupon whose pool empties, a phase boundary (a second chunk: the empty SKU is in a stock-out
    at its start)."""
    return Scenario.model_validate({
        "meta": {"name": "busy_hours", "start": at(0), "end": at(8), "tick_minutes": 1},
        "calendar": {"intraday": "flat", "phases": [{"name": "late", "start": at(4), "end": at(8)}]},
        "channels": {"organic": {"kind": "organic_search", "visits_per_hour": 240_000.0},
                     "affiliate": {"kind": "affiliate", "visits_per_hour": 60_000.0, "commission_rate": 0.1}},
        "skus": {"hero": {"price": 199.0, "unit_cost": 60.0, "base_conversion": 0.010, "stock": 5_000,
                          "units_per_order": 1.6},
                 "mask": {"price": 89.0, "unit_cost": 20.0, "base_conversion": 0.006, "stock": 6_000,
                          "reorder": {"point": 3_000, "quantity": 2_500, "lead_time_hours": 2}},
                 "cream": {"price": 259.0, "unit_cost": 80.0, "base_conversion": 0.004, "stock": 0,
                           "inbound": [{"at": at(6), "quantity": 1_000}]},
                 "serum": {"price": 399.0, "unit_cost": 120.0, "base_conversion": 0.005, "stock": 10**6},
                 "toner": {"price": 129.0, "unit_cost": 30.0, "base_conversion": 0.008, "stock": 10**6}},
        "segments": {"new": {"share": 0.6}, "member": {"share": 0.4, "conversion": 1.4}},
        "coupons": {"c": {"threshold": 150.0, "amount": 20.0, "quantity": 20_000, "claim_rate": 0.2}},
        "flash_sales": {"f": {"sku": "serum", "price": 299.0, "quantity": 1_000, "start": at(5), "end": at(7),
                              "after_sellout": "regular"}},
    })


def _first(rec, kind: str, subject: str) -> float:
    ticks = [t for t, _, s, _ in events_of(rec, kind) if s == subject]
    return float(ticks[0]) if ticks else np.nan


def _measures(rec) -> dict[str, np.ndarray]:
    sku = rec.by_sku
    out = {f"{name} {i}": np.atleast_1d(sku[name].sum(axis=0)[i]).astype(float)
           for name in ("units", "lost_units", "stockout_ticks") for i in range(5)}
    out["gmv by hour"] = rec.by_channel["gmv"].sum(axis=1)
    out["hero sold out"] = np.array([_first(rec, "sold_out", "hero")])
    out["mask reorder"] = np.array([_first(rec, "reorder", "mask")])
    out["coupon empty"] = np.array([_first(rec, "coupon_empty", "c")])
    out["coupons redeemed"] = np.array([float(rec.coupons["c"]["redeemed"])])
    out["flash sold out"] = np.array([_first(rec, "flash_sellout", "f")])
    return out


def _play(monkeypatch, mode: str, seeds) -> dict[str, np.ndarray]:
    real = fast.grouping

    def how(*args):
        g = real(*args)
        if mode == "per slot" or g is None:
            return None
        if mode == "all coarse":
            return Grouping(g.period, np.zeros_like(g.fine), g.pooled, g.left)
        return g

    monkeypatch.setattr(fast, "grouping", how)
    engine = fast.FastEngine(build_model(_plan()))
    runs = [_measures(engine.run(s)) for s in seeds]
    return {k: np.stack([r[k] for r in runs]) for k in runs[0]}


@pytest.fixture(scope="module")
def per_slot():
    with pytest.MonkeyPatch.context() as mp:
        return _play(mp, "per slot", range(REPS))


@pytest.mark.parametrize("mode", ["grouped", "all coarse"])
def test_grouping_keeps_the_law_of_every_booked_number(per_slot, monkeypatch, mode):
    got = _play(monkeypatch, mode, range(1000, 1000 + REPS))
    assert np.isfinite(per_slot["hero sold out"]).all() and np.isfinite(per_slot["mask reorder"]).all()
    assert np.isfinite(per_slot["coupon empty"]).all() and np.isfinite(per_slot["flash sold out"]).all()
    for name, ref in per_slot.items():
        a, b = ref, got[name]
        se = np.sqrt(a.var(axis=0, ddof=1) / REPS + b.var(axis=0, ddof=1) / REPS)
        gap = np.abs(a.mean(axis=0) - b.mean(axis=0))
        assert (gap <= Z * se + 1e-9).all(), (name, a.mean(axis=0), b.mean(axis=0), se)


def _group(free) -> Coarse:
    free = np.asarray(free, dtype=np.int64)
    return Coarse(np.arange(free.size, dtype=np.int64) + 100, free.copy(), np.array([0, free.size]))


def test_place_is_a_multivariate_hypergeometric_label_after_label():
    free = np.array([30, 0, 50, 20])
    counts = np.array([40, 25])                        # two labels of one group; 35 places stay free
    gen = np.random.default_rng(7)
    n = 4_000
    first = np.zeros((n, 4))
    for i in range(n):
        g = _group(free)
        lab, tick, x = g.place(np.zeros(2, dtype=np.int64), counts, gen)
        assert (g.free >= 0).all() and g.free.sum() == free.sum() - counts.sum()
        assert np.bincount(lab, weights=x, minlength=2).tolist() == counts.tolist()
        np.add.at(first[i], tick[lab == 0] - 100, x[lab == 0])
    N, K = free.sum(), counts[0]
    mean = K * free / N                                # multivariate hypergeometric of 40 over the places
    var = K * free / N * (1 - free / N) * (N - K) / (N - 1)
    se = np.sqrt(np.maximum(var, 1e-12) / n)
    assert (np.abs(first.mean(axis=0) - mean) <= Z * se + 1e-12).all()
    # its variance is the hypergeometric's, below a multinomial's (sampling without replacement)
    chi = (n - 1) * first[:, 0].var(ddof=1) / var[0]
    assert stats.chi2(n - 1).cdf(chi) > 1e-4 and stats.chi2(n - 1).sf(chi) > 1e-4


def test_split_at_shares_the_places_before_a_cut():
    free = np.array([10, 20, 30, 40])                  # ticks 100..103; cut at 102: 30 places before
    counts = np.array([60, 40])
    gen = np.random.default_rng(3)
    n = 4_000
    got = np.zeros((n, 2))
    for i in range(n):
        g = _group(free)
        got[i] = g.split_at(np.zeros(2, dtype=np.int64), counts, 102, gen)
        assert got[i].sum() == 30 and (g.free[2:] == 0).all()
    mean = counts * 30 / 100                           # a hypergeometric of 30 draws from 100 places
    var = 30 * counts / 100 * (1 - counts / 100) * (100 - 30) / 99
    assert (np.abs(got.mean(axis=0) - mean) <= Z * np.sqrt(var / n)).all()
    chi = (n - 1) * got[:, 0].var(ddof=1) / var[0]
    assert stats.chi2(n - 1).cdf(chi) > 1e-4 and stats.chi2(n - 1).sf(chi) > 1e-4

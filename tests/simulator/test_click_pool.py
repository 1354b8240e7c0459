"""Budgeted ad groups' clicks drawn only as far as a budget can use them (engine/click_pool.py).

* Clicks per tick follow the calendar shape (chi-square) and add up to each pool exactly.
* Drawn in rounds, by any of the three ways (the whole pool at once, all that is left, or
  sampled positions), every click of a pool is dealt exactly once: the classes drawn equal
  the plan's, and each tick's ranks are 0…c−1.
* A tick's first clicks are a sample without replacement from its pool, in random order:
  the classes of the first five follow the hypergeometric law, the first one is of class 0
  with the pool's share, whatever the rounds they were drawn in.
* In the engine, drawing a binding tick's prefix only changes no law: clicks, impressions and
  spend agree with drawing every click (within 3 SE of the difference), with a fraction of
  the clicks drawn.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

import simulator.engine.auctions as engine_auctions
from simulator.engine import FastEngine
from simulator.engine.click_pool import ClickPool
from simulator.model import build_model
from simulator.runner import replication_seed
from tests.simulator.test_auctions import search

Z = 3.0


def channel(groups: int = 1, slots: int = 1, own_budgets: bool = False):
    """An auction channel of `groups` ad groups and `slots` positions: one budget for the
    channel, or one per group."""
    spec = {"bid": 1.5, "auctions_per_hour": 100, "rivals": {"median": 1.0, "sigma": 0.5, "count": 2}}
    if own_budgets:
        spec = {**spec, "daily_budget": 100.0}
        sc = search({f"g{i}": dict(spec) for i in range(groups)}, ctr=[0.1] * slots)
    else:
        sc = search({f"g{i}": dict(spec) for i in range(groups)}, ctr=[0.1] * slots, daily_budget=100.0)
    return build_model(sc).auctions[0]


@pytest.fixture
def pools(monkeypatch) -> list:
    """Every ClickPool the engine makes while the test runs."""
    made = []
    real_init = ClickPool.__init__

    def keep_pool(self, *a, **kw):
        real_init(self, *a, **kw)
        made.append(self)

    monkeypatch.setattr(ClickPool, "__init__", keep_pool)
    return made


def drawn_classes(pool: ClickPool, key: int, first: int) -> np.ndarray:
    """Classes at ranks 0…first−1 of one (tick, owner) key."""
    mine = np.flatnonzero((pool.key == key) & (pool.slot < first))
    return pool.cls[mine[np.argsort(pool.slot[mine])]]


def test_clicks_per_tick_follow_the_calendar_shape():
    au = channel()
    shape = np.array([1.0, 2.0, 3.0, 4.0])
    total = np.zeros(4)
    for seed in range(300):
        pool = ClickPool(au, 0, np.array([[[1000]]]), np.array([0]), np.array([4]), shape,
                         np.random.default_rng(seed))
        assert pool.c.shape == (4, 1) and pool.c.sum() == 1000
        total += pool.c[:, 0]
    chi2 = ((total - total.sum() * shape / shape.sum()) ** 2 / (total.sum() * shape / shape.sum())).sum()
    assert stats.chi2.sf(chi2, 3) > 1e-3, (total, chi2)


@pytest.mark.parametrize("big", [False, True], ids=["small pools", "sampled positions"])
def test_every_click_is_dealt_once_whatever_the_rounds(big):
    au = channel(groups=3, slots=2, own_budgets=True)                 # owners 0, 1, 2; classes g·2 + j
    rng = np.random.default_rng(5)
    starts, widths = np.array([0, 3]), np.array([3, 2])
    clicks = rng.integers(0, 3000 if big else 8, size=(2, 3, 2))
    pool = ClickPool(au, 0, clicks, starts, widths, np.array([1.0, 3.0, 2.0, 1.0, 5.0]), rng)
    c = pool.c
    for frac in (0.01, 0.05, 0.3, 1.0):                               # each round asks a little more
        pool.grow(0, np.minimum(c, np.ceil(c * frac).astype(np.int64)), au, rng)
    assert np.array_equal(pool.k, c) and not pool.left.any()
    cell = pool.cell[pool.key // pool.O]
    for h in range(2):
        got = np.bincount(pool.cls[cell == h], minlength=6).reshape(3, 2)
        assert np.array_equal(got, clicks[h])
    order = np.lexsort((pool.slot, pool.key))
    key, slot = pool.key[order], pool.slot[order]
    starts_k = np.r_[0, np.flatnonzero(np.diff(key)) + 1]
    assert np.array_equal(slot, np.arange(key.size) - np.repeat(starts_k, np.diff(np.r_[starts_k, key.size])))
    assert np.array_equal(np.bincount(key, minlength=c.size), c.ravel())
    assert np.allclose(np.bincount(pool.key, weights=pool.price, minlength=c.size), pool.sums.ravel())
    assert np.all(pool.cls // 2 == pool.key % pool.O)                 # group g belongs to owner g


@pytest.mark.parametrize("size, rounds", [(10, (5,)), (10, (2, 5)), (10, (2, 10)), (10, (10,)), (1000, (2, 5))],
                         ids=["sampled", "two sampled rounds", "then all that is left", "whole pool", "large pool"])
def test_a_ticks_first_clicks_are_a_sample_without_replacement(size, rounds):
    au = channel(slots=2)
    counts = np.array([[[3 * size // 10, 7 * size // 10]]])         # class 0: 30 %, class 1: 70 %
    n = 1500
    first5, first1 = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    for seed in range(n):
        rng = np.random.default_rng(seed)
        pool = ClickPool(au, 0, counts, np.array([0]), np.array([1]), np.array([1.0]), rng)
        for want in rounds:
            pool.grow(0, np.array([[want]]), au, rng)
        cls = drawn_classes(pool, 0, 5)
        first5[seed], first1[seed] = (cls == 0).sum(), cls[0] == 0
    law = stats.hypergeom(size, 3 * size // 10, 5)
    seen = np.bincount(first5, minlength=6)
    expected = n * law.pmf(np.arange(6))
    live = expected > 5
    chi2 = ((seen[live] - expected[live]) ** 2 / expected[live]).sum() + (seen[~live].sum() - expected[~live].sum()) ** 2 / max(expected[~live].sum(), 1e-9)
    assert stats.chi2.sf(chi2, live.sum()) > 1e-3, (seen, expected.round(1))
    se = math.sqrt(0.3 * 0.7 / n)
    assert abs(first1.mean() - 0.3) <= Z * se, first1.mean()


def test_drawing_a_binding_ticks_prefix_changes_no_law(monkeypatch, pools):
    """Even pacing on 15-minute ticks, the line binding in most ticks and not in some: the
    engine as it is against the engine drawing every click of every open tick."""
    sc = search({"kw": {"bid": 2.0, "auctions_per_hour": 900, "rivals": {"median": 1.0, "sigma": 0.5, "count": 2}},
                 "kw2": {"bid": 1.0, "auctions_per_hour": 600, "rivals": {"median": 0.8, "sigma": 0.3, "count": 1}}},
                hours=48, tick_minutes=15, daily_budget=300.0, pacing="even")
    model = build_model(sc)
    def sample(seed: int, n: int = 40):
        eng = FastEngine(model)
        recs = [eng.run(replication_seed(seed, i)) for i in range(n)]
        book = [r.ad_groups["search"] for r in recs]
        return {flow: np.array([b[flow].sum() for b in book]) for flow in ("clicks", "impressions", "ad_spend")} | \
               {"kw clicks": np.array([b["clicks"][:, 0].sum() for b in book])}

    lazy = sample(21)
    lazy_drawn = sum(p.k.sum() for p in pools) / sum(p.c.sum() for p in pools)
    pools.clear()
    monkeypatch.setattr(engine_auctions, "_more", lambda money, mean, most: most)
    full = sample(22)
    full_drawn = sum(p.k.sum() for p in pools) / sum(p.c.sum() for p in pools)
    assert lazy_drawn < 0.8 < full_drawn, (lazy_drawn, full_drawn)
    for what in lazy:
        a, b = lazy[what], full[what]
        se = math.hypot(a.std(ddof=1) / math.sqrt(a.size), b.std(ddof=1) / math.sqrt(b.size))
        assert abs(a.mean() - b.mean()) <= Z * se + 1e-9 * b.mean(), (what, a.mean(), b.mean(), se)


def test_a_hard_binding_budget_draws_only_what_it_buys(pools):
    """Ten times the auctions the budget can pay for: spend reaches the budget exactly each
    day, and about a tenth of the clicks on offer are ever drawn."""
    sc = search({"kw": {"bid": 2.0, "auctions_per_hour": 20000, "rivals": {"median": 1.0, "sigma": 0.5, "count": 2}}},
                hours=48, tick_minutes=5, daily_budget=1000.0, pacing="even")
    model = build_model(sc)
    rec = FastEngine(model).run(replication_seed(3, 0))
    spend = rec.ad_groups["search"]["ad_spend"][:, 0]
    assert np.bincount(np.repeat(np.arange(2), 24), weights=spend) == pytest.approx([1000.0, 1000.0], abs=1e-6)
    planned = sum(p.c.sum() for p in pools)
    drawn = sum(p.k.sum() for p in pools)
    assert rec.ad_groups["search"]["clicks"].sum() < 0.15 * planned
    assert drawn < 0.2 * planned, (drawn, planned)

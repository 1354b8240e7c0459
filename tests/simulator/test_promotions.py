"""Promotion mechanics in the fast engine: analytic checks and conservation (docs/promotions.md).

Analytic checks compare simulated frequencies with exact probabilities; each tolerance is
4 standard errors of a binomial proportion (the family of a few checks per test stays far
below a 1 % false-alarm rate).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import poisson

from simulator.engine.fast import FastEngine
from simulator.engine.lines import Lines
from simulator.engine.orders import Orders, top_up_classes
from simulator.kpis import run_kpis
from simulator.model import build_model
from simulator.runner import replication_seed
from tests.helpers import at, money_adds_up, one_sku

REPS = 400


def _runs(sc, reps=REPS):
    model = build_model(sc)
    eng = FastEngine(model)
    return model, [eng.run(replication_seed(7, i)) for i in range(reps)]


def _check_cdf(ticks: np.ndarray, lam: float, q: int, at_ticks):
    """P(τ ≤ t − 1) = 1 − Poisson(λ t).cdf(Q − 1) for a pool of Q drained at λ per tick."""
    for t in at_ticks:
        p = 1 - poisson.cdf(q - 1, lam * t)
        got = np.mean((ticks >= 0) & (ticks <= t - 1))
        se = np.sqrt(p * (1 - p) / ticks.size)
        assert abs(got - p) <= 4 * se + 1e-9, (t, got, p, se)


def test_coupon_pool_empties_like_a_poisson_count():
    # 10 visits a minute, each claims with probability 0.3: claims are Poisson(3) a tick
    sc = one_sku(stock=10**6, hours=2, tick_minutes=1, visits_per_hour=600, base_conversion=0.05,
                 extra={"coupons": {"c": {"threshold": 150, "amount": 20, "quantity": 60, "claim_rate": 0.3}}})
    _, recs = _runs(sc)
    ticks = np.array([r.coupons["c"]["empty_tick"] for r in recs])
    assert (ticks >= 0).all()
    assert all(r.coupons["c"]["claimed"] == 60 for r in recs)       # never more than the pool
    _check_cdf(ticks, 3.0, 60, [15, 18, 20, 22, 25])


def test_flash_sale_sells_out_like_a_poisson_count():
    # 20 visits a minute at the flash price 50 (list 100, elasticity −1): conversion 0.1 × 2 = 0.2
    sc = one_sku(stock=10**6, hours=2, tick_minutes=1, visits_per_hour=1200, base_conversion=0.1,
                 sku={"elasticity": -1.0},
                 extra={"flash_sales": {"f": {"sku": "item", "price": 50, "quantity": 100,
                                              "start": at(0.5), "end": at(1.5)}}})
    _, recs = _runs(sc)
    sold = np.array([r.flash["f"]["sellout_tick"] for r in recs]) - 30
    assert (sold >= 0).all() and all(r.flash["f"]["units"] == 100 for r in recs)
    _check_cdf(sold, 4.0, 100, [20, 23, 25, 27, 30])


def test_top_up_moves_mass_from_below_to_above_the_threshold():
    """Price 140, every 300 off 50, reach 20 %: 2 units (280) top up to 3, 4 (560) to 5, and
    so on for every basket within 20 % of the next multiple of 300, each order with probability
    q — a binomial per class row of orders."""
    sc = one_sku(stock=10, sku={"price": 140.0},
                 extra={"platform_reduction": {"every": 300, "off": 50},
                        "baskets": {"topup_reach": 0.2, "topup_probability": 0.4}})
    promo = build_model(sc).promo
    reg = promo.regime(0, 0, 0, np.array([140.0]), np.zeros(0, dtype=bool), np.zeros(1, dtype=bool), np.zeros(1))
    rng = np.random.default_rng(3)
    n = 200_000
    sizes = np.bincount(1 + rng.poisson(2.0, n))
    want = np.flatnonzero(sizes)
    lines = Lines(np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64),
                  np.zeros(1, dtype=np.int64), np.array([n]))
    z = np.zeros(want.size, dtype=np.int64)
    orders = Orders(z, want, sizes[want], np.arange(want.size, dtype=np.uint64), want.copy())
    after = top_up_classes(np.uint64(3), lines, orders, reg.price, reg, promo, np.ones(1, dtype=bool))
    assert after.n.sum() == n and (after.n > 0).all()
    v = 140.0 * want
    nxt = (np.floor(v / 300) + 1) * 300
    within = nxt - v <= 0.2 * nxt                             # 2 → 3, 4 → 5, 6 → 7, 7 → 9, …
    moved_total, eligible = 0, 0
    for size, up, count in zip(want, within, sizes[want]):
        mine = after.key == orders.key[want == size][0]            # the rows it kept
        kept = int(after.n[mine].sum())
        if not up:
            assert kept == count
            continue
        moved = count - kept
        target = size + np.ceil((nxt[want == size][0] - 140.0 * size) / 140 - 1e-9)
        grown = (after.want == target) & ~mine
        assert moved == 0 or grown.any()
        se = np.sqrt(0.4 * 0.6 * count)
        assert abs(moved - 0.4 * count) <= 4 * se + 1
        moved_total += moved
        eligible += count
    assert abs(moved_total / eligible - 0.4) <= 4 * np.sqrt(0.4 * 0.6 / eligible)


ALL_ON = {
    "coupons": {"c1": {"threshold": 250, "amount": 30, "quantity": 40, "claim_rate": 0.3},
                "c2": {"threshold": 450, "amount": 80, "quantity": 15, "claim_rate": 0.2, "skus": ["a"]}},
    "platform_reduction": {"every": 300, "off": 50, "platform_share": 0.4},
    "baskets": {"topup_reach": 0.3, "topup_probability": 0.5},
}


def _all_on(stock_a, stock_b, mode, pay_minutes, quantity, fallback, through, seed, returns=0.05, resale=1.0,
            wallet=False):
    """Two SKUs and every mechanism: coupons (c1 staying in the wallet where `wallet`), a third
    SKU taken as an add-on of the first in order mode,
    reduction, top-up, a flash sale on `a`, a pre-sale on `b` with its balance inside the
    campaign, returns rising with depth (all of them with `returns` = 1), a share `resale` of
    them back in stock."""
    extra = {
        **ALL_ON,
        "meta": {"seed": seed},
        "skus": {"b": {"price": 180.0, "unit_cost": 60.0, "base_conversion": 0.08, "stock": stock_b,
                       "units_per_order": 1.4, "return_rate": returns, "return_rate_per_discount": 0.5,
                       "resaleable_returns": resale}},
        "flash_sales": {"f": {"sku": "item", "price": 60, "quantity": quantity, "start": at(2), "end": at(4),
                              "surge": {"amplitude": 5, "decay_minutes": 10}, "after_sellout": fallback}},
        "presales": {"p": {"skus": ["b"], "deposit": 20, "multiplier": 2, "deposit_from": at(0), "deposit_to": at(3),
                           "balance_from": at(4), "balance_to": at(6), "pay_through": through, "pay_minutes": 30}},
        "stock_deduction": {"mode": mode, "payment_minutes": pay_minutes},
        "segments": {"new": {"share": 0.6, "coupon_use": 1.2, "basket_units": 1.5},
                     "member": {"share": 0.4, "customers": 300}},
    }
    extra["coupons"] = {"c1": {**ALL_ON["coupons"]["c1"], "stays_in_wallet": wallet},
                        "c2": {**ALL_ON["coupons"]["c2"], "skus": ["b"]}}
    add = {}
    if mode == "order":                                   # add-ons: a case with the flash SKU's orders
        extra["skus"]["case"] = {"price": 45.0, "unit_cost": 10.0, "base_conversion": 0.02, "stock": stock_b // 3,
                                 "return_rate": returns, "resaleable_returns": resale}
        add = {"bought_with": {"case": 0.4}}
    return one_sku(stock=stock_a, hours=8, tick_minutes=5, visits_per_hour=400, base_conversion=0.08,
                   sku={"units_per_order": 1.5, "return_rate": returns, "return_rate_per_discount": 0.3,
                        "resaleable_returns": resale, "reorder": {"point": 5, "quantity": 20, "lead_time_hours": 1},
                        **add},
                   extra=extra)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stock_a=st.integers(0, 300), stock_b=st.integers(0, 200), mode=st.sampled_from(["order", "payment"]),
       pay_minutes=st.sampled_from([0, 5, 20]), quantity=st.integers(1, 80),
       fallback=st.sampled_from(["lost", "regular"]), through=st.floats(0, 1), seed=st.integers(0, 10**6),
       returns=st.sampled_from([0.05, 1.0]), resale=st.sampled_from([0.0, 0.4, 1.0]), wallet=st.booleans())
def test_units_and_money_add_up_with_every_mechanism_on(stock_a, stock_b, mode, pay_minutes, quantity,
                                                        fallback, through, seed, returns, resale, wallet):
    sc = _all_on(stock_a, stock_b, mode, pay_minutes, quantity, fallback, through, seed, returns, resale, wallet)
    model = build_model(sc)
    rec = FastEngine(model).run(seed)
    k = money_adds_up(sc, rec, model)
    sk = rec.by_sku
    b = model.skus.index("b")
    dep_units = k["deposit_amount"] / 20
    assert np.isclose(k["forfeited_amount"], sk["released"][:, b].sum() * 20)
    assert np.isclose(k["deposit_expansion"], (dep_units - sk["released"][:, b].sum()) * 20)
    assert np.isclose(k["coupon_cost"], sum(c["cost"] for c in rec.coupons.values()))
    for name, c in rec.coupons.items():
        assert c["redeemed"] <= c["claimed"] <= sc.coupons[name].quantity
    assert rec.flash["f"]["units"] <= quantity
    if mode == "order":
        assert k["oversold_units"] == 0 and k["cancellations"] == 0
    assert k["cancellations"] <= k["oversold_units"]


def test_payment_mode_oversells_a_fast_sell_out_and_order_mode_never_does():
    base = dict(stock=50, hours=3, tick_minutes=1, visits_per_hour=3000, base_conversion=0.1)
    order = one_sku(**base)
    pay = one_sku(**base, extra={"stock_deduction": {"mode": "payment", "payment_minutes": 5}})
    over_order = [run_kpis(r, m)["oversold_units"] for m, rs in [_runs(order, 30)] for r in rs]
    m, rs = _runs(pay, 30)
    over_pay = np.array([run_kpis(r, m)["oversold_units"] for r in rs])
    assert not any(over_order)
    # 5 ticks of about 5 buyers each after the stock runs out, plus the surplus of that tick
    assert 20 < over_pay.mean() < 40
    lost_pay = np.array([run_kpis(r, m)["lost_units"] for r in rs])
    assert (lost_pay > 0).all()


@pytest.mark.parametrize("fallback", ["lost", "regular"])
def test_flash_sale_fallback(fallback):
    sc = one_sku(stock=1000, hours=2, tick_minutes=1, visits_per_hour=1200, base_conversion=0.1,
                 extra={"flash_sales": {"f": {"sku": "item", "price": 50, "quantity": 40, "start": at(0.5),
                                              "end": at(1.5), "after_sellout": fallback}}})
    model, recs = _runs(sc, 20)
    for r in recs:
        t = int(r.flash["f"]["sellout_tick"])
        assert 30 <= t < 90
        sold_after = r.by_sku["units"][:, 0].sum() - r.flash["f"]["units"]
        if fallback == "lost":
            assert r.by_sku["lost_units"][:, 0].sum() > 0
            assert r.ending_stock[0] == 1000 - r.by_sku["units"][:, 0].sum()
        else:
            assert sold_after > 0 and r.by_sku["lost_units"][:, 0].sum() <= 40
        kinds = [e[1] for e in r.events]
        assert "stockout" not in kinds and kinds.count("flash_sellout") == 1


def test_per_customer_limit_matches_the_poisson_share():
    """200 people make 1 000 visits (each a uniform person), half of them try to claim, at most
    one coupon each: a person's attempts are Poisson(2.5), so E[claims] = 200 (1 − e^−2.5)."""
    sc = one_sku(stock=10**6, hours=10, tick_minutes=5, visits_per_hour=100, base_conversion=0.05,
                 extra={"coupons": {"c": {"threshold": 150, "amount": 20, "quantity": 10**6,
                                          "claim_rate": 0.5, "per_customer": 1}},
                        "segments": {"all": {"share": 1.0, "customers": 200}}})
    _, recs = _runs(sc, 200)
    claims = np.array([r.coupons["c"]["claimed"] for r in recs])
    want = 200 * (1 - np.exp(-2.5))
    assert abs(claims.mean() - want) <= 4 * claims.std(ddof=1) / np.sqrt(claims.size), (claims.mean(), want)


def test_returns_rise_with_the_depth_of_the_price_paid():
    """A flash sale at half the list price with return_rate 0.05 and 0.3 per unit of depth:
    its units come back with probability 0.05 + 0.3 × 0.5 = 0.2; full-price units with 0.05."""
    sc = one_sku(stock=10**6, hours=4, tick_minutes=60, visits_per_hour=2000, base_conversion=0.1,
                 sku={"return_rate": 0.05, "return_rate_per_discount": 0.3, "elasticity": -1.0},
                 extra={"flash_sales": {"f": {"sku": "item", "price": 50, "quantity": 10**5,
                                              "start": at(2), "end": at(4)}}})
    _, recs = _runs(sc, 60)
    for hours, p in ((slice(0, 2), 0.05), (slice(2, 4), 0.2)):
        units = sum(r.by_sku["units"][hours, 0].sum() for r in recs)
        returns = sum(r.by_sku["returns"][hours, 0].sum() for r in recs)
        assert abs(returns / units - p) <= 4 * np.sqrt(p * (1 - p) / units), (returns / units, p)


def test_the_platform_funds_its_share_of_every_reduction():
    sc = one_sku(stock=10**6, hours=4, visits_per_hour=500, sku={"price": 160.0, "units_per_order": 2.0},
                 extra={"platform_reduction": {"every": 300, "off": 50, "platform_share": 0.4}})
    model, recs = _runs(sc, 5)
    for r in recs:
        k = run_kpis(r, model)
        total = k["platform_subsidy"] + k["reduction_cost"]
        assert total > 0 and np.isclose(k["platform_subsidy"], 0.4 * total)
        assert total % 50 == 0 or np.isclose(total % 50, 0) or np.isclose(total % 50, 50)
        assert np.isclose(k["net_sales"], k["gmv"] - k["reduction_cost"] - k["refunds"])


# ------------------------------------------------- what a coupon and a reduction are worth
def _depth(price, lam, coupons=(), red=None, reach=0.2, q=0.0):
    from simulator.promotions import realized_depth

    K = 1
    cps = [(a, t, np.ones(K, dtype=bool)) for a, t in coupons]
    r = None if red is None else (red[0], red[1], np.ones(K, dtype=bool))
    return realized_depth(np.array([price]), np.array([[lam]]), cps, r, reach, q)[:, 0, 0]


def test_realized_depth_by_hand():
    """Hand-computed: a coupon no basket reaches is worth 0; one unit of 400 under every 300
    off 50 saves 50/400; 20 off 150 on a 100 item is reached only by top-up (150 − 100 = 50 ≤
    0.4 × 150) to 2 units, with probability 0.5: 0.5 × 20/200; with 1 + Poisson(1) units and 30
    off 200, baskets of u ≥ 2 units save 30/(100 u)."""
    assert _depth(50.0, 0.0, [(40.0, 299.0)], reach=0.2, q=0.5)[1] == 0.0
    assert _depth(400.0, 0.0, red=(300.0, 50.0))[0] == pytest.approx(50 / 400)
    assert _depth(100.0, 0.0, [(20.0, 150.0)], reach=0.4, q=0.5)[1] == pytest.approx(0.5 * 20 / 200)
    by_hand = sum(poisson.pmf(u - 1, 1.0) * 30 / (100 * u) for u in range(2, 60))
    assert _depth(100.0, 1.0, [(30.0, 200.0)])[1] == pytest.approx(by_hand)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(price=st.floats(5, 500), units=st.floats(1, 3), threshold=st.floats(20, 900), share=st.floats(0.05, 0.9),
       every=st.sampled_from([0.0, 100.0, 300.0]), reach=st.floats(0, 0.5), q=st.floats(0, 1), basket=st.floats(0.5, 2))
def test_the_reference_engine_values_promotions_as_the_model_does(price, units, threshold, share, every, reach, q, basket):
    """Two implementations — the model's vectorized `realized_depth` and the reference engine's
    plain sum over basket sizes — agree on every class of a random plan."""
    from simulator.model import build_model
    from simulator.reference.campaign import Campaign

    extra = {"skus": {"item": {"price": price, "units_per_order": units}},
             "segments": {"all": {"share": 1.0, "basket_units": basket}},
             "coupons": {"c": {"threshold": threshold, "amount": share * threshold, "quantity": 10, "claim_rate": 0.5}},
             "baskets": {"topup_reach": reach, "topup_probability": q}}
    if every:
        extra["platform_reduction"] = {"every": every, "off": every / 6}
    sc = one_sku(stock=10, extra=extra)
    model = build_model(sc)
    reg = model.promo.regime(0, 0, 0, np.array([price]), np.ones(1, dtype=bool), np.zeros(1, dtype=bool), np.zeros(1))
    camp = Campaign(model, 0)
    for g, coupon in enumerate((None, 0)):
        eff = reg.base[g, 0, 0, 0] / (model.promo.conversion.choice[0] * model.promo.conversion.mix[0, 0])
        want = camp.saving_share(0, 0, price, coupon, bool(every))
        p_ref = 0.1 * max(0.05, 1 - want) ** -2.0
        assert eff == pytest.approx(min(1.0, p_ref), rel=1e-9)


def test_poisson_helpers_equal_scipy_stats_bit_for_bit():
    """The promotions' Poisson pmf, cdf and quantile (computed with scipy.special, to keep
    scipy.stats out of a run's start-up) are scipy.stats' own formulas: equal to the bit."""
    from scipy import stats

    from simulator.promotions import poisson_pmf, poisson_ppf, under_limit

    rng = np.random.default_rng(3)
    mu = np.r_[0.0, 1e-12, rng.uniform(0, 30, 200), rng.uniform(0, 1e-3, 20)]
    k = np.arange(60)
    assert np.array_equal(poisson_pmf(k[None, :], mu[:, None]), stats.poisson.pmf(k[None, :], mu[:, None]))
    for limit in (2, 3, 7):
        assert np.array_equal(under_limit(mu, limit), stats.poisson.cdf(limit - 1, mu))
    for q in (1e-9, 0.3, 0.5, 0.999, 1 - 1e-12):
        for m in (1e-12, 0.01, 0.7, 3.0, 29.5, 400.0):
            assert poisson_ppf(q, m) == stats.poisson.ppf(q, m), (q, m)

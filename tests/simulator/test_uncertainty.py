"""Assumptions as distributions (`uncertainty:`): draws, twins, common random numbers, and
the intervals and variance split against closed forms.

The linear plan: one SKU, one organic channel, stock that never binds, no promotions: given a
traffic factor F, orders are Poisson(F λ) (visits Poisson, each converting alike), so with
F uniform on [0.8, 1.2] orders are a Poisson mixture whose CDF is an integral over F, and
Var(orders) = λ (shopper noise, E[Var | F]) + λ² Var(F) (assumptions, Var E[· | F]).
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from simulator.assumptions import Assumptions, by_twin
from simulator.runner import simulate
from tests.helpers import one_sku

LAMBDA = 300.0           # expected orders of the plan as written
R = 600                  # replications: 300 twins


def linear_plan(price: float = 100.0, extra_unc: dict | None = None):
    """λ = 100 visits/h × 0.1 × 30 h = 300 orders at 100 each; ±20 % on traffic."""
    unc = {"assumptions": {"traffic": {"paths": ["channels.*.visits_per_hour"], "range": "±20 %"},
                           **(extra_unc or {})}}
    return one_sku(stock=10**6, hours=30, visits_per_hour=100.0, base_conversion=0.1,
                   sku={"price": price}, extra={"uncertainty": unc})


def mixture_cdf(n: float) -> float:
    """P(orders ≤ n) for orders ~ Poisson(F λ), F uniform on [0.8, 1.2]."""
    return integrate.quad(lambda f: stats.poisson.cdf(n, f * LAMBDA), 0.8, 1.2, epsabs=1e-10)[0] / 0.4


def mixture_quantile(p: float) -> int:
    n = int(LAMBDA * 0.8)
    while mixture_cdf(n) < p:
        n += 1
    return n


@pytest.fixture(scope="module")
def linear_run():
    return simulate(linear_plan(), reps=R, seed=7)


def _twin_means(values: np.ndarray, seeds: list[int]) -> np.ndarray:
    return np.array([np.mean(g) for g in by_twin(values, seeds)])


@pytest.mark.parametrize("p", [0.05, 0.95])
def test_the_interval_of_a_linear_plan_matches_the_closed_form(linear_run, p):
    """The share of replications at or below the closed form's P5 (P95) is its CDF there,
    within 4 standard errors (from twin-pair means: twins share their draw)."""
    orders = linear_run.kpis()["orders"].to_numpy()
    q = mixture_quantile(p)
    expected = mixture_cdf(q)
    below = _twin_means((orders <= q).astype(float), linear_run.seeds)
    se = below.std(ddof=1) / np.sqrt(below.size)
    assert abs(below.mean() - expected) <= 4 * se, (q, below.mean(), expected, se)
    # without the assumption the interval is shopper noise alone: less than half as wide
    assert mixture_quantile(0.95) - mixture_quantile(0.05) > 2 * (stats.poisson.ppf(0.95, LAMBDA)
                                                                  - stats.poisson.ppf(0.05, LAMBDA))


def test_the_variance_splits_into_assumptions_and_noise_as_the_closed_form_says(linear_run):
    summary = linear_run.summary()
    share = summary["spread"]["orders"]
    assert share["assumptions"] + share["noise"] == pytest.approx(1.0)
    known_noise = LAMBDA / (LAMBDA + LAMBDA**2 * 0.4**2 / 12)          # λ / (λ + λ² Var F)
    # the estimate's standard error, by a bootstrap over twin pairs (fixed seed)
    orders = linear_run.kpis()["orders"].to_numpy()
    pairs = orders.reshape(-1, 2)
    rng = np.random.default_rng(0)
    boot = []
    for _ in range(400):
        s = pairs[rng.integers(0, len(pairs), len(pairs))]
        noise = np.mean((s[:, 0] - s[:, 1]) ** 2) / 2
        boot.append(noise / s.ravel().var(ddof=1))
    se = float(np.std(boot))
    assert abs(share["noise"] - known_noise) <= 4 * se, (share, known_noise, se)
    assert summary["assumptions"]["traffic"]["p5"] == pytest.approx(0.82, abs=0.02)


def test_two_plans_on_the_same_seeds_share_assumptions_and_shoppers():
    """Common random numbers: a plan at another price sees the same assumption draws and
    the same visits, replication by replication."""
    a = simulate(linear_plan(price=100.0), reps=8, seed=3)
    b = simulate(linear_plan(price=80.0), reps=8, seed=3)
    assert a.assumptions == b.assumptions
    assert a.kpis()["visits"].tolist() == b.kpis()["visits"].tolist()
    assert a.assumptions[0] == a.assumptions[1] != a.assumptions[2]          # twins share a draw


def test_no_uncertainty_plays_the_plan_as_written_and_workers_change_no_byte():
    """`uncertainty=False` (`--no-uncertainty`) is exactly the plan without the block, and the
    same seed gives the same bytes and draws with 1 or 2 workers."""
    sc = linear_plan()
    plain = simulate(sc.model_copy(update={"uncertainty": None}), reps=4, seed=5)
    off = simulate(sc, reps=4, seed=5, uncertainty=False)
    assert off.assumptions is None
    assert off.kpis().equals(plain.kpis())
    one = simulate(sc, reps=4, seed=5)
    two = simulate(sc, reps=4, seed=5, workers=2)
    assert one.kpis().to_numpy(dtype=float, na_value=np.nan).tobytes() == two.kpis().to_numpy(dtype=float, na_value=np.nan).tobytes()
    assert one.assumptions == two.assumptions


def test_margins_and_rank_correlation_of_the_draws():
    """Each margin is its distribution (Kolmogorov–Smirnov) and the rank correlation is the
    one asked (within 4 standard errors of Spearman's ρ, ≈ (1 − ρ²) / √n)."""
    sc = linear_plan(extra_unc={
        "conversion": {"paths": ["skus.*.base_conversion"], "lognormal": {"median": 1.0, "sigma": 0.2},
                       "relative": True},
        "elasticity": {"paths": ["skus.item.elasticity"], "triangular": {"low": -3, "mode": -2, "high": -1}},
    }).model_copy()
    sc = sc.model_validate({**sc.model_dump(), "uncertainty": {
        **sc.uncertainty.model_dump(exclude_none=True),
        "correlations": [{"between": ["traffic", "conversion"], "rank": 0.6}]}})
    plays = Assumptions(sc)
    draws = [plays.draw(1, 2 * j) for j in range(1500)]
    x = {n: np.array([d[n] for d in draws]) for n in draws[0]}
    assert stats.kstest(x["traffic"], stats.uniform(0.8, 0.4).cdf).pvalue > 1e-3
    assert stats.kstest(x["conversion"], stats.lognorm(0.2, scale=1.0).cdf).pvalue > 1e-3
    assert stats.kstest(x["elasticity"], stats.triang(0.5, loc=-3, scale=2).cdf).pvalue > 1e-3
    rho = stats.spearmanr(x["traffic"], x["conversion"]).statistic
    assert abs(rho - 0.6) <= 4 * (1 - 0.6**2) / np.sqrt(len(draws))
    assert abs(stats.spearmanr(x["traffic"], x["elasticity"]).statistic) <= 4 / np.sqrt(len(draws))
    played, values = plays.scenario_for(1, 0)
    assert played.uncertainty is None
    assert played.skus["item"].base_conversion == pytest.approx(0.1 * values["conversion"])
    assert played.skus["item"].elasticity == pytest.approx(values["elasticity"])


def test_a_plan_with_a_target_reports_the_chance_of_reaching_it():
    sc = linear_plan()
    sc = sc.model_validate({**sc.model_dump(), "meta": {**sc.meta.model_dump(), "targets": {"gmv": 30_000.0}}})
    res = simulate(sc, reps=200, seed=7)
    t = res.summary()["targets"]["gmv"]
    expected = 1 - mixture_cdf(299)                                          # gmv ≥ 30,000 ⇔ orders ≥ 300
    assert abs(t["p_reach"] - expected) <= 4 * t["se"], (t, expected)


def binding_plan():
    """Stock (120 units) and a search budget (500 a day) that bind in most draws, with ±30 %
    traffic and a lognormal conversion factor: not linear in anything."""
    return one_sku(stock=120, hours=24, visits_per_hour=100.0, base_conversion=0.05, extra={
        "channels": {"ads": {"kind": "paid_search", "cpc": 1.0, "clicks_per_hour": 40.0, "daily_budget": 500.0}},
        "uncertainty": {"assumptions": {
            "traffic": {"paths": ["channels.*.visits_per_hour", "channels.*.clicks_per_hour"], "range": "±30 %"},
            "conversion": {"paths": ["skus.*.base_conversion"], "lognormal": {"median": 1.0, "sigma": 0.2},
                           "relative": True}}}})


@pytest.mark.slow
def test_the_interval_covers_a_reality_drawn_from_the_assumptions_as_often_as_it_says():
    """Coverage: realities drawn from the same assumptions with fresh seeds (one replication of
    each twin, so each reality is independent) fall inside the plan's P5–P95 GMV interval as
    often as the plan's own replications do — 90 % where GMV has no atom; more here, where
    the stock sells out in a fifth of the draws and GMV sits at its cap (an interval's closed
    end holds the whole atom) — within 3 standard errors (both shares binomial; the pool's
    M replications are M / 2 independent draws at worst)."""
    sc = binding_plan()
    pool = simulate(sc, reps=1000, seed=11).kpis()["gmv"].to_numpy()
    assert np.mean(pool == pool.max()) > 0.1                               # stock binds in many draws
    realities = simulate(sc, seeds=range(0, 2000, 2), seed=12).kpis()["gmv"].to_numpy()
    lo, hi = np.percentile(pool, [5, 95])
    says = np.mean((pool >= lo) & (pool <= hi))
    covered = np.mean((realities >= lo) & (realities <= hi))
    assert says >= 0.9
    se = np.sqrt(says * (1 - says) / realities.size + says * (1 - says) / (pool.size / 2))
    assert abs(covered - says) <= 3 * se, (covered, says, lo, hi, se)


def test_compare_pairs_two_plans_under_the_same_assumption_draws():
    """A 10 % discount compared under ±20 % traffic: both plans see the same draws, so the
    paired difference in orders is far tighter than either plan's own spread (most of which
    is the traffic assumption, common to both)."""
    from simulator.compare import compare

    a = linear_plan()
    cmp = compare(a, overrides={"skus.item.discount": 0.1}, reps=60, seed=9)
    row = cmp.rows["orders"]
    spread_a = np.std(simulate(a, reps=60, seed=9).kpis()["orders"], ddof=1)
    assert row["ci_high"] - row["ci_low"] < 0.5 * spread_a
    off = compare(a, overrides={"skus.item.discount": 0.1}, reps=60, seed=9, uncertainty=False)
    assert off.rows["orders"]["mean_a"] != row["mean_a"]            # the draws were played, or not

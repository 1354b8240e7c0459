"""The calibration sample (`fit_sample.json`) and `uncertainty: {from: …}`.

- Over repeated histories of a store with known parameters, the sample's spread is the
  fitted values' own spread (what the sample claims to describe).
- The sampler: a direction the history does not pin down is drawn across the box while the
  pinned combination keeps its spread; a bound truncates the normal.
- A run with `from:` plays the sample's rows: their mean and covariance are the sample's.
- Sensitivity plays the sample as one factor, with the indices of the parameter it carries.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import truncnorm

from calibration import calibrate
from calibration.sample import truncated_normal
from simulator.runner import simulate
from simulator.scenario import load_scenario, parse_scenario
from tests.calibration.synthetic import RANGES, START, TRUTH, scenario_text, synthetic_history
from tests.helpers import one_sku

FITTED = ("skus.*.base_conversion", "skus.*.elasticity")


@pytest.mark.slow
def test_the_sample_spread_matches_the_spread_of_the_fit_over_repeated_histories():
    """N = 40 histories of the synthetic store (120 days, three SKUs) simulated with different
    seeds from the same true parameters, each fitted (least squares, expected engine) with a
    400-draw sample. Per parameter, the SD of the N fitted values estimates the true sampling
    spread with a standard error of about SD/√(2(N − 1)) (11 %); the mean of the N samples'
    SDs is much steadier (its SE from the N values themselves). The two agree within 3
    combined SEs. Power: the band is about ±34 %, so the test catches a spread off by a
    factor 1.5 or more — a variance used as an SD, the wrong scale (linear for log), a missing
    residual scale — not a 10–20 % misweighting (Gauss–Newton's 0.78 on the conversion rate,
    measured with N = 80, is the reason the sample uses the sandwich; calibration.sample)."""
    params = {k: RANGES[k] for k in FITTED}
    fixed = {k: v for k, v in TRUTH.items() if k not in params}
    scenario = parse_scenario(scenario_text(START | fixed, parameters=params, targets="{units: 1}"))
    n = 40
    fitted, sds = [], []
    for seed in range(1, n + 1):
        _, history = synthetic_history(seed)
        res = calibrate(scenario, history, band_replications=0, intervals=False, sample=400)
        assert res.sample.parameters == list(FITTED) and res.sample.unidentified == []
        fitted.append([res.values[p] for p in FITTED])
        sds.append(res.sample.draws.std(axis=0, ddof=1))
    fitted, sds = np.array(fitted), np.array(sds)
    spread = fitted.std(axis=0, ddof=1)
    claimed = sds.mean(axis=0)
    se = np.sqrt((spread / np.sqrt(2 * (n - 1))) ** 2 + (sds.std(axis=0, ddof=1) / np.sqrt(n)) ** 2)
    for j, name in enumerate(FITTED):
        assert abs(claimed[j] - spread[j]) <= 3 * se[j], (name, claimed[j], spread[j], se[j])
        # and the fits scatter around the truth as the sample says: within 4 SEs of the mean
        assert abs(fitted[:, j].mean() - TRUTH[name]) <= 4 * spread[j] / np.sqrt(n) + 0.01 * abs(TRUTH[name])


def test_a_flat_direction_is_drawn_across_the_box_and_the_pinned_combination_keeps_its_spread():
    """Precision λ v vᵀ with v = (1, 1)/√2 (x₁ + x₂ pinned, x₁ − x₂ free): x₁ + x₂ ~ N(0.8, 0.01²)
    and, given it, x₁ uniform on [0, 0.8] (mean 0.4, SD 0.8/√12)."""
    lam = 2e4                                   # SD along v: 1/√λ; of x₁ + x₂ = √2 · that = 0.01
    v = np.array([1.0, 1.0]) / np.sqrt(2)
    x, moving = truncated_normal(np.array([0.3, 0.5]), lam * np.outer(v, v), 4000, np.random.default_rng(1))
    n = len(x)
    total = x.sum(axis=1)
    assert moving == [0, 1]
    assert abs(total.mean() - 0.8) <= 4 * 0.01 / np.sqrt(n)
    assert abs(total.std(ddof=1) - 0.01) <= 4 * 0.01 / np.sqrt(2 * (n - 1))
    sd1 = 0.8 / np.sqrt(12)
    assert abs(x[:, 0].mean() - 0.4) <= 4 * sd1 / np.sqrt(n)
    assert abs(x[:, 0].std(ddof=1) - sd1) <= 4 * sd1 / np.sqrt(n)     # a uniform's SD: SE ≈ SD·√(0.8/n)
    assert ((x >= 0) & (x <= 1)).all()


def test_a_bound_truncates_the_normal():
    """N(0.02, 0.05²) in [0, 1]: the truncated normal's mean and SD (scipy's closed form)."""
    x, moving = truncated_normal(np.array([0.02]), np.array([[1 / 0.05**2]]), 4000, np.random.default_rng(2))
    want = truncnorm(-0.02 / 0.05, 0.98 / 0.05, loc=0.02, scale=0.05)
    assert moving == [] and x.min() >= 0
    assert abs(x.mean() - want.mean()) <= 4 * want.std() / np.sqrt(len(x))
    assert abs(x.std(ddof=1) - want.std()) <= 4 * want.std() / np.sqrt(2 * (len(x) - 1))


def _sample_file(tmp_path, draws: np.ndarray, parameters: list[str]):
    path = tmp_path / "fit_sample.json"
    path.write_text(json.dumps({"method": "laplace", "fit": {"scenario": "test"}, "parameters": parameters,
                                "draws": draws.tolist()}), encoding="utf-8")
    return path


def _plan_with_sample(tmp_path, draws, parameters, extra: str = "") -> object:
    text = f"""meta:
  name: from_sample
  timezone: Asia/Shanghai
  start: 2026-06-01 00:00
  end: 2026-06-02 00:00
  tick_minutes: 1440
  seed: 11
channels:
  organic_search: {{kind: organic_search, visits_per_hour: 400}}
skus:
  tee: {{price: 99, unit_cost: 49.5, base_conversion: 0.03, elasticity: -2.0, stock: 1000000}}
  cap: {{price: 59, unit_cost: 20, base_conversion: 0.03, elasticity: -2.0, stock: 1000000}}
uncertainty:
  from: fit_sample.json
{extra}"""
    _sample_file(tmp_path, draws, parameters)
    (tmp_path / "plan.yaml").write_text(text, encoding="utf-8")
    return load_scenario(tmp_path / "plan.yaml")


def test_a_run_from_the_sample_reproduces_its_mean_and_covariance(tmp_path):
    """300 correlated draws of (conversion, elasticity); 600 replications play 300 twins, each a
    row drawn uniformly from the sample: the rows' mean is the sample's within 4 SE (SD/√T)
    and each variance and the covariance within 4 SE of a (co)variance estimate
    (√((σ_i² σ_j² + σ_ij²)/(T − 1)), normal theory)."""
    rng = np.random.default_rng(5)
    cov = np.array([[0.002**2, 0.6 * 0.002 * 0.2], [0.6 * 0.002 * 0.2, 0.2**2]])
    draws = rng.multivariate_normal([0.03, -2.0], cov, size=300)
    scenario = _plan_with_sample(tmp_path, draws, list(FITTED))
    res = simulate(scenario, reps=600)
    rows = np.array([[a[p] for p in FITTED] for a in res.assumptions])
    assert (rows[0::2] == rows[1::2]).all()                    # twins share their row
    played = rows[0::2]
    t = len(played)
    assert {tuple(r) for r in played} <= {tuple(r) for r in draws}
    m, s = draws.mean(axis=0), np.cov(draws.T)
    assert (np.abs(played.mean(axis=0) - m) <= 4 * np.sqrt(np.diag(s) / t)).all()
    got = np.cov(played.T)
    se = np.sqrt((np.outer(np.diag(s), np.diag(s)) + s**2) / (t - 1))
    assert (np.abs(got - s) <= 4 * se).all(), (got, s, se)
    # reported like assumptions: quantiles, the spread's share, the report's tornado
    summary = res.summary()
    assert set(summary["assumptions"]) == set(FITTED) and summary["spread"]["gmv"]["assumptions"] > 0
    from simulator.report import data as report_data

    folder = res.write(tmp_path / "out")
    assert set(report_data.assumption_swings(report_data.load(folder)).index) == set(FITTED)


def test_rows_are_the_same_in_any_process_and_beside_assumptions(tmp_path):
    draws = np.column_stack([np.linspace(0.02, 0.04, 50), np.linspace(-2.5, -1.5, 50)])
    scenario = _plan_with_sample(tmp_path, draws, list(FITTED),
                                 "  assumptions:\n    traffic: {paths: channels.*.visits_per_hour, range: ±10 %}\n")
    one = simulate(scenario, reps=6)
    two = simulate(scenario, reps=6, workers=2)
    assert one.assumptions == two.assumptions and one.kpis().equals(two.kpis())
    alone = simulate(_plan_with_sample(tmp_path, draws, list(FITTED)), reps=6)
    # the fit sample's rows do not depend on the assumptions beside it (a stream of their own)
    assert [{p: a[p] for p in FITTED} for a in one.assumptions] == alone.assumptions
    plain = simulate(scenario, reps=2, uncertainty=False)
    assert plain.assumptions is None


def test_sensitivity_plays_the_sample_as_one_factor_with_the_indices_of_what_it_carries():
    """The product plan of test_sensitivity with its conversion factor replaced by a fit sample
    of the same distribution (1,000 evenly spaced quantiles of the uniform; the sample set
    directly, as the loader sets it from `from:`): the factor 'fit sample' gets the
    conversion's closed-form Sobol' indices."""
    from simulator.sensitivity import FIT, analyse
    from tests.simulator.test_sensitivity import CONVERSION, TRAFFIC, closed_form

    base = 0.1
    u = (np.arange(1000) + 0.5) / 1000
    conv = base * (CONVERSION[0] + (CONVERSION[1] - CONVERSION[0]) * u)
    sample = {"method": "laplace", "parameters": ["skus.*.base_conversion"], "draws": conv[:, None].tolist()}
    plan = one_sku(stock=10**8, hours=20, visits_per_hour=100_000.0, base_conversion=base,
                   extra={"uncertainty": {"from": "fit_sample.json", "sample": sample, "assumptions": {
                       "traffic": {"paths": ["channels.*.visits_per_hour"],
                                   "uniform": {"low": TRAFFIC[0], "high": TRAFFIC[1]}, "relative": True}}}})
    res = analyse(plan, ["orders"], trajectories=6, base=256, top=2, seeds=1, seed=3)
    want = closed_form()
    got = res.indices["orders"]
    assert set(got) == {"traffic", FIT}
    for name, key in (("traffic", "traffic"), ("conversion", FIT)):
        s1, st = want[name]
        assert abs(got[key]["S1"] - s1) <= max(got[key]["S1_conf"], 0.01), (key, got[key], s1)
        assert abs(got[key]["ST"] - st) <= max(got[key]["ST_conf"], 0.01), (key, got[key], st)
    assert any("one factor" in n for n in res.notes)


def test_an_optuna_fit_gets_the_least_squares_spread_widened_by_the_simulation_noise():
    """An Optuna fit has no Jacobian: the sample takes central differences on the fast engine's
    mean over its R replications (common seeds), and its residual scales carry the simulation's
    noise, a factor √(1 + 1/R) on the spread. At the same optimum, with R = 8, the SDs are
    those of the least-squares sample times √(1 + 1/R), within 3 SEs: two 1,000-draw SDs
    (√(1/(2·999)) each) and the residual scale estimated from n = 360 cells (√(1/(2n)))."""
    import dataclasses

    from calibration.calibrators import SimModel
    from calibration.sample import fit_sample
    from simulator.scenario.calibrate_schema import plain_data

    params = {k: RANGES[k] for k in FITTED}
    fixed = {k: v for k, v in TRUTH.items() if k not in params}
    scenario = parse_scenario(scenario_text(START | fixed, parameters=params, targets="{units: 1}"))
    _, history = synthetic_history(1)
    res = calibrate(scenario, history, band_replications=0, intervals=False, sample=1000)
    reps = 8
    model = SimModel(res.replay, res.unknowns, plain_data(scenario), ["units"], "fast", reps, 3)
    x = np.asarray(res.fit.x, dtype=float)
    res.fit = dataclasses.replace(res.fit, jac=None, engine="fast", method="cmaes",
                                  residuals=model.unit_residuals(res.loss)(x))
    optuna_like = fit_sample(res, model, draws=1000, seed=4)
    assert optuna_like.jacobian.startswith("central differences")
    ratio = optuna_like.draws.std(axis=0, ddof=1) / res.sample.draws.std(axis=0, ddof=1)
    se = np.sqrt(2 / (2 * 999) + 1 / (2 * 360))
    assert (np.abs(ratio / np.sqrt(1 + 1 / reps) - 1) <= 3 * se).all(), (ratio, se)


def test_traffic_and_conversion_without_visits_trade_off_and_the_sample_keeps_only_their_product():
    """Fitting traffic, conversion and elasticity to units alone: traffic × conversion is pinned,
    the split is not. The sample draws the split across the ranges (both named unidentified)
    and keeps the product's spread: SD of log(traffic × conversion) equals the SD of
    log(conversion) of a fit with traffic known, within 4 SEs (two 1,000-draw SDs, √(1/1998)
    each)."""
    _, history = synthetic_history(1)
    both = ("channels.organic_search.visits_per_hour", "skus.*.base_conversion")
    params = {k: RANGES[k] for k in (*both, "skus.*.elasticity")}
    fixed = {k: v for k, v in TRUTH.items() if k not in params}
    free = calibrate(parse_scenario(scenario_text(START | fixed, parameters=params, targets="{units: 1}")), history,
                     band_replications=0, intervals=False, sample=1000)
    known = calibrate(parse_scenario(scenario_text(START | {k: v for k, v in TRUTH.items() if k not in FITTED},
                                                   parameters={k: RANGES[k] for k in FITTED}, targets="{units: 1}")),
                      history, band_replications=0, intervals=False, sample=1000)
    assert free.sample.unidentified == list(both)
    d = free.sample.draws
    traffic = d[:, 0]
    # the product (≈ 60 an hour) and conversion's range (≤ 0.3) leave traffic 200–20,000: drawn across it
    assert traffic.min() < 300 and traffic.max() > 15_000
    sd_product = np.log(d[:, 0] * d[:, 1]).std(ddof=1)
    sd_conversion = np.log(known.sample.draws[:, 0]).std(ddof=1)
    assert abs(sd_product / sd_conversion - 1) <= 4 * np.sqrt(2 / 1998), (sd_product, sd_conversion)


def test_a_written_plan_keeps_its_fit_sample(tmp_path):
    """best_plan.yaml and calibrated.yaml (`plan_text`) rewrite `from:` for their own folder, like
    `catalogue:`; a plan serialized from scratch carries the draws themselves (`sample:`). Both
    load back as the plan (`write_best_plan` checks it)."""
    from simulator.optimize.plan import write_best_plan

    draws = np.column_stack([np.linspace(0.02, 0.04, 5), np.linspace(-2.5, -1.5, 5)])
    scenario = _plan_with_sample(tmp_path, draws, list(FITTED))
    written = write_best_plan(tmp_path / "out" / "best_plan.yaml", tmp_path / "plan.yaml", [], scenario)
    assert "from: ../fit_sample.json" in written.read_text(encoding="utf-8")
    scratch = write_best_plan(tmp_path / "scratch" / "best_plan.yaml", None, [], scenario)
    assert load_scenario(scratch).uncertainty.sample == scenario.uncertainty.sample

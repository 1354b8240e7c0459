"""`promosim compare`: paired differences on common random numbers, their intervals, result
folders, the chart and the command line."""

import json
import math

import numpy as np
import pytest
from scipy import stats

from simulator.cli import main
from simulator.compare import CompareError, chart_png, compare, paired_difference
from simulator.runner import simulate
from simulator.scenario import load_scenario
from tests.conftest import SCENARIOS

MINIMAL = str(SCENARIOS / "valid_minimal.yaml")
DEEPER = {"skus.*.discount": 0.3}          # a clearly different plan: 30 % off every SKU


# ----------------------------------------------------------------------- the statistics
def test_interval_is_the_paired_t_interval():
    rng = np.random.default_rng(1)
    a = rng.normal(100, 10, 12)
    b = a + rng.normal(3, 2, 12)
    r = paired_difference(a, b, level=0.9)
    d = b - a
    lo, hi = stats.t.interval(0.9, len(d) - 1, loc=d.mean(), scale=stats.sem(d))
    assert r["diff"] == pytest.approx(d.mean(), rel=1e-12)
    assert (r["ci_low"], r["ci_high"]) == pytest.approx((lo, hi), rel=1e-12)
    assert r["mean_a"] == pytest.approx(a.mean()) and r["mean_b"] == pytest.approx(b.mean())
    assert r["rel"] == pytest.approx(d.mean() / a.mean())
    assert r["n"] == 12 and r["dropped"] == 0 and r["excludes_zero"] == (lo > 0 or hi < 0)


@pytest.mark.parametrize("n", [4, 20])
def test_interval_covers_the_true_difference_at_the_nominal_rate(n):
    """4000 experiments with a known mean difference of 2: the 95 % interval covers it in 95 %
    of them, within 3 standard errors of a binomial proportion (±1.0 points)."""
    rng = np.random.default_rng(7)
    trials = 4000
    a = rng.normal(50, 5, (trials, n))
    b = a + 2 + rng.normal(0, 3, (trials, n))
    covered = 0
    for i in range(trials):
        r = paired_difference(a[i], b[i])
        covered += r["ci_low"] <= 2 <= r["ci_high"]
    se = math.sqrt(0.95 * 0.05 / trials)
    assert abs(covered / trials - 0.95) < 3 * se


def test_relative_interval_covers_the_true_ratio():
    """B = 1.1 × A plus noise: the delta-method interval of B/A − 1 covers 0.10 in ~95 % of
    2000 experiments of 30 pairs (3 standard errors of a proportion; the delta method is
    first-order, so allow the lower side a further point)."""
    rng = np.random.default_rng(11)
    trials, n = 2000, 30
    covered = 0
    for _ in range(trials):
        a = rng.normal(200, 30, n)
        b = 1.1 * a + rng.normal(0, 15, n)
        r = paired_difference(a, b)
        covered += r["rel_low"] <= 0.10 <= r["rel_high"]
    se = math.sqrt(0.95 * 0.05 / trials)
    assert 0.95 - 3 * se - 0.01 < covered / trials < 0.95 + 3 * se


def test_identical_differences_give_an_exact_interval():
    a = np.array([1.0, 7.0, 1e6, 3.0])
    r = paired_difference(a, a + 2.5)           # every difference exactly 2.5
    assert r["ci_low"] == r["diff"] == r["ci_high"] == 2.5
    assert r["excludes_zero"]
    a = np.array([0.1, 0.7, 1e6, 3.3])
    same = paired_difference(a, a.copy())
    for key in ("diff", "ci_low", "ci_high", "rel", "rel_low", "rel_high"):
        assert same[key] == 0.0 and math.copysign(1, same[key]) == 1, key
    assert not same["excludes_zero"]


def test_undefined_pairs_are_dropped_and_counted():
    a = [1.0, None, 3.0, 4.0, float("nan")]
    b = [2.0, 5.0, None, 6.0, 1.0]
    r = paired_difference(a, b)
    assert r["n"] == 2 and r["dropped"] == 3
    assert r["diff"] == pytest.approx(1.5)
    none = paired_difference([None, None], [1.0, 2.0])
    assert none["n"] == 0 and none["diff"] is None and none["ci_low"] is None


def test_one_pair_has_no_interval_and_zero_mean_has_no_relative_change():
    r = paired_difference([5.0], [7.0])
    assert r["diff"] == 2.0 and r["ci_low"] is None and not r["excludes_zero"]
    z = paired_difference([0.0, 0.0, 0.0], [1.0, 2.0, 0.0])
    assert z["rel"] is None and z["rel_low"] is None and z["diff"] == pytest.approx(1.0)


# ----------------------------------------------------------------------- plans
def test_a_plan_compared_with_itself_differs_by_exactly_zero(tmp_path):
    copy = tmp_path / "same_plan.yaml"                 # another file: both sides really run
    copy.write_bytes((SCENARIOS / "valid_minimal.yaml").read_bytes())
    cmp = compare(MINIMAL, copy, reps=6, seed=3)
    assert cmp.replications == list(range(6)) and cmp.seed == 3
    for name, r in cmp.rows.items():
        assert r["diff"] == 0.0 and r["ci_low"] == 0.0 and r["ci_high"] == 0.0, name
        assert not r["excludes_zero"], name
        assert r["rel"] in (None, 0.0), name
    assert cmp.significant == []


def test_clearly_different_plans_give_an_interval_that_excludes_zero():
    cmp = compare(MINIMAL, overrides=DEEPER, reps=8, seed=1)
    # deeper discount: more orders, a smaller basket (both intervals clear of 0)
    assert cmp.rows["orders"]["ci_low"] > 0
    assert cmp.rows["aov"]["ci_high"] < 0
    assert {"orders", "aov", "gmv"} <= set(cmp.significant)
    # the numbers are the paired differences of two runs on the same seeds
    s = load_scenario(MINIMAL)
    ka = simulate(s, reps=8, seed=1).kpis()
    kb = simulate(s.with_overrides(DEEPER), reps=8, seed=1).kpis()
    d = kb["orders"] - ka["orders"]
    assert cmp.rows["orders"]["diff"] == pytest.approx(d.mean(), rel=1e-12)
    # common random numbers: the paired interval is narrower than the unpaired (Welch) one
    se_unpaired = math.sqrt(ka["orders"].var() / 8 + kb["orders"].var() / 8)
    assert d.std() / math.sqrt(8) < se_unpaired


def test_result_folders_pair_by_replication_and_match_running_the_scenarios(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["run", MINIMAL, "--reps", "4", "--seed", "5", "--quiet", "--out", str(a)]) == 0
    assert main(["run", MINIMAL, "--reps", "4", "--seed", "5", "--quiet", "--out", str(b),
                 "--set", "skus.*.discount=0.3"]) == 0
    folders = compare(a, b)
    scenarios = compare(MINIMAL, overrides=DEEPER, reps=4, seed=5)
    mixed = compare(a, MINIMAL, overrides=DEEPER)         # the scenario runs on the folder's seeds
    assert folders.seed == mixed.seed == 5 and mixed.replications == [0, 1, 2, 3]
    for name, r in scenarios.rows.items():
        assert folders.rows[name]["diff"] == pytest.approx(r["diff"], rel=1e-12, abs=1e-9), name
        assert mixed.rows[name]["diff"] == pytest.approx(r["diff"], rel=1e-12, abs=1e-9), name
    assert folders.a.source == "results" and folders.a.label == "a"


def test_result_folders_on_different_seeds_are_refused(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    main(["run", MINIMAL, "--reps", "3", "--seed", "1", "--quiet", "--out", str(a)])
    main(["run", MINIMAL, "--reps", "3", "--seed", "2", "--quiet", "--out", str(b)])
    with pytest.raises(CompareError, match="different seeds.*seed 1.*seed 2"):
        compare(a, b)
    with pytest.raises(CompareError, match="ran on seed 1; --seed 9"):
        compare(a, MINIMAL, seed=9)
    with pytest.raises(CompareError, match="overrides"):
        compare(MINIMAL, b, overrides=DEEPER)
    with pytest.raises(CompareError, match="not a result folder"):
        compare(MINIMAL, tmp_path)


def test_unknown_kpi_gets_a_hint():
    with pytest.raises(CompareError, match="did you mean 'gmv'"):
        compare(MINIMAL, overrides=DEEPER, reps=2, kpis=["gvm"])


def test_chart_is_a_png():
    cmp = compare(MINIMAL, overrides=DEEPER, reps=3)
    png = chart_png(cmp)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


# ----------------------------------------------------------------------- command line
def test_cli_json_is_one_object_and_progress_is_quiet_lines(tmp_path, promosim):
    out = tmp_path / "cmp"
    p = promosim("compare", MINIMAL, "--set", "skus.*.discount=0.3", "--reps", "20", "--json", "--out", str(out))
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)                      # fails if stdout holds anything else
    assert data["b"]["overrides"] == DEEPER and data["replications"] == list(range(20))
    assert data["kpis"]["orders"]["excludes_zero"] and data["kpis"]["orders"]["ci_low"] > 0
    # not a terminal: plain lines, about one per 10 % of the 40 replications, no redraws
    lines = [line for line in p.stderr.splitlines() if line.startswith("compare: replications")]
    assert 1 <= len(lines) <= 12 and lines[-1].endswith("40/40")
    assert "\r" not in p.stderr and "\x1b" not in p.stderr
    assert json.loads((out / "compare.json").read_text()) == data
    assert (out / "compare.png").read_bytes()[:4] == b"\x89PNG"


def test_cli_table_marks_differences_whose_interval_excludes_zero(capsys):
    assert main(["compare", MINIMAL, MINIMAL, "--reps", "3", "--quiet"]) == 0
    same = capsys.readouterr().out
    assert "0 of" in same and "▲" not in same.split("\n", 3)[-1].split("▲/▼")[0]
    assert main(["compare", MINIMAL, "--set", "skus.*.discount=0.3", "--reps", "5", "--quiet",
                 "--kpis", "orders,aov"]) == 0
    text = capsys.readouterr().out
    assert "orders" in text and "▲" in text and "▼" in text and "gmv" not in text


def test_cli_usage_errors(capsys, tmp_path):
    assert main(["compare", MINIMAL, "--quiet"]) == 2
    assert "give plan B" in capsys.readouterr().err
    assert main(["compare", MINIMAL, str(tmp_path), "--quiet"]) == 2
    assert "not a result folder" in capsys.readouterr().err
    assert main(["compare", MINIMAL, "--set", "skus.*.discont=0.3", "--quiet"]) == 2
    assert "did you mean 'discount'" in capsys.readouterr().err

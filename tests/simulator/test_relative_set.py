"""What-ifs as a planner writes them: relative `--set` (`*=`, `/=`, `+=`, `-=`, each match moved
from its own value), and compare's reading of a difference — coloured good or bad for the
store, rows that are 0 in both plans hidden, rounding never called a difference."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from rich.console import Console

from simulator.commands.compare import _signed, print_comparison
from simulator.compare import compare, paired_difference
from simulator.naming import HIGHER_IS_BETTER, LOWER_IS_BETTER, RUN_KPIS, verdict
from simulator.scenario import ScenarioError
from simulator.scenario.overrides import Relative, parse_overrides
from tests.conftest import SCENARIOS

MINIMAL = str(SCENARIOS / "valid_minimal.yaml")


# ------------------------------------------------------------------ relative --set
@pytest.mark.parametrize("arg, path, rel", [
    ("channels.ads.cpc*=1.2", "channels.ads.cpc", Relative("*", 1.2)),
    ("channels.ads.cpc/=2", "channels.ads.cpc", Relative("/", 2.0)),
    ("skus.*.discount.burst+=0.05", "skus.*.discount.burst", Relative("+", 0.05)),
    ("skus.*.stock -= 10", "skus.*.stock", Relative("-", 10.0)),
])
def test_an_operator_before_the_equals_sign_is_a_relative_move(arg, path, rel):
    ov = parse_overrides([arg])
    assert dict(ov) == {path: rel}


def test_a_wildcard_step_before_the_equals_sign_is_still_a_plain_set():
    assert dict(parse_overrides(["skus.*=1"])) == {"skus.*": 1}


def test_each_match_moves_from_its_own_value(minimal):
    new = minimal.with_overrides(parse_overrides(["skus.*.discount.burst+=0.05", "channels.ads.cpc*=1.5"]))
    # lipstick: one number (0.1 in every phase) → its burst is 0.15, the other phases stay 0.1
    assert new.skus["lipstick"].discount_in("burst") == pytest.approx(0.15)
    assert new.skus["lipstick"].discount_in("warmup") == pytest.approx(0.1)
    # serum: its own burst 0.2 → 0.25, not flattened to lipstick's
    assert new.skus["serum"].discount_in("burst") == pytest.approx(0.25)
    assert new.skus["serum"].discount_in("warmup") == pytest.approx(0.05)
    assert new.channels["ads"].cpc == pytest.approx(1.2 * 1.5)
    assert minimal.channels["ads"].cpc == 1.2                       # the original is untouched


def test_an_integer_field_stays_an_integer(minimal):
    stock = {k: s.stock for k, s in minimal.skus.items()}
    new = minimal.with_overrides(parse_overrides(["skus.*.stock*=1.15"]))
    for k, s in new.skus.items():
        assert isinstance(s.stock, int) and s.stock == round(stock[k] * 1.15)


def test_a_no_op_relative_change_leaves_the_plan_equal(minimal):
    new = minimal.with_overrides(parse_overrides(["skus.*.price*=1", "channels.ads.cpc+=0"]))
    assert new.model_dump() == minimal.model_dump()


@pytest.mark.parametrize("arg, message", [
    ("skus.*.name*=2", "no match of the wildcard holds a number"),
    ("meta.name+=1", "holds 'minimal', not a number"),
    ("skus.lipstick.stock/=0", "/= divides by 0"),
    ("skus.lipstick.stock*=abc", "expected a finite number after '*=' (the value is multiplied by it), got 'abc'"),
    ("skus.lipstick.stock*=.inf", "expected a finite number after '*='"),
    ("skus.lipstick.stock*=true", "got True"),
    ("skus.lipstik.stock*=2", "did you mean 'lipstick'"),
])
def test_a_wrong_relative_set_names_the_argument_and_what_was_expected(minimal, arg, message):
    with pytest.raises(ScenarioError) as e:
        minimal.with_overrides(parse_overrides([arg]))
    text = str(e.value)
    assert message in text and f"--set {arg!r}" in text


def test_a_relative_move_that_leaves_the_valid_range_is_refused_at_each_place(minimal):
    with pytest.raises(ScenarioError, match=r"skus\.\*\.discount\.burst: expected a number from 0") as e:
        minimal.with_overrides(parse_overrides(["skus.*.discount.burst+=0.85"]))
    assert "got 1.05" in str(e.value) or "got 1.0499" in str(e.value)     # serum: 0.2 + 0.85


# -------------------------------------------------------------- compare's reading
def test_every_run_kpi_has_at_most_one_direction():
    assert not HIGHER_IS_BETTER & LOWER_IS_BETTER
    assert (HIGHER_IS_BETTER | LOWER_IS_BETTER) <= set(RUN_KPIS)
    assert verdict("gmv", 5.0) == "good" and verdict("gmv", -5.0) == "bad"
    assert verdict("lost_units", 5.0) == "bad" and verdict("marketing_cost", -1.0) == "good"
    assert verdict("cogs", 5.0) is None and verdict("gmv", 0.0) is None and verdict("gmv", None) is None


def test_rounding_is_never_a_difference():
    a = np.array([0.0407, 0.0411, 0.0399, 0.0402])
    b = a * (1 + 1e-13)                                   # the same rate computed another way
    r = paired_difference(a, b)
    assert r["diff"] == 0.0 and r["ci_low"] == r["ci_high"] == 0.0 and not r["excludes_zero"]
    # a real difference as small as 0.003 pp is shown with its digits, never as ±0.00 pp
    assert _signed("conversion_rate", -3e-5) == "−0.003 pp"
    assert _signed("conversion_rate", 0.0) == "0"
    assert "0.00" not in _signed("conversion_rate", 4e-7)


@pytest.fixture(scope="module")
def deeper():
    """MINIMAL against MINIMAL with every SKU's discount 10 points deeper, relative."""
    return compare(MINIMAL, overrides=parse_overrides(["skus.*.discount+=0.1"]), reps=6)


def test_deeper_discounts_read_good_and_bad_for_the_store(deeper):
    rows = deeper.rows
    assert rows["orders"]["excludes_zero"] and rows["orders"]["verdict"] == "good"
    assert rows["aov"]["excludes_zero"] and rows["aov"]["diff"] < 0 and rows["aov"]["verdict"] == "bad"
    for k, r in rows.items():           # a verdict exactly where the interval excludes 0 and the KPI has a way
        want = verdict(k, r["diff"]) if r["excludes_zero"] else None
        assert r["verdict"] == want, k


def test_the_table_colours_each_mark_by_its_verdict_and_hides_rows_zero_in_both(deeper):
    buf = io.StringIO()
    print_comparison(deeper, Console(file=buf, force_terminal=True, color_system="standard", width=160))
    text = buf.getvalue()
    lines = {line.split("│")[1].strip(): line for line in text.splitlines() if line.count("│") > 2}
    green, red = "\x1b[32m", "\x1b[31m"
    assert green + "▲" in lines["orders"] and red + "▼" in lines["aov"]
    zero = deeper.zero_in_both
    assert "coupon_cost" in zero and "coupon_cost" not in lines       # MINIMAL has no coupons
    assert "orders" not in zero
    assert "not shown, 0 in both plans: " in text and "coupon_cost" in text.split("not shown")[1]


def test_the_cli_reads_relative_sets_and_keeps_every_row_in_its_json(promosim):
    p = promosim("compare", MINIMAL, "--set", "skus.*.discount+=0.1", "--reps", "4", "--json")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert data["b"]["overrides"] == {"skus.*.discount": "+=0.1"}
    assert data["kpis"]["coupon_cost"]["mean_a"] == 0 and data["kpis"]["orders"]["verdict"] == "good"
    p = promosim("compare", MINIMAL, "--set", "skus.*.discount+=0.1", "--reps", "4", "--quiet")
    assert p.returncode == 0, p.stderr
    assert "with skus.*.discount+=0.1" in p.stdout and "not shown, 0 in both plans" in p.stdout
    assert "│ coupon_cost" not in p.stdout
    p = promosim("run", MINIMAL, "--set", "skus.*.stock/=0", "--reps", "1")
    assert p.returncode == 2 and "/= divides by 0" in p.stderr

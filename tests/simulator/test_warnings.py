"""Warnings for likely planner mistakes (`simulator.scenario.mistakes`): one small wrong plan per
warning, with the exact line `promosim validate` prints; a right plan and every bundled scenario
give none; `run` prints them before the run and lists them in `--json`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.cli import main

REPO = Path(__file__).resolve().parents[2]

# A right plan (no warning). Line numbers below count from its first line.
PLAN = """\
meta:
  name: small
  start: "2026-11-10 00:00"
  end: "2026-11-12 00:00"
  tick_minutes: 60
calendar:
  intraday: flat
  phases:
    - name: warmup
      kind: warmup
      start: "2026-11-10 00:00"
      end: "2026-11-11 00:00"
    - name: burst
      start: "2026-11-11 00:00"
      end: "2026-11-12 00:00"
      promo: [lipstick]
channels:
  organic: {kind: organic_search, visits_per_hour: 200}
skus:
  lipstick:
    price: 200
    unit_cost: 60
    discount: {burst: 0.25}
    base_conversion: 0.03
    promo_lift: 1.3
    stock: 500
flash_sales:
  midnight:
    sku: lipstick
    price: 129
    start: "2026-11-11 08:00"
    end: "2026-11-11 09:00"
    quantity: 100
"""


def warnings_of(tmp_path, capsys, plan: str) -> list[str]:
    """The warning lines `promosim validate` prints for `plan` (exit 0: a warning is no error)."""
    f = tmp_path / "plan.yaml"
    f.write_text(plan, encoding="utf-8")
    assert main(["validate", str(f)]) == 0
    out = capsys.readouterr()
    assert "plan.yaml: ok" in out.out
    return [line.replace(str(f), "plan.yaml") for line in out.err.splitlines() if ": warning: " in line]


def changed(old: str, new: str, plan: str = PLAN) -> str:
    assert plan.count(old) == 1, old
    return plan.replace(old, new)


def test_a_right_plan_gives_no_warning(tmp_path, capsys):
    assert warnings_of(tmp_path, capsys, PLAN) == []


@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "scenarios").glob("*.yaml")))
def test_bundled_scenarios_give_no_warning(name, capsys):
    assert main(["validate", str(REPO / "scenarios" / name)]) == 0
    assert "warning" not in capsys.readouterr().err


def test_a_discount_written_as_zhe(tmp_path, capsys):
    plan = changed("discount: {burst: 0.25}", "discount: {burst: 0.75}")
    assert warnings_of(tmp_path, capsys, plan) == [
        ("plan.yaml:23: warning: skus.lipstick.discount.burst: discount 0.75 in phase 'burst' takes 75 % off the "
        "list price 200, leaving 50, below unit_cost 60; it reads like 7.5折 (25 % off): probably meant "
        "discount 0.25 (a discount is the fraction taken off)")]


def test_a_deep_discount_above_cost_is_no_zhe(tmp_path, capsys):
    """0.7 off a price of 200 leaves 60, the unit cost itself: deep, but not below cost."""
    assert warnings_of(tmp_path, capsys, changed("discount: {burst: 0.25}", "discount: {burst: 0.7}")) == []


def test_a_discount_that_sells_below_unit_cost(tmp_path, capsys):
    plan = changed("unit_cost: 60", "unit_cost: 160")
    assert warnings_of(tmp_path, capsys, plan) == [
        ("plan.yaml:23: warning: skus.lipstick.discount.burst: discount 0.25 in phase 'burst' takes the price "
        "from 200 to 150, below unit_cost 160: each unit sells at a loss of 10 before marketing; probably meant "
        "a discount of at most 0.2 (the price at cost)")]


def test_a_single_discount_that_sells_below_unit_cost(tmp_path, capsys):
    plan = changed("discount: {burst: 0.25}", "discount: 0.5")
    plan = changed("unit_cost: 60", "unit_cost: 110", plan)
    assert warnings_of(tmp_path, capsys, plan) == [
        ("plan.yaml:23: warning: skus.lipstick.discount: discount 0.5 takes the price from 200 to 100, below "
        "unit_cost 110: each unit sells at a loss of 10 before marketing; probably meant a discount of at most "
        "0.45 (the price at cost)")]


def test_a_list_price_below_unit_cost(tmp_path, capsys):
    plan = changed("unit_cost: 60", "unit_cost: 210")
    assert warnings_of(tmp_path, capsys, plan) == [
        ("plan.yaml:21: warning: skus.lipstick.price: price 200 is below unit_cost 210: every unit sells at a loss "
        "even at list price; probably the two are swapped, or one is per pack and the other per unit")]


def test_a_flash_price_above_list(tmp_path, capsys):
    plan = changed("price: 129", "price: 229")
    assert warnings_of(tmp_path, capsys, plan) == [
        ("plan.yaml:30: warning: flash_sales.midnight.price: flash price 229 is above the list price of "
        "'lipstick' (200): the sale sells nothing cheaper than the shelf; probably meant a price below 200 "
        "(a flash sale's `price` is what buyers pay per unit)")]


def test_a_gap_between_phases(tmp_path, capsys):
    plan = changed('start: "2026-11-11 00:00"', 'start: "2026-11-11 03:00"')
    assert warnings_of(tmp_path, capsys, plan) == [
        ("plan.yaml:14: warning: calendar.phases.1.start: phase 'burst' starts at 2026-11-11 03:00, 3 h after "
        "phase 'warmup' ends (2026-11-11 00:00): the 3 h between them belong to no phase (list "
        "prices — each SKU's `default` discount —, intent 1, traffic × 1); probably meant "
        'start: "2026-11-11 00:00"')]


def test_promo_with_a_lift_of_one(tmp_path, capsys):
    plan = changed("    promo_lift: 1.3\n", "")
    assert warnings_of(tmp_path, capsys, plan) == [
        ("plan.yaml:16: warning: calendar.phases.1.promo.0: phase 'burst' puts 'lipstick' on promotion, but its "
        "promo_lift is 1 (no lift): being on promotion changes nothing; probably meant to set "
        "skus.lipstick.promo_lift (e.g. 1.2: 20 % more conversion while on promotion)")]


def test_promo_of_every_sku_with_a_lift_of_one(tmp_path, capsys):
    plan = changed("promo_lift: 1.3", "promo_lift: 1")
    plan = changed("promo: [lipstick]", "promo: ['*']", plan)
    assert warnings_of(tmp_path, capsys, plan) == [
        ("plan.yaml:16: warning: calendar.phases.1.promo.0: phase 'burst' puts every SKU on promotion ('*'), but "
        "promo_lift is 1 (no lift) for 'lipstick': being on promotion changes nothing for them; probably meant to "
        "set their promo_lift (e.g. 1.2: 20 % more conversion while on promotion)")]


def test_a_flash_quantity_above_stock(tmp_path, capsys):
    plan = changed("stock: 500", "stock: 80\n    inbound: [{at: \"2026-11-11 08:00\", quantity: 10}, "
                                 "{at: \"2026-11-11 09:00\", quantity: 1000}]")
    assert warnings_of(tmp_path, capsys, plan) == [
        ("plan.yaml:34: warning: flash_sales.midnight.quantity: quantity 100 is above the stock of 'lipstick' "
        "planned by the sale's start (2026-11-11 08:00): 90 (stock 80 + inbound 10), before anything sold "
        "earlier; the sale sets aside at most 90 units; probably meant quantity 90 or less, or more stock")]


def test_a_flash_sale_with_no_stock_at_its_start(tmp_path, capsys):
    plan = changed("stock: 500", "stock: 0\n    inbound: [{at: \"2026-11-11 12:00\", quantity: 1000}]")
    assert warnings_of(tmp_path, capsys, plan) == [
        ("plan.yaml:32: warning: flash_sales.midnight.start: flash sale 'midnight' starts at 2026-11-11 08:00, "
        "when 'lipstick' has no stock (stock 0, nothing arrives before): the sale sets aside min(quantity, stock "
        "on hand) = 0 units and sells nothing; probably meant to start at or after the first shipment "
        "(2026-11-11 12:00)")]


def test_a_reorder_that_lands_before_the_sale_is_stock(tmp_path, capsys):
    """Stock 0 at or below the reorder point: the reorder placed at the start lands at 06:00 of
    the second day (30 h later), before the 08:00 sale — no warning; a 40 h lead time lands
    after it."""
    reorder = "stock: 0\n    reorder: {point: 0, quantity: 300, lead_time_hours: %d}"
    assert warnings_of(tmp_path, capsys, changed("stock: 500", reorder % 30)) == []
    found = warnings_of(tmp_path, capsys, changed("stock: 500", reorder % 40))
    assert len(found) == 1 and "flash_sales.midnight.start" in found[0]


def test_a_catalogue_sku_is_warned_at_its_row(tmp_path, capsys):
    (tmp_path / "skus.csv").write_text("id,price,unit_cost,base_conversion,stock\n"
                                       "lipstick,200,60,0.03,500\nserum,300,320,0.02,100\n", encoding="utf-8")
    plan = changed("    promo_lift: 1.3\n", "") + "catalogue: skus.csv\n"
    plan = changed("promo: [lipstick]", "promo: []", plan)
    f = tmp_path / "plan.yaml"
    f.write_text(plan, encoding="utf-8")
    assert main(["validate", str(f)]) == 0
    err = capsys.readouterr().err
    assert f"{tmp_path / 'skus.csv'}:3: warning: skus.serum.price: price 300 is below unit_cost 320" in err
    assert f"{f}:23: warning: skus.lipstick.discount.burst" not in err   # 0.25 off 200 is above cost


def test_run_prints_warnings_first_and_lists_them_in_json(tmp_path, capsys):
    f = tmp_path / "plan.yaml"
    f.write_text(changed("price: 129", "price: 229"), encoding="utf-8")
    assert main(["run", str(f), "--reps", "1", "--json", "--quiet"]) == 0
    out = capsys.readouterr()
    payload = json.loads(out.out)
    assert payload["warnings"] == [{"file": str(f), "line": 30, "path": "flash_sales.midnight.price", "message": (
        "flash price 229 is above the list price of 'lipstick' (200): the sale sells nothing cheaper than the "
        "shelf; probably meant a price below 200 (a flash sale's `price` is what buyers pay per unit)")}]
    assert out.err.startswith(f"{f}:30: warning: flash_sales.midnight.price:")
    assert payload["kpis"]["orders"]["mean"] > 0            # the run went on


def test_validate_json_lists_warnings_and_errors(tmp_path, capsys):
    f, bad = tmp_path / "plan.yaml", tmp_path / "bad.yaml"
    f.write_text(changed("price: 129", "price: 229"), encoding="utf-8")
    bad.write_text(changed("stock: 500", "stock: -1"), encoding="utf-8")
    assert main(["validate", "--json", str(f), str(bad)]) == 2
    files = json.loads(capsys.readouterr().out)["files"]
    assert [x["ok"] for x in files] == [True, False]
    assert [w["path"] for w in files[0]["warnings"]] == ["flash_sales.midnight.price"]
    assert files[1]["errors"][0]["path"] == "skus.lipstick.stock" and files[1]["errors"][0]["line"] == 26


def test_compare_warns_about_the_plan_its_overrides_make(capsys):
    """B = A with `--set skus.lipstick.discount=0.75`: the 折 warning names A's file and the line
    of the value the override replaces; A itself draws none."""
    minimal = REPO / "tests" / "scenarios" / "valid_minimal.yaml"
    assert main(["compare", str(minimal), "--set", "skus.lipstick.discount=0.75", "--reps", "2", "--quiet"]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if ": warning: " in line]
    assert err == [(f"{minimal}:39: warning: skus.lipstick.discount: discount 0.75 takes 75 % off the list price "
                   "199, leaving 49.75, below unit_cost 60; it reads like 7.5折 (25 % off): probably meant discount "
                   "0.25 (a discount is the fraction taken off)")]

"""The optimize block is checked at load, and `salvage_value` prices leftover stock.

Every file in `tests/scenarios/invalid_optimize/` is `valid_minimal.yaml` with one wrong
`optimize:` block; its first line reads `# expect: <line>: <path>: <message fragment>`, as in
`tests/scenarios/invalid/` (test_scenario_errors.py)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from simulator.naming import RUN_KPIS
from simulator.runner import simulate
from simulator.scenario import ScenarioError, load_scenario
from tests.helpers import one_sku

HERE = Path(__file__).resolve().parents[1] / "scenarios"
INVALID = sorted((HERE / "invalid_optimize").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (?P<line>\d+|-): (?P<path>[^\s:]+): (?P<fragment>.+)$")


def test_the_folder_covers_the_issue_s_mistakes():
    names = {p.stem for p in INVALID}
    assert {"unknown_path", "empty_range", "constraint_unknown_kpi"} <= names
    assert len(INVALID) >= 12


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_wrong_optimize_block_reports_its_mistake(path: Path):
    m = EXPECT.match(path.read_text(encoding="utf-8").splitlines()[0])
    assert m, f"{path.name}: first line must be '# expect: <line>: <path>: <fragment>'"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    issues = info.value.issues
    assert len(issues) == 1, f"one mistake, one message; got:\n{info.value}"
    issue = issues[0]
    line = None if m["line"] == "-" else int(m["line"])
    assert (issue.file, issue.line, issue.path) == (str(path), line, m["path"]), str(issue)
    assert m["fragment"] in issue.message, str(issue)


def test_the_same_block_on_a_valid_scenario_loads_and_survives_overrides(tmp_path):
    text = (HERE / "valid_minimal.yaml").read_text() + (
        "optimize:\n"
        "  variables:\n"
        "    channels.ads.daily_budget: {low: 200, high: 2000, step: 100}\n"
        "    skus.*.discount.burst: {low: 0.0, high: 0.6}\n"
        "    skus.*.discount.warmup: {low: 1.0, high: 1.5, scale: true}\n"
        "  constraints:\n"
        "    - {kpi: roi, min: 2}\n"
        "    - {kpi: stockout_probability, max: 0.2, before: 2026-11-11 12:00, skus: [serum]}\n")
    (tmp_path / "ok.yaml").write_text(text)
    s = load_scenario(tmp_path / "ok.yaml")
    assert s.optimize.objectives[0].kpi == "gross_profit"
    s2 = s.with_overrides({"channels.ads.cpc": 2.0})
    assert s2.optimize == s.optimize
    # an override that makes a decision's range impossible is caught, with the decision named
    with pytest.raises(ScenarioError, match=r"optimize\.variables\.skus\.\*\.discount\.warmup\.high: "
                       r"high = 1\.5 \(× the plan's values\) is not a valid value"):
        s.with_overrides({"skus.*.discount.warmup": 0.8})


# ------------------------------------------------------------ salvage value
def test_leftover_stock_is_written_down_to_its_salvage_value():
    """stock_writedown = ending stock × (unit cost − salvage), and gross profit pays it."""
    plain = one_sku(stock=5000, hours=4)
    salvaged = one_sku(stock=5000, hours=4, sku={"salvage_value": 10.0})
    a, b = (simulate(s, reps=3, seed=2).kpis() for s in (plain, salvaged))
    assert "stock_writedown" in RUN_KPIS
    assert (a["stock_writedown"] == 0).all()                     # default: leftovers keep their cost
    assert b["units"].tolist() == a["units"].tolist()            # the same visitors, the same sales
    ending = b["ending_stock"].to_numpy()
    assert ending.min() > 0
    assert b["stock_writedown"].to_numpy() == pytest.approx(ending * (40.0 - 10.0))
    assert b["gross_profit"].to_numpy() == pytest.approx(a["gross_profit"].to_numpy() - ending * 30.0)


def test_salvage_value_comes_from_the_catalogue_too(tmp_path):
    (tmp_path / "c.csv").write_text("id,price,unit_cost,salvage_value,base_conversion,stock\n"
                                    "a,100,40,15,0.05,100\n")
    text = (HERE / "valid_minimal.yaml").read_text().split("skus:\n")[0]
    text = text.split("segments:")[0] if "segments:" in text else text
    (tmp_path / "s.yaml").write_text(text + "catalogue: c.csv\n")
    s = load_scenario(tmp_path / "s.yaml")
    assert s.skus["a"].salvage_value == 15.0
    assert np.isfinite(simulate(s, reps=1, seed=0).kpis()["stock_writedown"]).all()

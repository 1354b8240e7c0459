"""`promosim bench`: baselines keyed by file name, tolerances, a regression caught and named,
`--update`, JUnit XML, the Markdown summary, and the committed baseline."""

import re
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from simulator.bench import (
    BaselineError,
    Tolerance,
    check_kpi,
    kpi_stats,
    load_baseline,
    tolerance_for,
    validate_tolerances,
)
from simulator.cli import main
from simulator.naming import RUN_KPIS
from tests.conftest import SCENARIOS

REPO = Path(__file__).resolve().parents[2]
# Small scenarios with enough orders over their own meta.replications (200; 10 for the minimal
# one) that a 5 % fall in conversion is well outside 3 standard errors of the difference.
SUITE = [SCENARIOS / "valid_minimal.yaml", *(SCENARIOS / "equivalence" / f"{n}.yaml"
                                             for n in ("price", "budget"))]
REGRESSED = "price.yaml"


def copy_suite(folder: Path) -> Path:
    folder.mkdir()
    for f in SUITE:
        shutil.copy(f, folder / f.name)
    return folder


def lower_conversion(path: Path, factor: float = 0.95) -> None:
    """Every SKU's base_conversion × factor, in place (comments and layout kept)."""
    y = YAML(typ="rt")
    data = y.load(path.read_text())
    for sku in data["skus"].values():
        sku["base_conversion"] = sku["base_conversion"] * factor
    with path.open("w") as f:
        y.dump(data, f)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """(scenario folder, baseline) — the baseline freshly recorded from the folder with --update."""
    root = tmp_path_factory.mktemp("bench")
    folder = copy_suite(root / "scenarios")
    baseline = root / "baseline.json"
    assert main(["bench", str(folder), "--baseline", str(baseline), "--update", "--quiet"]) == 0
    return folder, baseline


@pytest.fixture(scope="module")
def regressed(recorded, tmp_path_factory):
    """A copy of the folder in which price.yaml converts 5 % less (same file name)."""
    folder = copy_suite(tmp_path_factory.mktemp("regressed") / "scenarios")
    lower_conversion(folder / REGRESSED)
    return folder


# ----------------------------------------------------------------------- the suite
def test_update_records_every_kpi_of_every_scenario_with_its_seed_and_versions(recorded):
    _, baseline = recorded
    data = load_baseline(baseline)
    assert set(data["scenarios"]) == {f.name for f in SUITE}
    assert data["tolerances"]["default"] == {"rel": 0.02, "sigmas": 3}
    price = data["scenarios"]["price.yaml"]
    assert price["seed"] == 0 and price["reps"] == 200
    assert set(price["versions"]) == {"promosim", "numpy"}
    assert set(RUN_KPIS) <= set(price["kpis"])
    orders = price["kpis"]["orders"]
    assert set(orders) == {"mean", "std", "n", "p5", "p50", "p95"} and orders["n"] == 200
    assert orders["p5"] <= orders["p50"] <= orders["p95"] and orders["std"] > 0


def test_bench_passes_on_an_unchanged_project_and_on_a_copied_folder(recorded, tmp_path, capsys):
    folder, baseline = recorded
    junit, summary = tmp_path / "bench.xml", tmp_path / "bench.md"
    assert main(["bench", str(folder), "--baseline", str(baseline), "--quiet",
                 "--junit", str(junit), "--summary", str(summary)]) == 0
    out = capsys.readouterr().out
    assert f"all {len(SUITE)} scenario(s) match" in out
    suites = ET.parse(junit).getroot()
    assert suites.get("failures") == "0" and suites.get("errors") == "0"
    assert int(suites.get("tests")) >= len(SUITE) * len(RUN_KPIS)
    assert f"✅ all {len(SUITE)} scenario(s) within tolerance" in summary.read_text()
    # baselines are keyed by file name: a copy elsewhere checks against the same entries
    copy = copy_suite(tmp_path / "elsewhere")
    assert main(["bench", str(copy), "--baseline", str(baseline), "--quiet"]) == 0


def test_an_injected_regression_fails_and_names_the_scenario_and_kpi(recorded, regressed, tmp_path, capsys):
    _, baseline = recorded
    junit, summary = tmp_path / "bench.xml", tmp_path / "bench.md"
    rc = main(["bench", str(regressed), "--baseline", str(baseline), "--quiet",
               "--junit", str(junit), "--summary", str(summary)])
    assert rc == 1
    out = capsys.readouterr().out
    assert f"FAIL  {REGRESSED}" in out
    assert re.search(rf"{re.escape(REGRESSED)}: orders changed by -[45]\.\d+%", out)
    assert f"{REGRESSED}: gmv changed by" in out
    for other in ("budget.yaml", "valid_minimal.yaml"):
        assert f"ok    {other}" in out
    # JUnit: the failures sit in price.yaml's suite, one testcase per KPI, named in the message
    root = ET.parse(junit).getroot()
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {f.name for f in SUITE}
    assert all(s.get("failures") == "0" for name, s in suites.items() if name != REGRESSED)
    failed = {c.get("name"): c.find("failure") for c in suites[REGRESSED].iter("testcase")
              if c.find("failure") is not None}
    assert {"orders", "gmv", "conversion_rate"} <= set(failed)
    assert "visits" not in failed                       # traffic did not change
    msg = failed["orders"].get("message")
    assert re.match(rf"{re.escape(REGRESSED)}: orders changed by -[45]\.\d+%", msg) and "allowed ±" in msg
    assert root.get("failures") == str(len(failed))
    # Markdown: the scenario's table lists the failing KPIs with ❌, the others are folded ✅
    md = summary.read_text()
    assert md.startswith("## promosim bench — ❌")
    assert f"### ❌ {REGRESSED}" in md
    row = next(line for line in md.splitlines() if line.startswith("| orders |") and "❌" in line)
    assert re.search(r"[−-][45]\.\d+ %", row)
    assert "<summary>✅ budget.yaml" in md


def test_update_rewrites_the_baseline_and_prints_what_changed(recorded, regressed, tmp_path, capsys):
    _, baseline = recorded
    mine = tmp_path / "baseline.json"
    shutil.copy(baseline, mine)
    before = json.loads(mine.read_text())
    # an unchanged project rewrites nothing (same bytes)
    assert main(["bench", str(recorded[0]), "--baseline", str(mine), "--update", "--quiet"]) == 0
    assert "unchanged" in capsys.readouterr().out and mine.read_text() == baseline.read_text()
    # the regressed folder: --update records it and says what moved
    assert main(["bench", str(regressed), "--baseline", str(mine), "--update", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"moved {REGRESSED}" in out and "orders:" in out and "(beyond tolerance)" in out
    assert "same  budget.yaml" in out and "baseline written to" in out
    after = json.loads(mine.read_text())
    ratio = after["scenarios"][REGRESSED]["kpis"]["orders"]["mean"] / before["scenarios"][REGRESSED]["kpis"]["orders"]["mean"]
    assert 0.93 < ratio < 0.97
    assert after["scenarios"]["budget.yaml"] == before["scenarios"]["budget.yaml"]
    assert after["tolerances"] == before["tolerances"]
    # and now the regressed folder is the baseline
    assert main(["bench", str(regressed), "--baseline", str(mine), "--quiet"]) == 0


# ----------------------------------------------------------------------- tolerances
def stats(mean, std=0.0, n=10):
    return {"mean": mean, "std": std, "n": n, "p5": None, "p50": None, "p95": None}


def test_the_largest_allowance_applies():
    tol = Tolerance(rel=0.02, abs=5.0, sigmas=3)
    # rel: 2 % of 1000 = 20; abs 5; 3σ of the difference: 3·√(10²/10 + 10²/10) = 13.4
    allowed, rule = tol.allowance(stats(1000, 10), stats(1000, 10))
    assert (allowed, rule) == (pytest.approx(20.0), "rel")
    allowed, rule = tol.allowance(stats(1000, 40), stats(1000, 40))
    assert allowed == pytest.approx(3 * (2 * 40**2 / 10) ** 0.5) and rule == "3σ"
    allowed, rule = tol.allowance(stats(10, 0), stats(10, 0))
    assert (allowed, rule) == (5.0, "abs")
    assert Tolerance().allowance(stats(10), stats(10)) == (0.0, "exact")


def test_check_kpi_passes_inside_and_fails_outside_with_a_named_message():
    tol = Tolerance(rel=0.02)
    assert check_kpi("x.yaml", "gmv", stats(1000), stats(1019.9), tol).status == "ok"
    bad = check_kpi("x.yaml", "gmv", stats(1000), stats(1020.1), tol)
    assert bad.status == "fail" and bad.message.startswith("x.yaml: gmv changed by +2.01%")
    assert check_kpi("x.yaml", "fees", stats(0.0), stats(0.0), Tolerance()).status == "ok"
    assert check_kpi("x.yaml", "fees", stats(0.0), stats(1e-9), Tolerance()).status == "fail"
    assert check_kpi("x.yaml", "roi", stats(None), stats(None), tol).status == "ok"
    assert "undefined" in check_kpi("x.yaml", "roi", stats(3.0), stats(None), tol).message
    assert check_kpi("x.yaml", "gmv", stats(1), stats(9), Tolerance(ignore=True)).status == "ignored"
    assert check_kpi("x.yaml", "new_kpi", None, stats(9), tol).status == "new"
    assert check_kpi("x.yaml", "gmv", stats(1), None, tol).status == "fail"


def test_tolerance_levels_override_key_by_key():
    tol = {"default": {"rel": 0.02, "sigmas": 3},
           "kpis": {"lost_units": {"rel": 0.1, "abs": 50}},
           "scenarios": {"a.yaml": {"default": {"sigmas": None}, "kpis": {"lost_units": {"abs": 80}}}}}
    validate_tolerances(tol, RUN_KPIS)
    assert tolerance_for(tol, "b.yaml", "gmv") == Tolerance(rel=0.02, sigmas=3)
    assert tolerance_for(tol, "b.yaml", "lost_units") == Tolerance(rel=0.1, abs=50, sigmas=3)
    assert tolerance_for(tol, "a.yaml", "gmv") == Tolerance(rel=0.02)
    assert tolerance_for(tol, "a.yaml", "lost_units") == Tolerance(rel=0.1, abs=80)


@pytest.mark.parametrize("tol, message", [
    ({"default": {"sigma": 3}}, "unknown tolerance 'sigma'; did you mean 'sigmas'"),
    ({"default": {"rel": -1}}, "tolerances.default.rel: expected a number ≥ 0"),
    ({"kpis": {"gvm": {"rel": 0.1}}}, "unknown KPI 'gvm'; did you mean 'gmv'"),
    ({"kpis": {"gmv": {"ignore": "yes"}}}, "ignore: expected true or false"),
    ({"defaults": {}}, "unknown key 'defaults'; did you mean 'default'"),
])
def test_bad_tolerances_are_named(tol, message):
    with pytest.raises(BaselineError, match=message.replace("(", r"\(")):
        validate_tolerances(tol, RUN_KPIS)


def test_kpi_stats_skip_undefined_values():
    s = kpi_stats([1.0, None, 3.0, float("nan")])
    assert s["n"] == 2 and s["mean"] == 2.0 and s["std"] == pytest.approx(2**0.5)
    assert kpi_stats([None])["mean"] is None


# ----------------------------------------------------------------------- errors and output
def test_missing_entries_and_files(recorded, tmp_path, capsys):
    _, baseline = recorded
    folder = tmp_path / "s"
    folder.mkdir()
    shutil.copy(SUITE[0], folder / "brand_new.yaml")
    shutil.copy(SUITE[0], folder / SUITE[0].name)
    assert main(["bench", str(folder), "--baseline", str(baseline), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert "no baseline entry for brand_new.yaml" in captured.out and "--update" in captured.out
    # entries whose file was not run are warnings, not failures
    assert "warning: baseline entry price.yaml: no scenario file of that name was run" in captured.err
    assert main(["bench", str(folder / SUITE[0].name), "--baseline", str(baseline), "--quiet"]) == 0
    assert main(["bench", str(folder), "--baseline", str(tmp_path / "none.json"), "--quiet"]) == 2
    assert "no such baseline file" in capsys.readouterr().err


def test_invalid_scenario_is_an_error_that_names_the_file(recorded, tmp_path, capsys):
    _, baseline = recorded
    folder = tmp_path / "s"
    folder.mkdir()
    shutil.copy(SCENARIOS / "invalid" / "negative_stock.yaml", folder / "valid_minimal.yaml")
    junit = tmp_path / "bench.xml"
    assert main(["bench", str(folder), "--baseline", str(baseline), "--quiet", "--junit", str(junit)]) == 2
    assert "ERROR valid_minimal.yaml: invalid scenario" in capsys.readouterr().out
    error = ET.parse(junit).getroot().find("testsuite/testcase/error")
    assert error is not None and "valid_minimal.yaml" in error.get("message")


def test_bad_baseline_tolerance_is_a_usage_error(recorded, tmp_path, capsys):
    folder, baseline = recorded
    data = json.loads(baseline.read_text())
    data["tolerances"]["default"]["sigma"] = 3
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    assert main(["bench", str(folder), "--baseline", str(bad), "--quiet"]) == 2
    assert "did you mean 'sigmas'" in capsys.readouterr().err


def test_cli_logs_a_line_per_scenario_and_json_is_one_object(recorded, regressed, promosim):
    _, baseline = recorded
    p = promosim("bench", str(regressed), "--baseline", str(baseline), "--json")
    assert p.returncode == 1, p.stderr
    report = json.loads(p.stdout)                   # fails if stdout holds anything else
    assert report["ok"] is False and report["regressions"] >= 3
    assert report["scenarios"][REGRESSED]["kpis"]["orders"]["status"] == "fail"
    # not a terminal: exactly one plain line per scenario on stderr, no redraws or colours
    lines = [line for line in p.stderr.splitlines() if line.startswith("bench [")]
    assert len(lines) == len(SUITE)
    assert any(REGRESSED in line and "FAIL" in line for line in lines)
    assert "\r" not in p.stderr and "\x1b" not in p.stderr


def test_progress_in_logs_is_a_line_per_tenth(capsys):
    from simulator.progress import Progress

    with Progress("work", 100) as bar:
        for i in range(1, 101):
            bar.update(i)
        bar.log("one line of news")
    err = capsys.readouterr().err.splitlines()
    assert err[-2:] == ["work: 100/100", "one line of news"] and len(err) <= 12
    with Progress("work", 100, enabled=False) as bar:
        bar.update(50)
        bar.log("hidden")
    with Progress("work", 100, lines=False) as bar:
        bar.update(50)
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------- the committed baseline
def test_committed_baseline_is_valid_and_recorded_under_the_pinned_versions():
    data = load_baseline(REPO / "benchmarks" / "baseline.json")
    pins = dict(line.strip().split("==") for line in (REPO / ".ci" / "constraints.txt").read_text().splitlines()
                if "==" in line)
    for name, entry in data["scenarios"].items():
        assert entry["versions"]["numpy"] == pins["numpy"], name
        assert (REPO / "scenarios" / name).is_file(), f"{name} has no file in scenarios/"


@pytest.mark.slow
def test_bundled_scenarios_match_the_committed_baseline(tmp_path):
    """Fails after an engine change until the baseline is regenerated:
    `promosim bench scenarios --baseline benchmarks/baseline.json --update`."""
    summary = tmp_path / "bench.md"
    rc = main(["bench", str(REPO / "scenarios"), "--baseline", str(REPO / "benchmarks" / "baseline.json"),
               "--quiet", "--summary", str(summary)])
    assert rc == 0, summary.read_text()

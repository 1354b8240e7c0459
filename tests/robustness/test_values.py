"""Values that passed validation and then misbehaved, found by issue 16: a rule whose `*=`
overflows, SKU ids a spreadsheet runs as formulas, a history whose header is not one, a
history stretched over centuries by one mistyped year, reorders placed lot by lot, and the
run-size estimate that refuses what would not fit."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest

from calibration.history import load_history
from simulator.cli import main
from simulator.runner import simulate
from simulator.scenario import ScenarioError
from tests.helpers import at, one_sku
from tests.robustness.cases import INPUTS, MINIMAL
from tests.robustness.sandbox import run_cli


def _search(rule_then: str, budget: float = 500.0):
    return one_sku(stock=10_000, hours=6, extra={
        "channels": {"ads": {"kind": "paid_search", "cpc": 1.0, "clicks_per_hour": 100.0, "daily_budget": budget}},
        "rules": [{"name": "boom", "every": "1h", "when": "hour >= 2", "then": rule_then, "max_firings": 2}]})


@pytest.mark.parametrize("then", ["ads.daily_budget *= 1e300", "ads.daily_budget += 1e308",
                                  "ads.daily_budget *= 1e10"])
def test_a_rule_that_would_overflow_a_budget_fails_and_changes_nothing(then):
    """`*=`/`+=` past a float (or past 10¹², the largest budget a scenario may hold) fails the
    rule like `= 1e400` would: a rule_failed event, the budget as it was, no firing."""
    rec = simulate(_search(then), reps=1, seed=1).records[0]
    kinds = [k for _, k, *_ in rec.sorted_events()]
    assert "rule_failed" in kinds and "rule_fired" not in kinds, kinds
    assert rec.plan_changes == []
    assert np.isfinite(rec.by_channel["ad_spend"]).all()
    assert rec.by_channel["ad_spend"][:, 1].sum() <= 500.0 + 1e-9


def test_a_rule_within_bounds_still_fires():
    rec = simulate(_search("ads.daily_budget *= 2"), reps=1, seed=1).records[0]
    assert [p for _, p, _ in rec.plan_changes] == ["channels.ads.daily_budget"] * 2


def test_sku_ids_a_spreadsheet_would_run_are_quoted_in_csv_and_read_back_exactly(tmp_path):
    out = tmp_path / "res"
    assert main(["run", str(INPUTS / "formula_sku.yaml"), "--reps", "2", "--quiet", "--format", "csv",
                 "--out", str(out)]) == 0
    rows = list(csv.reader(io.StringIO((out / "timeseries.csv").read_text(encoding="utf-8"))))
    names = {r[3] for r in rows[1:]}
    assert "'=HYPERLINK(\"http://x\")" in names and "'-serum" in names
    assert not any(cell.startswith(("=", "+", "-", "@")) for r in rows for cell in r
                   if not cell.lstrip("-").replace(".", "", 1).replace("e", "", 1).isdigit())
    from simulator.files import read_table

    back = read_table(out / "timeseries.csv")
    assert {"=HYPERLINK(\"http://x\")", "-serum"} <= set(back["name"])
    assert main(["report", str(out)]) == 0          # the report reads them back as the ids they are


def test_a_header_that_is_not_one_is_not_echoed(tmp_path):
    """A file whose first line is not a header of column names (here a scenario's YAML, one
    long line of junk): the message says what was expected instead of quoting it."""
    junk = tmp_path / "h.csv"
    junk.write_text("meta: {name: minimal} then a long line of a scenario where a header should be\n"
                    "channels: {organic: {kind: organic_search}}\n")
    from calibration.history import HistoryError

    with pytest.raises(HistoryError) as info:
        load_history(junk, None, ["lipstick"])
    text = str(info.value)
    assert "minimal" not in text and "scenario" not in text, text
    assert "expected one such as period,sku,units" in text


def test_one_mistyped_year_warns_and_stays_fast(tmp_path):
    """One row in 1926 among thirty days of 2026 would stretch the history over a century of
    missing days: the row is left out with a warning naming its line, the calibration runs on
    the rest (guarded by the sandbox's hang guard, not timed)."""
    lines = (INPUTS / "history.csv").read_text().splitlines()
    lines[9] = lines[9].replace("2026-01-05", "1926-01-05")
    history = tmp_path / "history.csv"
    history.write_text("\n".join(lines) + "\n")
    out = run_cli(["calibrate", str(INPUTS / "cal.yaml"), "--history", str(history), "--no-plots", "--quiet",
                   "--json", "--out", str(tmp_path / "cal")], timeout=60)
    assert out.code == 0 and out.killed is None, out.describe()
    payload = json.loads(out.stdout)
    [w] = [w for w in payload["warnings"] if "apart" in w]
    assert "1 row(s) lie 36,520 days apart from the other 59 (the first on line 10: 1926-01-05)" in w
    assert payload["history"]["periods"] == 30


def test_one_mistyped_year_is_an_error_under_strict(tmp_path):
    from calibration.history import HistoryError
    from simulator.scenario.history_schema import HistorySpec

    lines = (INPUTS / "history.csv").read_text().splitlines()
    lines[9] = lines[9].replace("2026-01-05", "1826-01-05")       # Shanghai kept local mean time then
    history = tmp_path / "history.csv"
    history.write_text("\n".join(lines) + "\n")
    with pytest.raises(HistoryError, match=r"history.csv:10: period: 1 row\(s\) lie 73,044 days apart"):
        load_history(history, HistorySpec(strict=True), ["tee", "cap"])
    h = load_history(history, HistorySpec(), ["tee", "cap"])       # not strict: left out, 30 days kept
    assert len(h.periods) == 30 and h.warnings


def test_reorders_of_a_million_lots_of_one_are_placed_at_once():
    """A reorder point of 10⁶ with lots of 1: every check places its lots as one order (one
    event, one delivery) — stock play never loops per lot; units are conserved."""
    sc = one_sku(stock=10, hours=4, sku={"reorder": {"point": 1_000_000, "quantity": 1, "lead_time_hours": 1}})
    for engine in ("fast", "reference"):
        rec = simulate(sc, reps=1, seed=3, engine=engine).records[0]
        orders = [(t, v) for t, k, _, v in rec.sorted_events() if k == "reorder"]
        assert orders[0] == (0, 999_991.0)                      # position 10: 10⁶ − 10 + 1 lots of one
        sold = rec.by_sku["units"][:, 0].sum()
        assert len(orders) <= 1 + sold                          # then at most one order per sale, never per lot
        assert sum(v for _, v in orders) == 999_991 + sold
        inbound = rec.by_sku["inbound"][:, 0].sum()
        assert rec.stock[-1, 0] == 10 + inbound - rec.by_sku["units"][:, 0].sum()


def test_the_run_size_estimate_refuses_what_would_not_fit_and_force_overrides_it():
    from simulator import size
    from simulator.scenario import load_scenario

    s = load_scenario(MINIMAL)
    assert size.check(s, 10).memory < size.MAX_MEMORY
    far = s.with_overrides({"meta.end": "9999-12-31 00:00"})
    with pytest.raises(size.RunTooLarge, match="69,891,096 ticks .* --force"):
        size.check(far, 10)
    assert size.check(far, 10, force=True).ticks == 69_891_096
    with pytest.raises(size.RunTooLarge, match="busiest tick orders about"):
        size.check(s, 1, scale=1e6)
    many = s.with_overrides({"meta.end": "2027-11-10 00:00", "meta.tick_minutes": 1})
    with pytest.raises(size.RunTooLarge):
        size.check(many, 100_000)


def test_the_bundled_scenarios_fit_the_run_size_limits():
    from pathlib import Path

    from simulator import size
    from simulator.scenario import load_scenario

    for f in sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml")):
        s = load_scenario(f)
        size.check(s, s.meta.replications)
        size.check(s, s.meta.replications, scale=10)      # and ten times their traffic (RESULTS.md's ×10)


def test_validate_and_run_agree_on_a_rule_the_engines_cannot_play(tmp_path, capsys):
    """The same refusal, with the file and line, from validate and from run."""
    from tests.robustness.cases import SCENARIOS

    bad = SCENARIOS / "invalid_rules" / "changes_a_display_channel.yaml"
    assert main(["validate", str(bad)]) == 2
    said = capsys.readouterr().err
    assert main(["run", str(bad), "--quiet"]) == 2
    assert capsys.readouterr().err == said
    assert f"{bad}:58: rules.0.then: rule 'more_display' changes display channel 'feed'" in said


def test_a_problem_found_after_load_is_named_by_file_and_line(tmp_path, capsys):
    """The expected engine cannot play store coupons: the refusal names the scenario file and
    the coupons' line, not `<scenario>`."""
    text = (INPUTS / "cal.yaml").read_text().replace(
        "calibrate:", "coupons:\n  c1: {threshold: 100, amount: 10, quantity: 100, claim_rate: 0.1}\ncalibrate:")
    (tmp_path / "cal.yaml").write_text(text)
    (tmp_path / "history.csv").write_text((INPUTS / "history.csv").read_text())
    assert main(["calibrate", str(tmp_path / "cal.yaml"), "--quiet", "--no-plots",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{tmp_path / 'cal.yaml'}:15: coupons: the expected engine"), err
    assert not (tmp_path / "o").exists()


def test_scenario_error_messages_never_read_like_pydantic(minimal):
    """Every refused value reads in the house wording: no 'Input should be', no pydantic URL."""
    for path, value in [("meta.name", 5), ("skus.lipstick.name", ["a"]), ("meta.currency", {"a": 1}),
                        ("calendar.phases.0.kind", "sael"), ("segments.new.customers", 0.5),
                        ("rules", [{"name": "", "when": "x", "then": "y"}]), ("meta.start", [1]),
                        ("channels.ads.ctr_by_position", [0.1] * 30), ("calendar.intraday", [1] * 23)]:
        with pytest.raises(ScenarioError) as info:
            minimal.with_overrides({path: value})
        text = str(info.value)
        assert "Input should" not in text and "errors.pydantic.dev" not in text and "Value error," not in text, text


def test_kpis_stay_finite_at_the_top_of_every_range():
    """The largest price and the largest stock a scenario may hold give finite KPIs."""
    sc = one_sku(stock=10**12, hours=3, sku={"price": 1e8, "unit_cost": 1e8})
    res = simulate(sc, reps=1, seed=1)
    kpis = res.summary()["kpis"]
    assert all(v["mean"] is None or np.isfinite(v["mean"]) for v in kpis.values())
    assert kpis["gmv"]["mean"] is not None and kpis["ending_stock"]["mean"] is not None
    assert pd.Series([kpis["cogs"]["mean"]]).notna().all()
    assert at(0)  # the helpers' clock (a day of one SKU)


def test_writing_a_result_never_replaces_a_device_a_pipe_or_a_link(tmp_path):
    """`--junit /dev/null` once replaced /dev/null with a regular file (a rename over it, as
    root): a device or a pipe is written into as it is, a link is followed, a folder refused."""
    import os
    import threading

    from simulator.files import atomic_write_bytes

    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    got = []
    reader = threading.Thread(target=lambda: got.append(pipe.read_bytes()))
    reader.start()
    atomic_write_bytes(pipe, b"<testsuites/>")
    reader.join(timeout=10)
    assert got == [b"<testsuites/>"] and pipe.is_fifo()

    target = tmp_path / "real.xml"
    target.write_bytes(b"old")
    link = tmp_path / "link.xml"
    link.symlink_to(target)
    atomic_write_bytes(link, b"new")
    assert link.is_symlink() and target.read_bytes() == b"new"

    with pytest.raises(IsADirectoryError, match="is a folder; expected a file to write"):
        atomic_write_bytes(tmp_path, b"x")
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


def test_an_output_folder_whose_parent_cannot_be_written_takes_the_new_run_file_by_file(tmp_path, monkeypatch):
    """A mounted volume: --out can be written, its parent cannot. The run stages inside the
    folder and moves its files in, run.json last; no stale file of the old run stays."""
    import simulator.output_set as output_set

    out = tmp_path / "res"
    assert main(["run", str(MINIMAL), "--reps", "2", "--seed", "1", "--quiet", "--format", "csv",
                 "--out", str(out)]) == 0
    (out / "report.html").write_text("<html>the old run's report</html>")
    real = output_set._fresh

    def parent_read_only(folder):
        if folder.parent == out.parent:
            raise PermissionError(13, "Permission denied")
        return real(folder)

    monkeypatch.setattr(output_set, "_fresh", parent_read_only)
    assert main(["run", str(MINIMAL), "--reps", "2", "--seed", "2", "--quiet", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["events.parquet", "kpis.parquet", "run.json",
                                                     "scenario.json", "summary.json", "timeseries.parquet"]
    from simulator.report.data import load

    d = load(out)
    assert json.loads((out / "run.json").read_text())["seed"] == 2 and not d.warnings

"""The command line: run (tables, --json, --out, --format csv, --set), validate, schema."""

import json

import pandas as pd
import pytest

from simulator.cli import main
from tests.conftest import SCENARIOS

MINIMAL = str(SCENARIOS / "valid_minimal.yaml")


def test_run_json_is_exactly_one_object_with_the_documented_keys(promosim):
    p = promosim("run", MINIMAL, "--reps", "3", "--seed", "4", "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)          # fails if stdout holds anything else
    assert set(out) == {"scenario", "reps", "seed", "kpis", "channels", "skus", "coupons", "flash_sales", "warnings", "timing"}
    assert out["warnings"] == []          # the minimal plan is right
    assert out["reps"] == 3 and out["seed"] == 4
    for name in ("visits", "add_to_carts", "orders", "units", "gmv", "net_sales", "aov",
                 "conversion_rate", "ad_spend", "marketing_cost", "roi", "gross_profit",
                 "stockout_minutes", "lost_units", "ending_stock"):
        assert set(out["kpis"][name]) == {"mean", "p5", "p50", "p95"}, name
    assert out["kpis"]["visits"]["p5"] <= out["kpis"]["visits"]["p50"] <= out["kpis"]["visits"]["p95"]
    assert set(out["channels"]) == {"organic", "ads", "feed"}
    assert out["timing"]["engine_s"] > 0
    assert "replications" in p.stderr          # progress goes to stderr, not stdout


def test_run_prints_tables_and_daily_report(capsys):
    assert main(["run", MINIMAL, "--reps", "2", "--quiet"]) == 0
    text = capsys.readouterr().out
    for heading in ("KPIs", "Channels", "Top SKUs", "Daily report"):
        assert heading in text


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_run_out_writes_every_result_file(tmp_path, fmt):
    out = tmp_path / "res"
    assert main(["run", MINIMAL, "--reps", "2", "--quiet", "--out", str(out), "--format", fmt]) == 0
    names = {p.name for p in out.iterdir()}
    assert names == {"summary.json", "run.json", "scenario.json",
                     f"kpis.{fmt}", f"timeseries.{fmt}", f"events.{fmt}"}
    read = pd.read_parquet if fmt == "parquet" else pd.read_csv
    kpis = read(out / f"kpis.{fmt}")
    assert list(kpis["replication"]) == [0, 1]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kpis"]["gmv"]["mean"] == pytest.approx(kpis["gmv"].mean())
    ts = read(out / f"timeseries.{fmt}")
    assert set(ts["level"]) == {"channel", "sku"}
    by_channel = ts[ts.level == "channel"].groupby("replication")["gmv"].sum()
    assert by_channel.tolist() == pytest.approx(kpis["gmv"].tolist())
    run = json.loads((out / "run.json").read_text())
    assert run["reps"] == 2 and "engine_s" in run["timing"] and run["command"].startswith("promosim run")


def test_set_overrides_change_the_plan(capsys):
    main(["run", MINIMAL, "--reps", "2", "--json", "--quiet"])
    base = json.loads(capsys.readouterr().out)
    main(["run", MINIMAL, "--reps", "2", "--json", "--quiet", "--set", "skus.*.discount=0.5"])
    cheap = json.loads(capsys.readouterr().out)
    # same seeds, deeper discount: lower price per unit
    assert cheap["kpis"]["aov"]["mean"] < base["kpis"]["aov"]["mean"]


def test_bad_set_path_is_a_clear_error(capsys):
    assert main(["run", MINIMAL, "--set", "skus.*.discont=0.5", "--quiet"]) == 2
    assert "did you mean 'discount'" in capsys.readouterr().err


def test_validate_reports_every_bad_file_and_exit_code(capsys):
    bad = str(SCENARIOS / "invalid" / "negative_stock.yaml")
    assert main(["validate", MINIMAL]) == 0
    assert main(["validate", MINIMAL, bad]) == 2
    captured = capsys.readouterr()
    assert "negative_stock.yaml:" in captured.err and "stock" in captured.err
    assert "valid_minimal.yaml: ok" in captured.out


def test_schema_is_json_schema_with_every_section(capsys):
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert set(schema["properties"]) >= {"meta", "calendar", "channels", "skus", "segments"}
    assert schema["additionalProperties"] is False

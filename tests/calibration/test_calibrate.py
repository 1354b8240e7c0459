"""The calibrate block, the replay of a history, losses, identification, the CLI and the files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from calibration import CalibrationError, calibrate
from calibration.history import history_from_frame
from calibration.losses import LogScaled
from calibration.replay import Replay, observed, phase_name
from simulator.scenario import ScenarioError, load_scenario, parse_scenario
from tests.calibration.synthetic import START, TRUTH, plan_frame, scenario_text, synthetic_history

HERE = Path(__file__).resolve().parents[1] / "scenarios"
INVALID = sorted((HERE / "invalid_calibrate").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (?P<line>\d+|-): (?P<path>[^\s:]+): (?P<fragment>.+)$")


def test_the_folder_covers_the_issue_s_mistakes():
    names = {p.stem for p in INVALID}
    assert {"unknown_path", "empty_range", "unknown_target"} <= names
    assert len(INVALID) >= 8


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_wrong_calibrate_block_reports_its_mistake(path: Path):
    want = EXPECT.match(path.read_text(encoding="utf-8").splitlines()[0]).groupdict()
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    issues = info.value.issues
    assert len(issues) == 1, str(info.value)
    issue = issues[0]
    assert (issue.line, issue.path) == (int(want["line"]), want["path"]), str(issue)
    assert want["fragment"] in issue.message, str(issue)


@pytest.fixture(scope="module")
def synthetic():
    return synthetic_history()


def test_a_target_missing_from_the_history_is_a_located_error(synthetic):
    _, h = synthetic
    s = parse_scenario(scenario_text(START, targets="{units: 1, revenue: 1}"))
    with pytest.raises(CalibrationError) as info:
        calibrate(s, h)
    issue = info.value.issues[0]
    assert issue.path == "calibrate.targets.revenue"
    assert "the history has no 'revenue' column" in issue.message and "--map revenue=" in issue.message


def test_replay_sets_discounts_from_prices_promotions_from_flags_and_keeps_missing_periods():
    frame = plan_frame()
    periods = frame.index.get_level_values("period").unique()
    frame = frame.drop(index=periods[5], level="period")            # a missing day
    h = history_from_frame(frame, "day")
    s = parse_scenario(scenario_text(TRUTH))
    r = Replay(s, h)
    sc = r.scenario_from()
    assert sc.meta.tick_minutes == 1440 and len(sc.calendar.phases) == len(h.periods) == 120
    row = frame.loc[(periods[0], "hoodie")]
    assert sc.skus["hoodie"].discount[phase_name(0)] == pytest.approx(1 - row["price"] / 299)
    assert sc.skus["hoodie"].discount[phase_name(5)] == sc.skus["hoodie"].discount[phase_name(4)]   # carried
    flagged = [sid for sid in ("tee", "hoodie", "cap") if frame.loc[(periods[0], sid), "promo"] == 1]
    assert sorted(sc.calendar.phases[0].promo) == sorted(flagged)
    assert sc.skus["tee"].stock >= 10**12 and sc.calendar.spikes[0].amplitude == TRUTH["calendar.spikes.0.amplitude"]
    obs = observed(h, r.skus, ["units"])
    assert np.isnan(obs["units"][5]).all()
    loss = LogScaled(obs, {"units": 1.0}, np.ones(len(h.periods), bool))
    assert loss.cells("units").sum() == 119 * 3                       # the missing day is left out


def test_expected_replay_matches_fast_replications_on_average(synthetic):
    truth, h = synthetic
    r = Replay(truth, h)
    sc = r.scenario_from()
    exp = r.simulate(sc, ["units", "returns"], engine="expected")
    fast = r.simulate(sc, ["units", "returns"], engine="fast", reps=4, seed=0)
    assert fast.mean("units").sum() == pytest.approx(exp.mean("units").sum(), rel=0.01)
    assert fast.mean("returns").sum() == pytest.approx(exp.mean("returns").sum(), rel=0.03)


def test_a_return_rate_without_a_returns_column_is_flagged_not_identified(synthetic):
    _, h = synthetic
    h2 = history_from_frame(h.frame.drop(columns=["returns"]), "day")
    params = {"skus.*.base_conversion": "{low: 0.001, high: 0.3, log: true}",
              "skus.*.return_rate": "{low: 0, high: 0.5}"}
    s = parse_scenario(scenario_text(START | {k: v for k, v in TRUTH.items() if k not in params},
                                     parameters=params, targets="{units: 1}"))
    res = calibrate(s, h2, band_replications=0)
    p = res.to_json()["parameters"]
    assert p["skus.*.return_rate"]["identified"] is False
    assert "returns" in p["skus.*.return_rate"]["reason"]
    assert p["skus.*.base_conversion"]["identified"] is True
    assert any("return_rate is not identified" in w for w in res.warnings)


def test_traffic_and_conversion_without_visits_are_not_identified(synthetic):
    _, h = synthetic
    params = {"channels.organic_search.visits_per_hour": "{low: 500, high: 6000, log: true}",
              "skus.*.base_conversion": "{low: 0.001, high: 0.3, log: true}"}
    s = parse_scenario(scenario_text(START | {k: v for k, v in TRUTH.items() if k not in params},
                                     parameters=params, targets="{units: 1}"))
    res = calibrate(s, h, band_replications=0)
    # every traffic level in 500–6000 has a conversion rate that gives the same sales
    iv = res.intervals["channels.organic_search.visits_per_hour"]
    assert not iv.identified and "do not pin it down" in iv.reason
    assert (iv.low, iv.high) == pytest.approx((500, 6000))


def test_msm_loss_fits_the_price_response(synthetic):
    _, h = synthetic
    params = {"skus.*.base_conversion": "{low: 0.001, high: 0.3, log: true}",
              "skus.*.elasticity": "{low: -6, high: -0.2}"}
    s = parse_scenario(scenario_text(START | {k: v for k, v in TRUTH.items() if k not in params},
                                     parameters=params, targets="{units: 1}", extra="  loss: msm\n"))
    res = calibrate(s, h, band_replications=0)
    assert res.values["skus.*.elasticity"] == pytest.approx(-2.5, rel=0.1)
    assert res.values["skus.*.base_conversion"] == pytest.approx(0.03, rel=0.1)


def _write_case(tmp_path: Path, synthetic) -> tuple[Path, Path]:
    _, h = synthetic
    data = tmp_path / "data"
    data.mkdir()
    f = h.frame.reset_index()
    f["period"] = f["period"].dt.strftime("%Y-%m-%d")
    f.rename(columns={"units": "qty"}).to_csv(data / "sales.csv", index=False)
    text = scenario_text(START).replace("calibrate:\n", "calibrate:\n  history: {file: data/sales.csv, columns: {units: qty}}\n")
    (tmp_path / "store.yaml").write_text("# a synthetic store\n" + text, encoding="utf-8")
    return tmp_path / "store.yaml", data / "sales.csv"


def test_cli_json_shape_and_calibrated_yaml_reproduces_the_fit(tmp_path, synthetic, promosim):
    scenario, _ = _write_case(tmp_path, synthetic)
    out = tmp_path / "elsewhere" / "out"
    proc = promosim("calibrate", scenario, "--holdout", "0.25", "--out", out, "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    p = json.loads(proc.stdout)
    assert set(TRUTH) == set(p["parameters"])
    for v in p["parameters"].values():
        assert {"value", "ci_low", "ci_high", "identified"} <= set(v)
        assert v["ci_low"] <= v["value"] <= v["ci_high"]
    assert {"method", "engine", "loss", "value", "targets"} <= set(p["fit"])
    bt = p["backtest"]
    assert set(bt["model"]) >= {"wape", "mape"}
    assert set(bt["baselines"]) == {"last_value", "seasonal_naive", "loglog_regression"}
    for name in ("calibrated.yaml", "fit.json", "fit.csv", "fit_units.png", "residuals.png", "parameters.png"):
        assert (out / name).exists(), name

    text = (out / "calibrated.yaml").read_text(encoding="utf-8")
    assert text.startswith("# a synthetic store")                      # comments kept
    again = load_scenario(out / "calibrated.yaml")                      # runnable from its new folder
    assert again.calibrate.history.file == "../../data/sales.csv"
    assert again.channels["organic_search"].visits_per_hour == p["parameters"]["channels.organic_search.visits_per_hour"]["value"]
    assert again.skus["tee"].elasticity == p["parameters"]["skus.*.elasticity"]["value"]
    res = calibrate(out / "calibrated.yaml", holdout=0.25, band_replications=0, intervals=False)
    assert res.fit.loss_start == pytest.approx(p["fit"]["value"], rel=1e-6)   # the file reproduces the fit

    # the fit sample: one row a draw, one column a parameter, and a calibrated plan draws from it
    sample = json.loads((out / "fit_sample.json").read_text(encoding="utf-8"))
    assert sample["parameters"] == list(p["parameters"]) and len(sample["draws"]) == p["sample"]["draws"] == 1000
    assert sample["method"] == "laplace" and sample["fit"]["loss_value"] == p["fit"]["value"]
    table = pd.read_csv(out / "fit_sample.csv")
    assert list(table.columns) == ["draw", *p["parameters"]] and len(table) == 1000
    assert np.allclose(table[list(p["parameters"])].to_numpy(), sample["draws"])
    (out / "plan.yaml").write_text(text + "uncertainty:\n  from: fit_sample.json\n", encoding="utf-8")
    plan = load_scenario(out / "plan.yaml")
    from simulator.assumptions import Assumptions

    drawn = Assumptions(plan).draw(plan.meta.seed, 0)
    assert list(drawn.values()) in sample["draws"]


def test_cli_map_overrides_the_block(tmp_path, synthetic):
    scenario, csv = _write_case(tmp_path, synthetic)
    text = csv.read_text().replace("qty", "sold", 1)
    csv.write_text(text)
    res = calibrate(scenario, columns={"units": "sold"}, band_replications=0, intervals=False)
    assert res.fit.loss < res.fit.loss_start

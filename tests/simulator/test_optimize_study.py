"""Optimization as a planner runs it: the study on disk, trial counting, workers, a crash and
a resume, best_plan.yaml, constraints on fresh seeds, two objectives, the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import sqlalchemy.exc
import pytest
from optuna.trial import TrialState

from simulator.optimize import optimize
from simulator.optimize.evaluate import Evaluator, per_replication
from simulator.optimize.spec import Spec, objective_value
from simulator.scenario import load_scenario
from simulator.scenario.optimize_schema import Objective
from tests.conftest import SCENARIOS

PRICE = SCENARIOS / "optimize" / "price.yaml"
REPO = Path(__file__).resolve().parents[2]


def study_of(out: Path, name: str = "price") -> optuna.Study:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{out / 'study.db'}")


def states(study) -> dict[str, int]:
    out: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        out[t.state.name] = out.get(t.state.name, 0) + 1
    return out


def counted(study) -> int:
    return len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED)))


# ------------------------------------------------------------- the pieces
def test_cvar_is_the_mean_of_the_worst_share():
    rows = [{"gross_profit": v} for v in (5.0, 1.0, 4.0, 2.0, 3.0, 10.0, 9.0, 8.0, 7.0, 6.0)]
    assert objective_value(Objective(), rows) == pytest.approx(5.5)
    assert objective_value(Objective(measure="cvar", alpha=0.2), rows) == pytest.approx(1.5)
    assert objective_value(Objective(measure="cvar", alpha=0.25), rows) == pytest.approx(2.0)   # ⌈2.5⌉ = 3 worst
    worst_high = Objective(kpi="gross_profit", measure="cvar", alpha=0.1, direction="minimize")
    assert objective_value(worst_high, rows) == 10.0


def test_per_replication_values_come_back_from_running_means():
    x = np.array([3.0, -1.0, 7.5, 2.0])
    means = {i + 1: float(x[: i + 1].mean()) for i in range(4)}
    assert per_replication(means, 4) == pytest.approx(x)
    assert per_replication({1: 1.0, 3: 2.0}, 3) is None


def test_decisions_tied_each_scaled_and_split(minimal):
    s = minimal.model_copy(update={"optimize": None}).model_dump()
    s["optimize"] = {
        "variables": {"skus.*.discount.burst": {"low": 0.1, "high": 0.5, "step": 0.05},
                      "skus.*.stock": {"low": 100, "high": 900, "each": True},
                      "channels.ads.cpc": {"low": 0.5, "high": 2.0, "scale": True}},
        "splits": [{"total": 3000, "paths": ["channels.ads.daily_budget", "channels.ads.total_budget"]}],
    }
    spec = Spec.of(type(minimal).model_validate(s))
    names = [d.name for d in spec.decisions]
    assert names == ["skus.*.discount.burst", "skus.lipstick.stock", "skus.serum.stock", "channels.ads.cpc"]
    tied, stock, _, cpc = spec.decisions
    assert tied.locs == (("skus", "lipstick", "discount", "burst"), ("skus", "serum", "discount", "burst"))
    assert tied.start == (0.1, 0.2) and tied.start_param() is None          # the two SKUs differ
    assert stock.kind == "int" and stock.start_param() == 500
    assert cpc.values(1.5) == [1.8] and cpc.start_param() == 1.0
    split = spec.splits[0]
    assert split.values([0.25]) == [750.0, 2250.0]
    assert split.start_param() is None                                     # 1000 + unset ≠ 3000
    params = spec.baseline_params()
    assert set(params) == {"skus.lipstick.stock", "skus.serum.stock", "channels.ads.cpc"}


def test_starting_plan_is_trial_0_and_its_value_the_baseline(tmp_path):
    res = optimize(PRICE, trials=6, out=tmp_path, plots=False, compare=False)
    study = study_of(tmp_path)
    t0 = study.trials[0]
    assert t0.user_attrs["baseline"] and t0.state == TrialState.COMPLETE
    assert t0.user_attrs["plan"] == {"skus.item.discount.burst": 0.1}
    # the baseline is the plan as written, on the study's seeds
    s = load_scenario(PRICE)
    ev = Evaluator(Spec.of(s), reps=4, seed=3)
    assert res.baseline["value"] == pytest.approx(np.mean([r["gross_profit"] for r in ev.rows({})]))
    assert res.baseline["trial"] == 0 and res.trials == 6 and res.ran == 6


def test_trials_means_more_trials_and_the_study_keeps_them(tmp_path):
    optimize(PRICE, trials=5, out=tmp_path, plots=False, compare=False)
    res = optimize(PRICE, trials=4, out=tmp_path, plots=False, compare=False)
    study = study_of(tmp_path)
    assert res.trials == counted(study) == 9 and res.ran == 4
    assert sum(bool(t.user_attrs.get("baseline")) for t in study.trials) == 1
    invocations = {t.user_attrs["invocation"] for t in study.trials}
    assert len(invocations) == 2


def test_a_study_refuses_another_plan_or_other_replications(tmp_path, promosim):
    optimize(PRICE, trials=2, out=tmp_path, plots=False, compare=False)
    p = promosim("optimize", PRICE, "--trials", "1", "--reps", "5", "--out", tmp_path, "--quiet")
    assert p.returncode == 2 and "another replications per trial (--reps) (4 here, 5 asked)" in p.stderr


def test_every_trial_plays_the_same_seeds(tmp_path):
    """Common random numbers: the same plan in two trials gets the same value exactly."""
    res = optimize(PRICE, trials=12, out=tmp_path, plots=False, compare=False)
    by_plan: dict = {}
    for t in res.study.get_trials(states=(TrialState.COMPLETE,)):
        by_plan.setdefault(json.dumps(t.user_attrs["plan"], sort_keys=True), set()).add(t.values[0])
    assert all(len(v) == 1 for v in by_plan.values())
    ev = Evaluator(Spec.of(load_scenario(PRICE)), reps=4, seed=3)
    best_again = np.mean([r["gross_profit"] for r in ev.rows(res.best["plan"])])
    assert best_again == res.best["value"]


# --------------------------------------------------------- best_plan.yaml
def test_best_plan_keeps_comments_and_order_and_reproduces_the_best_trial(tmp_path):
    out = tmp_path / "deep" / "out"
    res = optimize(PRICE, trials=15, out=out, plots=False)
    written = (out / "best_plan.yaml").read_text()
    original = PRICE.read_text()
    # every comment line survives, keys in the same order
    for line in original.splitlines():
        if line.strip().startswith("#"):
            assert line in written
    keys = [ln.split(":")[0] for ln in original.splitlines() if ln and not ln.startswith((" ", "#"))]
    assert [ln.split(":")[0] for ln in written.splitlines() if ln and not ln.startswith((" ", "#"))] == keys
    assert "# the planner's guess" in written and "# list price" in written
    d = res.best["params"]["skus.item.discount.burst"]
    assert f"discount: {{default: 0.1, burst: {d}}}" in written
    # it loads wherever it is, and plays the best trial's value on the same seeds
    again = load_scenario(out / "best_plan.yaml")
    ev = Evaluator(Spec.of(again), reps=4, seed=3)
    assert np.mean([r["gross_profit"] for r in ev.rows({})]) == res.best["value"]
    # the comparison on fresh seeds is paired: profit up, with an interval
    imp = res.improvement["gross_profit"]
    assert imp["ci_low"] <= imp["mean"] <= imp["ci_high"]
    summary = json.loads((out / "optimize.json").read_text())
    assert summary["best"]["params"] == res.best["params"]


def test_best_plan_rewrites_the_catalogue_path_and_fills_catalogue_skus(tmp_path):
    src = tmp_path / "plans"
    src.mkdir()
    (src / "skus.csv").write_text("id,price,unit_cost,discount,base_conversion,stock\n"
                                  "item,200,60,0.1,0.02,10000000\nother,100,50,0.05,0.01,10000000\n")
    text = PRICE.read_text().split("skus:\n")[0] + (
        "catalogue: skus.csv\n"
        "optimize:\n"
        "  variables:\n"
        "    skus.*.discount.burst: {low: 0.0, high: 0.6, step: 0.05}\n"
        "  replications: 2\n")
    (src / "plan.yaml").write_text(text)
    out = tmp_path / "elsewhere" / "run1"
    res = optimize(src / "plan.yaml", trials=4, out=out, plots=False, compare=False)
    written = (out / "best_plan.yaml").read_text()
    assert "catalogue: ../../plans/skus.csv" in written
    again = load_scenario(out / "best_plan.yaml")
    d = res.best["params"]["skus.*.discount.burst"]
    assert again.skus["item"].discount == {"default": 0.1, "burst": d}
    assert again.skus["other"].discount == {"default": 0.05, "burst": d}
    assert again.skus["other"].price == 100                  # the rest still comes from the CSV


# ------------------------------------------------------------ constraints
def test_constraints_hold_in_the_returned_plan_on_fresh_seeds(tmp_path):
    """Unconstrained, the best discount is 0.5 (margin 0.4); a margin floor of 0.5 caps it at
    0.4, and a stock-out limit sizes the buy."""
    s = load_scenario(PRICE).model_dump(mode="json")
    s["skus"]["item"].update(stock=1000, salvage_value=30.0)
    s["channels"]["organic"]["visits_per_hour"] = 2000
    s["optimize"] = {
        "variables": {"skus.item.discount.burst": {"low": 0.0, "high": 0.8, "step": 0.02},
                      "skus.item.stock": {"low": 500, "high": 5000, "step": 50}},
        "constraints": [{"kpi": "margin", "min": 0.5},
                        {"kpi": "stockout_probability", "max": 0.2}],
        "replications": 10,
    }
    scenario = type(load_scenario(PRICE)).model_validate(s)
    res = optimize(scenario, trials=60, plots=False, compare=False)
    assert res.best is not None and all(v <= 0 for v in res.best["constraints"].values())
    assert res.best["params"]["skus.item.discount.burst"] <= 0.4 + 1e-9
    # fresh seeds: replications 1000–1199
    ev = Evaluator(Spec.of(scenario), reps=10, seed=3)
    rows = ev.rows(res.best["plan"], indices=range(1000, 1200))
    p = np.mean([r["stockout_probability"] for r in rows])
    assert p <= 0.2 + 3 * np.sqrt(0.2 * 0.8 / 200)
    margin = np.array([r["margin"] for r in rows])            # varies with the write-down of leftovers
    assert margin.mean() >= 0.5 - 3 * margin.std(ddof=1) / np.sqrt(margin.size)


# -------------------------------------------------------- two objectives
def test_gmv_against_profit_gives_a_pareto_front(tmp_path):
    s = load_scenario(PRICE).model_dump(mode="json")
    s["optimize"]["objective"] = ["gmv", "gross_profit"]
    scenario = type(load_scenario(PRICE)).model_validate(s)
    res = optimize(scenario, trials=16, out=tmp_path, compare=False)
    assert len(res.pareto) >= 2
    gmv = [p["values"][0] for p in res.pareto]
    profit = [p["values"][1] for p in res.pareto]
    order = np.argsort(gmv)
    assert np.all(np.diff(np.array(profit)[order]) <= 0)      # more GMV costs profit on the front
    assert (tmp_path / "pareto.png").exists() and res.best["trial"] in [p["trial"] for p in res.pareto]


def test_cvar_objective_is_below_the_mean(tmp_path):
    s = load_scenario(PRICE).model_dump(mode="json")
    s["optimize"]["objective"] = {"kpi": "gross_profit", "measure": "cvar", "alpha": 0.25}
    s["optimize"]["replications"] = 8
    res = optimize(type(load_scenario(PRICE)).model_validate(s), trials=6, plots=False, compare=False)
    assert res.best["value"] < res.best["kpis"]["gross_profit"]


# --------------------------------------------------------------- the CLI
def test_cli_json_has_the_documented_keys_and_plots(tmp_path, promosim):
    p = promosim("optimize", PRICE, "--trials", "12", "--out", tmp_path, "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert {"study", "trials", "best", "baseline", "improvement"} <= set(out)
    assert out["study"] == "price" and out["trials"] == 12
    assert set(out["best"]) >= {"value", "params"} and isinstance(out["best"]["value"], float)
    assert set(out["best"]["params"]) == {"skus.item.discount.burst"}
    assert isinstance(out["baseline"]["value"], float)
    assert set(out["improvement"]["gross_profit"]) == {"mean", "ci_low", "ci_high"}
    assert "trials" in p.stderr                                   # progress on stderr
    for f in ("best_plan.yaml", "optimize.json", "comparison.csv", "trials.csv", "history.png",
              "importances.png", "profit_vs_decision.png", "study.db"):
        assert (tmp_path / f).exists(), f


def test_cli_without_an_optimize_block_says_so(tmp_path, promosim):
    p = promosim("optimize", SCENARIOS / "valid_minimal.yaml", "--out", tmp_path)
    assert p.returncode == 2 and "no optimize: block" in p.stderr


# ---------------------------------------------------------------- workers
@pytest.mark.slow
def test_two_local_workers_finish_the_requested_trials_on_one_study(tmp_path, promosim):
    p = promosim("optimize", PRICE, "--workers", "2", "--trials", "10", "--reps", "20", "--out", tmp_path,
            "--json", "--no-plots")
    assert p.returncode == 0, p.stderr
    study = study_of(tmp_path)
    assert json.loads(p.stdout)["trials"] == counted(study) == 10
    assert states(study).get("RUNNING", 0) == 0
    p = promosim("optimize", PRICE, "--workers", "2", "--trials", "3", "--reps", "20", "--out", tmp_path,
            "--json", "--no-plots")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["trials"] == counted(study_of(tmp_path)) == 13


@pytest.mark.slow
def test_a_killed_study_resumes_without_losing_or_double_counting(tmp_path, promosim):
    """SIGKILL mid-trial: the running trial is failed by the heartbeat (1 s, grace 3 s) and not
    counted; a restart adds exactly the trials it is asked for. The killed study runs in a
    process of its own (the kill is the point); the restart runs here."""
    args = ["optimize", PRICE, "--reps", "150", "--heartbeat", "1", "--out", tmp_path, "--quiet",
            "--no-plots"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "simulator.cli", *map(str, args), "--trials", "1000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 120
        while True:
            assert time.monotonic() < deadline, "the study did not get going"
            time.sleep(0.2)
            if not (tmp_path / "study.db").exists():
                continue
            try:
                s = study_of(tmp_path)
                running = s.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                if counted(s) >= 4 and running:
                    break
            except (KeyError, optuna.exceptions.StorageInternalError, sqlalchemy.exc.SQLAlchemyError):
                continue                          # the worker is still creating the tables
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    study = study_of(tmp_path)
    before = {t.number: (t.state, t.values) for t in study.get_trials(deepcopy=False)}
    killed = [n for n, (st, _) in before.items() if st == TrialState.RUNNING]
    done_before = {n for n, (st, _) in before.items() if st in (TrialState.COMPLETE, TrialState.PRUNED)}
    assert len(killed) <= 1 and len(done_before) >= 4
    time.sleep(4.5)                                   # past the grace period (3 s), in SQLite's whole seconds
    p = promosim(*args, "--trials", "3", "--json")
    assert p.returncode == 0, p.stderr
    study = study_of(tmp_path)
    after = {t.number: t for t in study.get_trials(deepcopy=False)}
    for n in killed:
        assert after[n].state == TrialState.FAIL
    for n in done_before:                             # nothing completed is lost or changed
        assert (after[n].state, after[n].values) == before[n]
    assert counted(study) == len(done_before) + 3 == json.loads(p.stdout)["trials"]
    numbers = [t.number for t in study.get_trials(deepcopy=False)]
    assert sorted(numbers) == list(range(len(numbers)))   # no number reused
    assert states(study).get("RUNNING", 0) == 0


def test_a_trial_killed_before_its_first_heartbeat_is_failed_too(tmp_path):
    """Optuna's heartbeat skips a RUNNING trial that never beat (its worker died between
    creating it and the heartbeat thread's first beat); ours fails it after the grace period."""
    import warnings

    from simulator.optimize.study import fail_stale, open_storage

    storage = open_storage(f"sqlite:///{tmp_path / 'hb.db'}", heartbeat=1)
    study = optuna.create_study(storage=storage, study_name="hb")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.ask()                           # RUNNING, no heartbeat thread: a dead worker
    fail_stale(study)
    assert study.trials[0].state == TrialState.RUNNING       # within the grace period (3 s)
    time.sleep(3.2)
    fail_stale(study)
    assert study.trials[0].state == TrialState.FAIL


def test_a_queued_trial_another_worker_finished_first_is_not_a_crash(tmp_path, monkeypatch):
    """Two workers on SQLite may pop the same queued trial (the starting plan; Optuna keeps no row
    lock there): the second to finish cannot tell it. Here the starting plan's trial is told
    COMPLETE during its evaluation, as the other worker would; this worker takes a new slot and
    the study still ends with the trials asked for (before the fix: ValueError, "Cannot tell a
    COMPLETE trial")."""
    real = Evaluator.__call__
    raced: list[int] = []

    def other_worker_first(self, trial):
        value = real(self, trial)
        if not raced:
            raced.append(trial.number)
            trial.study.tell(trial.number, value)        # the other worker's result
        return value

    monkeypatch.setattr(Evaluator, "__call__", other_worker_first)
    res = optimize(load_scenario(PRICE), trials=2, reps=10, storage=f"sqlite:///{tmp_path / 'study.db'}",
                   study="price", out=tmp_path, compare=False, plots=False)
    study = study_of(tmp_path)
    assert raced == [0] and study.trials[0].state == TrialState.COMPLETE
    assert res.trials == counted(study) == 3                       # 2 counted here, 1 by the other
    assert states(study).get("RUNNING", 0) == 0


# ---------------------------------------------------------- bundled plans
@pytest.mark.parametrize("name", ["618_electronics.yaml", "double11_beauty_flagship.yaml"])
def test_bundled_plans_start_inside_their_search_space(name):
    s = load_scenario(REPO / "scenarios" / name)
    spec = Spec.of(s)
    assert spec.objectives[0].kpi == "gross_profit" and not spec.multi
    assert set(spec.baseline_params()) == {d.name for d in spec.decisions}


@pytest.mark.slow
def test_618_out_of_the_box_improves_on_the_plan_as_written(tmp_path, promosim):
    p = promosim("optimize", REPO / "scenarios" / "618_electronics.yaml", "--trials", "20", "--out", tmp_path,
            "--json", "--no-plots")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["baseline"]["value"] is not None and out["best"]["value"] > out["baseline"]["value"]
    assert out["improvement"]["gross_profit"]["ci_low"] > 0
    assert out["improvement"]["gmv"]["mean"] > -0.2 * 91e6     # within the GMV floor's reach

"""Optimization: find the best plan with Optuna — budgets, discount depth, stock — on one
machine or many.

```python
from simulator.optimize import optimize

res = optimize("scenarios/618_electronics.yaml", trials=50, out="results/618-opt")
res.best["value"], res.best["params"]      # expected gross profit of the best plan, its decisions
res.baseline["value"]                      # the plan as written (trial 0), on the same seeds
res.improvement["gross_profit"]            # best − start on fresh seeds: mean, ci_low, ci_high
res.study                                  # the optuna.Study
```

Modules: `spec` (decisions → parameters → plan; objectives and constraints from KPIs),
`evaluate` (the objective on common random numbers, the paired pruner), `study` (storage,
heartbeat, workers, counting), `trials` (feasible, best, Pareto), `plan` (best_plan.yaml),
`plots`. See docs/optimize.md.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import optuna
import pandas as pd

from simulator.files import atomic_write_bytes, atomic_write_text, json_safe, table_bytes
from simulator.compare import paired_difference
from simulator.naming import RUN_KPIS
from simulator.optimize import plots as _plots
from simulator.optimize.evaluate import Evaluator
from simulator.optimize.plan import write_best_plan
from simulator.optimize.spec import Spec
from simulator.optimize.study import (
    StudyMismatch,
    WorkerConfig,
    counted_trials,
    default_storage,
    fail_stale,
    open_storage,
    open_study,
    run_workers,
    shown_url,
)
from simulator.optimize.trials import baseline_trial, best_trial, is_feasible, pareto_front
from simulator.scenario.optimize_schema import tidy
from simulator.scenario.schema import Scenario

__all__ = ["OptimizeResult", "StudyMismatch", "optimize"]

COMPARED_KPIS = tuple(RUN_KPIS) + ("margin", "stockout_probability")


@dataclass
class OptimizeResult:
    """What `optimize` found. `best`/`baseline` hold `value` (first objective), `values`, the
    trial number and, for `best`, `params` (each decision as declared → value), `plan` (every
    concrete path → value) and `kpis` (means on the study's seeds). `improvement` is best − start
    per KPI on fresh seeds, paired by seed: {kpi: {mean, ci_low, ci_high}}."""

    study: optuna.Study
    study_name: str
    storage: str | None
    trials: int
    ran: int
    best: dict | None
    baseline: dict
    improvement: dict = field(default_factory=dict)
    comparison: dict = field(default_factory=dict)
    pareto: list[dict] = field(default_factory=list)
    files: dict[str, str] = field(default_factory=dict)
    best_scenario: Scenario | None = None
    interrupted: str | bool = False        # False, or the signal that stopped the study
    importances: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        """The `--json` payload."""
        return json_safe({
            "study": self.study_name, "storage": shown_url(self.storage) if self.storage else None,
            "trials": self.trials, "ran": self.ran, "interrupted": bool(self.interrupted),
            "best": None if self.best is None else {k: self.best[k] for k in ("value", "values", "params", "plan", "trial")},
            "baseline": {k: self.baseline.get(k) for k in ("value", "values", "trial")},
            "improvement": {k: {m: v[m] for m in ("mean", "ci_low", "ci_high")} for k, v in self.improvement.items()},
            "pareto": self.pareto, "files": self.files,
        })


def decision_params(spec: Spec, t) -> dict[str, object]:
    """A trial's decisions as declared: {variable path (or concrete path with `each`): value};
    a split as {each path: its share of the total}."""
    plan = t.user_attrs.get("plan", {})
    out: dict[str, object] = {}
    for d in spec.decisions:
        if d.name in t.params:
            v = t.params[d.name]
            out[d.name] = tidy(v) if isinstance(v, float) else v
    for s in spec.splits:
        for p in s.paths:
            if p in plan:
                out[p] = plan[p]
    return out


def _loc(data, path: str) -> tuple:
    loc, node = [], data
    for step in path.split("."):
        key = int(step) if isinstance(node, list) else step
        loc.append(key)
        node = node[key] if isinstance(node, list) or (isinstance(node, dict) and key in node) else {}
    return tuple(loc)

def optimize(
    scenario: Scenario | str | Path,
    *,
    trials: int | None = None,
    timeout: float | None = None,
    reps: int | None = None,
    workers: int = 1,
    storage: str | None = None,
    study: str | None = None,
    out: str | Path | None = None,
    heartbeat: int = 10,
    engine: str = "fast",
    compare: bool = True,
    plots: bool = True,
    progress: Callable[[int, int, dict], None] | None = None,
) -> OptimizeResult:
    """Search the decisions declared in `scenario.optimize` with an Optuna study.

    `scenario`: a path (then `best_plan.yaml` keeps the file's comments) or a `Scenario`.
    `trials`: counted (complete or pruned) trials to add in this call, across `workers` local
    processes (default `optimize.trials`); `timeout`: seconds after which no trial starts.
    `reps`: replications per trial (default `optimize.replications`). `storage`: an Optuna
    storage URL (default: `study.db` in `out`, or in memory without `out`); `study`: its name
    (default `meta.name`). `out`: folder for best_plan.yaml, optimize.json, comparison.csv,
    trials.csv and plots. `heartbeat`: seconds between a running trial's heartbeats (a killed
    trial is failed after 3 × heartbeat). `progress(done, total, info)` after each counted trial.
    """
    source = None
    if isinstance(scenario, str | Path):
        from simulator.scenario.loader import load_scenario

        source = Path(scenario)
        scenario = load_scenario(source)
    spec = Spec.of(scenario)
    opt = scenario.optimize
    reps = int(reps or opt.replications)
    seed = scenario.meta.seed if opt.seed is None else opt.seed
    n_trials = opt.trials if trials is None else int(trials)
    out = None if out is None else Path(out)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    url = storage if storage is not None else (default_storage(out) if out is not None else None)
    if url is None and workers > 1:
        raise ValueError("several workers need a shared storage: give out= or storage=")
    name = study or scenario.meta.name

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    st = open_storage(url, heartbeat)
    the_study, _ = open_study(st, name, spec, reps, seed)
    fail_stale(the_study)

    cfg = WorkerConfig(scenario.model_dump_json(), url, name, reps, seed, heartbeat, uuid.uuid4().hex, engine)
    ran = 0
    interrupted = False

    def on_trial(done, number, state, values, is_baseline):
        nonlocal ran
        ran = done
        if progress is not None:
            b = best_trial(the_study)
            progress(done, n_trials, {"trial": number, "state": state, "values": values,
                                      "baseline": is_baseline,
                                      "best": None if b is None else b.values[0],
                                      "best_trial": None if b is None else b.number})

    try:
        if n_trials > 0:
            run_workers(cfg, n_trials, workers, timeout, on_trial, scenario, st)
    except KeyboardInterrupt as e:      # the workers are stopped and their trials failed
        from simulator.signals import Terminated

        interrupted = "SIGTERM" if isinstance(e, Terminated) else "SIGINT"

    # interrupted: the results of the trials so far, without the comparison on fresh seeds
    # (it would run for minutes after the planner asked to stop)
    return _results(the_study, spec, source, scenario, url, name, reps, seed, ran, workers, engine,
                    out, compare and not interrupted, plots, interrupted)


def _results(study, spec: Spec, source, scenario, url, name, reps, seed, ran, workers, engine, out,
             compare, plots, interrupted) -> OptimizeResult:
    from simulator.runner import simulate

    opt = scenario.optimize
    evaluator = Evaluator(spec, reps, seed, engine=engine)
    best_t, base_t = best_trial(study), baseline_trial(study)
    if base_t is not None:
        baseline = {"value": base_t.values[0], "values": list(base_t.values), "trial": base_t.number,
                    "kpis": base_t.user_attrs.get("kpis"), "feasible": is_feasible(base_t)}
    else:   # still running elsewhere (another machine): play it here on the same seeds
        rows = evaluator.rows({})
        values = spec.objective_values(rows)
        baseline = {"value": values[0], "values": values, "trial": None, "kpis": spec.means(rows),
                    "feasible": all(v <= 0 for v in spec.constraint_values(rows).values())}
    best = None
    best_scenario = None
    if best_t is not None:
        plan = best_t.user_attrs.get("plan", {})
        best = {"value": best_t.values[0], "values": list(best_t.values), "trial": best_t.number,
                "params": decision_params(spec, best_t), "plan": plan, "kpis": best_t.user_attrs.get("kpis"),
                "constraints": dict(best_t.constraints)}
        best_scenario = evaluator.scenario(plan)
    front = []
    if spec.multi:
        for t in pareto_front(study):
            front.append({"trial": t.number, "values": list(t.values), "params": decision_params(spec, t)})

    res = OptimizeResult(study=study, study_name=name, storage=url, trials=counted_trials(study), ran=ran,
                         best=best, baseline=baseline, pareto=front, best_scenario=best_scenario,
                         interrupted=interrupted)
    if best is not None and compare:
        fresh = list(range(reps, reps + opt.compare_replications))
        runs = []
        for scen in (evaluator.base, best_scenario):
            r = simulate(scen, seed=seed, seeds=fresh, workers=workers, engine=engine,
                         uncertainty=False)          # the plan as the study scored it (as written)
            runs.append([spec.kpi_row(rec, r.model) for rec in r.records])
        res.comparison = _paired(runs[0], runs[1], COMPARED_KPIS)
        res.improvement = res.comparison
    if out is not None:
        res.files = _write(out, res, spec, source, plots)
    return res


def _paired(start: list[dict], best: list[dict], kpis) -> dict:
    """Per KPI, best − start paired by seed (`simulator.compare.paired_difference`):
    {kpi: {"mean", "ci_low", "ci_high", "start", "best", "n"}}."""
    out = {}
    for k in kpis:
        p = paired_difference([r.get(k) for r in start], [r.get(k) for r in best])
        out[k] = {"mean": p["diff"], "ci_low": p["ci_low"], "ci_high": p["ci_high"],
                  "start": p["mean_a"], "best": p["mean_b"], "n": p["n"]}
    return out


def _write(out: Path, res: OptimizeResult, spec: Spec, source, plots: bool) -> dict[str, str]:
    files: dict[str, str] = {}
    study = res.study
    if res.best is not None:
        data = res.best_scenario.model_dump(mode="python")
        locs = [(_loc(data, p), v) for p, v in res.best["plan"].items()]
        write_best_plan(out / "best_plan.yaml", source, locs, res.best_scenario)
        files["best_plan"] = "best_plan.yaml"
    if res.comparison:
        rows = [{"kpi": k, "start": v["start"], "best": v["best"], "difference": v["mean"],
                 "ci_low": v["ci_low"], "ci_high": v["ci_high"], "replications": v["n"]}
                for k, v in res.comparison.items()]
        atomic_write_bytes(out / "comparison.csv", table_bytes(pd.DataFrame(rows), "csv"))
        files["comparison"] = "comparison.csv"
    atomic_write_bytes(out / "trials.csv", table_bytes(trials_table(study, spec), "csv"))
    files["trials"] = "trials.csv"
    if plots:
        labels = [f"{o.kpi}" + (f" (CVaR {o.alpha:g})" if o.measure == "cvar" else "") for o in spec.objectives]
        made = {"history": _plots.history(study, out / "history.png", labels[0], res.baseline["value"])}
        if spec.multi:
            made["pareto"] = _plots.pareto(study, out / "pareto.png", labels, res.baseline.get("values"))
        imp = _plots.importances(study)
        made["importances"] = _plots.importance_bars(imp, out / "importances.png")
        top = next(iter(imp), None)
        if top is None and res.best is not None:
            top = next(iter(study.trials[res.best["trial"]].params), None)
        if top is not None:
            made["profit_vs_decision"] = _plots.profit_vs(study, top, out / "profit_vs_decision.png")
        files.update({k: Path(v).name for k, v in made.items() if v is not None})
        res.importances = imp
    payload = res.to_json()
    payload["baseline"]["kpis"] = res.baseline.get("kpis")
    if res.best is not None:
        payload["best"]["kpis"] = res.best.get("kpis")
        payload["best"]["constraints"] = res.best.get("constraints")
    payload["files"] = files
    from simulator.output_set import digests

    # optimize.json, written last, is the manifest: a file that does not match its digest is
    # of another invocation (this one was interrupted before it wrote everything)
    payload["sha256"] = digests(out, sorted(set(files.values())))
    atomic_write_text(out / "optimize.json", json.dumps(json_safe(payload), indent=2, ensure_ascii=False) + "\n")
    files["summary"] = "optimize.json"
    return files


def trials_table(study: optuna.Study, spec: Spec) -> pd.DataFrame:
    """One row per trial: number, state, objective value(s), feasibility, baseline flag,
    replications played, every parameter, and the KPI means that matter to a planner."""
    rows = []
    names = [o.kpi for o in spec.objectives]
    for t in study.get_trials(deepcopy=False):
        k = t.user_attrs.get("kpis") or {}
        row = {"trial": t.number, "state": t.state.name}
        for i, n in enumerate(names):
            row[f"objective_{i}_{n}"] = t.values[i] if t.values else None
        row.update({"feasible": is_feasible(t) if t.state.name in ("COMPLETE", "PRUNED") else None,
                    "baseline": bool(t.user_attrs.get("baseline")), "replications": t.user_attrs.get("reps")})
        row.update({f"param:{p}": v for p, v in t.params.items()})
        row.update({f"constraint:{c}": v for c, v in t.constraints.items()})
        for kpi in ("gross_profit", "gmv", "marketing_cost", "roi", "margin", "stockout_probability",
                    "stock_writedown"):
            row[kpi] = k.get(kpi)
        rows.append(row)
    return pd.DataFrame(rows)

"""Plots of a study (PNG, matplotlib's Agg backend): optimization history, Pareto front (two
objectives), parameter importances, and profit against the most important decision.

Each function writes one file and returns its path, or None when the study has too little
to show (an importance needs a few complete trials with different parameters).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import optuna
from optuna.trial import TrialState

from simulator.optimize.trials import best_trial, is_feasible, pareto_front


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def history(study: optuna.Study, path: Path, label: str, baseline: float | None) -> Path | None:
    """Objective of every complete trial (× infeasible), pruned trials at their last running
    mean, the best feasible value so far, and the starting plan's value."""
    trials = study.get_trials(deepcopy=False)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if not done:
        return None
    plt = _plt()
    maximize = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ok = [t for t in done if is_feasible(t)]
    bad = [t for t in done if not is_feasible(t)]
    pruned = [t for t in trials if t.state == TrialState.PRUNED and t.intermediate_values]
    ax.scatter([t.number for t in ok], [t.values[0] for t in ok], s=16, label="complete")
    if bad:
        ax.scatter([t.number for t in bad], [t.values[0] for t in bad], marker="x", s=20,
                   color="tab:red", label="breaks a constraint")
    if pruned:
        ax.scatter([t.number for t in pruned], [t.intermediate_values[t.last_step] for t in pruned],
                   s=10, color="0.6", label="pruned (mean so far)")
    xs, ys, cur = [], [], None
    for t in sorted(ok, key=lambda t: t.number):
        v = t.values[0]
        cur = v if cur is None else (max(cur, v) if maximize else min(cur, v))
        xs.append(t.number)
        ys.append(cur)
    if xs:
        ax.step(xs, ys, where="post", color="tab:green", label="best so far")
    if baseline is not None and math.isfinite(baseline):
        ax.axhline(baseline, color="0.3", linestyle="--", linewidth=1, label="starting plan")
    ax.set_xlabel("trial")
    ax.set_ylabel(label)
    ax.set_title("Optimization history")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def pareto(study: optuna.Study, path: Path, labels: list[str], baseline: list[float] | None) -> Path | None:
    """The two objectives of every feasible complete trial, the Pareto front joined."""
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if is_feasible(t)]
    if len(study.directions) != 2 or not done:
        return None
    plt = _plt()
    front = sorted(pareto_front(study), key=lambda t: t.values[0])
    fig, ax = plt.subplots(figsize=(6.5, 5))
    ax.scatter([t.values[0] for t in done], [t.values[1] for t in done], s=14, color="0.6", label="trials")
    ax.plot([t.values[0] for t in front], [t.values[1] for t in front], "o-", color="tab:blue",
            label="Pareto front")
    if baseline is not None:
        ax.scatter([baseline[0]], [baseline[1]], marker="*", s=140, color="tab:orange", label="starting plan")
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.set_title("Pareto front")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def importances(study: optuna.Study) -> dict[str, float]:
    """Parameter importances of the first objective (PED-ANOVA), {} when they cannot be had."""
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)) if t.params]
    if len(done) < 3:
        return {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return optuna.importance.get_param_importances(study, target=lambda t: t.values[0])
    except (RuntimeError, ValueError, ZeroDivisionError):
        return {}


def importance_bars(imp: dict[str, float], path: Path) -> Path | None:
    if not imp:
        return None
    plt = _plt()
    names = list(imp)[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(names) + 1.5))
    ax.barh(names, [imp[n] for n in names], color="tab:blue")
    ax.set_xlabel("importance (share)")
    ax.set_title("Which decisions matter")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def profit_vs(study: optuna.Study, param: str, path: Path, kpi: str = "gross_profit") -> Path | None:
    """`kpi` (mean over replications) of every complete trial against decision `param`."""
    done = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if param in t.params and (t.user_attrs.get("kpis") or {}).get(kpi) is not None]
    if not done:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ok = [t for t in done if is_feasible(t)]
    bad = [t for t in done if not is_feasible(t)]
    ax.scatter([t.params[param] for t in ok], [t.user_attrs["kpis"][kpi] for t in ok], s=16, label="trials")
    if bad:
        ax.scatter([t.params[param] for t in bad], [t.user_attrs["kpis"][kpi] for t in bad], marker="x",
                   color="tab:red", s=20, label="breaks a constraint")
    best = best_trial(study)
    if best is not None and param in best.params:
        ax.scatter([best.params[param]], [best.user_attrs["kpis"][kpi]], marker="*", s=160,
                   color="tab:green", label="best plan")
    ax.set_xlabel(param)
    ax.set_ylabel(kpi)
    ax.set_title(f"{kpi} against the most important decision")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

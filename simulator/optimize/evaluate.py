"""The objective function: a trial's plan played on the study's fixed seeds.

Every trial plays replications 0 … R−1 of the study's base seed — replication i always runs on
`SeedSequence(seed, spawn_key=(i,))` — so two plans are compared on the same visitors
(common random numbers): the difference between two trials is the difference the plan makes,
not seed noise. After each replication the trial reports the running mean of its objective;
the `PairedPruner` may then stop a trial that is, on the replications played so far, worse
than the best trial on the *same* replications with confidence — a paired comparison, which is
what CRN makes valid (an unpaired median rule would compare a trial with others' luck).
"""

from __future__ import annotations

import math
import os

import numpy as np
import optuna
from optuna.pruners import BasePruner
from optuna.trial import FrozenTrial
from scipy import stats

from simulator.engine import ENGINES
from simulator.model import build_model
from simulator.optimize.spec import RATIO_KPIS, Spec
from simulator.optimize.trials import best_trial
from simulator.runner import replication_seed
from simulator.scenario.schema import Scenario
from simulator.signals import check_interrupt


class Evaluator:
    """Plays plans on fixed seeds. Call it with an Optuna trial (the objective function), or
    use `rows(plan)` directly.

    `reps` replications per trial from base `seed`; `prune`: report intermediate values and
    ask the pruner after each replication (single mean objective on a KPI that is never
    undefined); `invocation` tags each trial with the `promosim optimize` run that played it."""

    def __init__(self, spec: Spec, reps: int, seed: int, *, prune: bool = True, engine: str = "fast",
                 invocation: str = "", parent_pid: int | None = None):
        self.spec, self.reps, self.seed, self.engine = spec, reps, seed, engine
        self.base: Scenario = spec.base()
        obj = spec.objectives[0]
        self.reporting = not spec.multi and obj.measure == "mean" and obj.kpi not in RATIO_KPIS
        self.prune = prune and self.reporting
        self.invocation = invocation
        self.parent_pid = parent_pid

    def scenario(self, plan: dict) -> Scenario:
        return self.base.with_overrides(plan) if plan else self.base

    def rows(self, plan: dict, indices=None) -> list[dict]:
        """KPI rows of `plan` on replications `indices` (default 0 … reps−1) of the base seed."""
        model = build_model(self.scenario(plan))
        eng = ENGINES[self.engine](model)
        idx = range(self.reps) if indices is None else indices
        return [self.spec.kpi_row(eng.run(replication_seed(self.seed, i)), model) for i in idx]

    def __call__(self, trial: optuna.Trial):
        baseline = bool(trial.user_attrs.get("baseline"))
        trial.set_user_attr("invocation", self.invocation)
        plan = self.spec.suggest(trial, baseline=baseline)
        trial.set_user_attr("plan", plan)
        model = build_model(self.scenario(plan))
        eng = ENGINES[self.engine](model)
        kpi = self.spec.objectives[0].kpi
        rows: list[dict] = []
        for i in range(self.reps):
            self._check_parent()
            rows.append(self.spec.kpi_row(eng.run(replication_seed(self.seed, i)), model))
            if self.reporting:
                trial.report(float(np.mean([r[kpi] for r in rows])), step=i + 1)
                if self.prune and not baseline and i + 1 < self.reps and trial.should_prune():
                    self._finish(trial, rows)
                    raise optuna.TrialPruned(f"worse than the best plan after {i + 1} replications")
        self._finish(trial, rows)
        values = self.spec.objective_values(rows)
        return values if self.spec.multi else values[0]

    def _finish(self, trial: optuna.Trial, rows: list[dict]) -> None:
        for name, v in self.spec.constraint_values(rows).items():
            trial.set_constraint(name, v)
        trial.set_user_attr("reps", len(rows))
        trial.set_user_attr("kpis", self.spec.means(rows))

    def _check_parent(self) -> None:
        """A worker whose parent `promosim optimize` died stops at once (its trial is failed
        later by the heartbeat), rather than running on unseen; one asked to stop (SIGINT from
        its parent, noted by `deferred_interrupts`) stops here, between replications."""
        if self.parent_pid is not None and os.getppid() != self.parent_pid:
            os._exit(1)
        check_interrupt()


def per_replication(intermediate: dict[int, float], step: int) -> np.ndarray | None:
    """Per-replication values 1 … step recovered from running means (None if a step is missing)."""
    if any(s not in intermediate for s in range(1, step + 1)):
        return None
    means = np.array([intermediate[s] for s in range(1, step + 1)])
    n = np.arange(1, step + 1)
    return means * n - np.r_[0.0, means[:-1] * n[:-1]]


class PairedPruner(BasePruner):
    """Prune a trial that is, with confidence, worse than the best trial so far.

    After `after` replications (and every `every` after that) the trial's per-replication
    values are paired with the best feasible complete trial's values on the same replications
    (common random numbers); the trial is pruned when the one-sided upper `confidence` bound
    of the mean difference (Student t) is below zero — it is hopeless, not merely behind.
    """

    def __init__(self, after: int = 2, every: int = 1, confidence: float = 0.99):
        self.after, self.every, self.confidence = max(2, after), max(1, every), confidence

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < self.after or (step - self.after) % self.every:
            return False
        mine = per_replication(trial.intermediate_values, step)
        ref = best_trial(study)
        if mine is None or ref is None or ref.number == trial.number:
            return False
        theirs = per_replication(ref.intermediate_values, step)
        if theirs is None:
            return False
        sign = 1.0 if study.direction == optuna.study.StudyDirection.MAXIMIZE else -1.0
        d = sign * (mine - theirs)
        mean, sd = float(d.mean()), float(d.std(ddof=1))
        scale = max(1.0, float(np.abs(theirs).mean()))
        if sd <= 1e-12 * scale:
            return mean < -1e-12 * scale
        upper = mean + stats.t.ppf(self.confidence, d.size - 1) * sd / math.sqrt(d.size)
        return upper < 0

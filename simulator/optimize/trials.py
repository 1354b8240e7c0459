"""Reading a study: which trials count, which are feasible, which is best.

A trial *counts* when it ended COMPLETE or PRUNED; a FAIL (an error, or a worker killed
mid-trial and failed by Optuna's heartbeat) never counts. A trial is *feasible* when every
constraint value it set is ≤ 0. The best trial is the best feasible complete trial (ties: the
lower number); with two objectives, the Pareto front of feasible complete trials, and among
them the best on the first objective.
"""

from __future__ import annotations

import optuna
from optuna.trial import FrozenTrial, TrialState

COUNTED = (TrialState.COMPLETE, TrialState.PRUNED)


def counted(study: optuna.Study) -> list[FrozenTrial]:
    """Trials that ended COMPLETE or PRUNED."""
    return study.get_trials(deepcopy=False, states=COUNTED)


def is_feasible(t: FrozenTrial) -> bool:
    return all(v <= 0 for v in t.constraints.values())


def _key(t: FrozenTrial, maximize: bool):
    return (-t.values[0] if maximize else t.values[0], t.number)


def best_trial(study: optuna.Study, trials: list[FrozenTrial] | None = None) -> FrozenTrial | None:
    """The best feasible complete trial (the first objective decides between Pareto trials)."""
    if trials is None:
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    done = [t for t in trials if t.state == TrialState.COMPLETE and is_feasible(t)]
    if not done:
        return None
    maximize = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    if len(study.directions) > 1:
        front = pareto_front(study, done)
        return min(front, key=lambda t: _key(t, maximize)) if front else None
    return min(done, key=lambda t: _key(t, maximize))


def pareto_front(study: optuna.Study, trials: list[FrozenTrial] | None = None) -> list[FrozenTrial]:
    """Feasible complete trials that no other feasible complete trial dominates, by number."""
    if trials is None:
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    sign = [1.0 if d == optuna.study.StudyDirection.MAXIMIZE else -1.0 for d in study.directions]
    pts = [(t, [s * v for s, v in zip(sign, t.values)]) for t in trials
           if t.state == TrialState.COMPLETE and is_feasible(t)]
    front = []
    for t, a in pts:
        dominated = any(all(y >= x for x, y in zip(a, b)) and any(y > x for x, y in zip(a, b))
                        for _, b in pts)
        if not dominated:
            front.append(t)
    return sorted(front, key=lambda t: t.number)


def baseline_trial(study: optuna.Study) -> FrozenTrial | None:
    """The complete trial that evaluated the plan as written (the first, if retried)."""
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        if t.user_attrs.get("baseline"):
            return t
    return None

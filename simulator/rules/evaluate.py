"""Evaluating checked rule trees against an engine's metrics, and applying their actions.

An engine answers metric names through a `Metrics` object (or a mapping, or a plain
function); the evaluator walks the tree — no `eval`, no code generation. A value that
cannot be computed at run time (division by zero, a metric that is undefined, such as
a ROI with no spend) raises `RuleRuntimeError`, which `CompiledRule.evaluate` turns
into an outcome that says the rule did not fire and why: an engine never sees an
exception from a rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, Union, runtime_checkable

from simulator.rules.nodes import Binary, Bool, Call, Expr, Name, Num, Str, Unary, unparse


@runtime_checkable
class Metrics(Protocol):
    """What an engine offers a rule at an evaluation moment.

    `get(name, subject)` returns the value of metric `name` (see
    `simulator.rules.metrics.METRICS`) for `subject` (a channel or SKU name, or None for
    the whole store): a number, a string for `phase`, or None (or NaN) when the value is
    undefined (a ratio with a zero denominator). Contract: called only with names and
    subjects that the load-time check accepted; a snapshot — it must not change while a
    `RuleBook.step` runs.
    """

    def get(self, name: str, subject: str | None) -> float | str | None: ...


MetricsLike = Union[Metrics, Mapping, Callable[[str, "str | None"], "float | str | None"]]
"""A `Metrics`, a mapping keyed by `name` (store) or `(name, subject)`, or a function."""


class RuleRuntimeError(ArithmeticError):
    """A value a rule could not compute at run time; the rule does not fire."""

    def __init__(self, message: str, col: int):
        super().__init__(f"col {col}: {message}")
        self.message = message
        self.col = col

    def __reduce__(self):
        return (type(self), (self.message, self.col))


class MissingMetric(KeyError):
    """The engine's metrics do not answer a name the language promises (an engine bug)."""


def lookup(metrics: MetricsLike, name: str, subject: str | None):
    """The raw value of `name` for `subject` from any `MetricsLike`."""
    if isinstance(metrics, Mapping):
        for key in ((name, subject), name) if subject is None else ((name, subject),):
            if key in metrics:
                return metrics[key]
        raise MissingMetric(f"the metrics snapshot has no {name!r}"
                            + (f" for {subject!r}" if subject is not None else ""))
    if isinstance(metrics, Metrics):
        return metrics.get(name, subject)
    if callable(metrics):
        return metrics(name, subject)
    raise TypeError("metrics must be a Metrics, a mapping or a function, "
                    f"got {type(metrics).__name__}")


def evaluate(node: Expr, metrics: MetricsLike) -> float | str | bool:
    """The value of a checked tree. `and`/`or` short-circuit, so a guard such as
    `spend_1h > 0 and gmv_1h / spend_1h > 3` never divides by zero.
    Raises `RuleRuntimeError`."""
    if isinstance(node, Num):
        return node.value
    if isinstance(node, Str):
        return node.value
    if isinstance(node, Bool):
        return node.value
    if isinstance(node, Name):
        return _metric(node.name, None, node, metrics)
    if isinstance(node, Call):
        if node.name in ("min", "max"):
            values = [evaluate(a, metrics) for a in node.args]
            return min(values) if node.name == "min" else max(values)
        subject = node.args[0].value if node.args else None
        return _metric(node.name, subject, node, metrics)
    if isinstance(node, Unary):
        v = evaluate(node.operand, metrics)
        if node.op == "not":
            return not v
        return -v if node.op == "-" else v
    if isinstance(node, Binary):
        op = node.op
        if op == "and":
            return bool(evaluate(node.left, metrics)) and bool(evaluate(node.right, metrics))
        if op == "or":
            return bool(evaluate(node.left, metrics)) or bool(evaluate(node.right, metrics))
        a, b = evaluate(node.left, metrics), evaluate(node.right, metrics)
        if op == "+":
            return _finite(a + b, node)
        if op == "-":
            return _finite(a - b, node)
        if op == "*":
            return _finite(a * b, node)
        if op == "/":
            if b == 0:
                raise RuleRuntimeError(f"division by zero: {unparse(node.right)} is 0", node.col)
            return _finite(a / b, node)
        if op == "<":
            return a < b
        if op == "<=":
            return a <= b
        if op == ">":
            return a > b
        if op == ">=":
            return a >= b
        if op == "==":
            return a == b
        if op == "!=":
            return a != b
    raise TypeError(f"not a rules-language node: {node!r}")  # pragma: no cover


def _metric(name: str, subject: str | None, node: Expr, metrics: MetricsLike):
    v = lookup(metrics, name, subject)
    shown = f"{name}({subject!r})" if subject is not None else name
    if v is None or (isinstance(v, float) and math.isnan(v)):
        raise RuleRuntimeError(f"{shown} is undefined now (for instance a ROI with no spend)",
                               node.col)
    if isinstance(v, str):
        return v
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise TypeError(f"metric {shown} must be a number, got {v!r}") from None
    if math.isnan(v):
        raise RuleRuntimeError(f"{shown} is undefined now", node.col)
    return v


def _finite(v: float, node: Binary) -> float:
    if not math.isfinite(v):
        raise RuleRuntimeError(f"{unparse(node)!r} is not a finite number", node.col)
    return v


# ---------------------------------------------------------------- actions
@dataclass(frozen=True)
class Action:
    """One change to the plan: `target_path` (a scenario parameter path such as
    `channels.paid_search.daily_budget`), `op` ('=', '*=', '+=' or '-=') and the value
    computed at firing time (a number, or a string for a choice such as pacing)."""

    target_path: str
    op: str
    value: float | str

    def __str__(self) -> str:
        v = repr(self.value) if isinstance(self.value, str) else f"{self.value:g}"
        return f"{self.target_path} {self.op} {v}"


PlanState = dict[str, float | str | None]
"""The plan values rules may change, keyed by parameter path (None: not set, no cap)."""


def apply_actions(plan_state: PlanState, actions: Sequence[Action]) -> PlanState:
    """Apply `actions` in order to `plan_state` (changed in place); return the paths that
    changed with their new values.

    Numbers never go below 0 (a budget or bid cut past zero is zero). A relative change
    (`*=`, `+=`, `-=`) of a value that is not set (None: no cap) leaves it unset — the
    load-time check refuses such actions, so this happens only to a state the engine
    built differently. Every target must be a key of `plan_state` (see `initial_plan`).
    """
    changes = next_values(plan_state, actions)
    plan_state.update(changes)
    return changes


MAX_PLAN_VALUE = 1e12
"""The largest value a rule may give a plan value (a budget of a trillion, as the scenario's
own bound): past it — or past what a float holds, `*= 1e308` — the rule fails, changing
nothing, as `= 1e400` does."""


def next_values(plan_state: PlanState, actions: Sequence[Action]) -> PlanState:
    """The values `actions` would give (`apply_actions` without the change). Raises
    `RuleRuntimeError` when one is not a finite number up to `MAX_PLAN_VALUE`."""
    state = dict(plan_state)
    changes: PlanState = {}
    for a in actions:
        old = state[a.target_path]
        if isinstance(a.value, str) or a.op == "=":
            new = a.value
        elif old is None:
            continue
        elif a.op == "*=":
            new = old * a.value
        elif a.op == "+=":
            new = old + a.value
        elif a.op == "-=":
            new = old - a.value
        else:  # pragma: no cover - the parser admits no other operator
            raise ValueError(f"unknown action operator {a.op!r}")
        if not isinstance(new, str):
            new = float(new)
            if not math.isfinite(new) or new > MAX_PLAN_VALUE:
                field = a.target_path.split(".")[-1]
                raise RuleRuntimeError(f"{a} would set {field} to {new:g}, beyond {MAX_PLAN_VALUE:g}; "
                                       "nothing is changed", 1)
            new = max(0.0, new)
        state[a.target_path] = new
        changes[a.target_path] = new
    return changes

"""The rules language: mid-campaign plan changes (追加预算) written as small, safe expressions.

    when: "roi_1h('paid_search') > 3 and budget_left_share('paid_search') < 20%"
    then: "paid_search.daily_budget *= 1.3"

A hand-written tokenizer and Pratt parser (`tokenizer`, `parser`) build a tree
(`nodes`); `check` resolves its names against the scenario and types it when the
scenario loads; `evaluate` walks it against an engine's metrics; `program` compiles a
scenario's rules and keeps their firing state in a run. Nothing here uses `eval`,
`exec`, `compile` or Python's `ast`. The reference is docs/rules.md.

What an engine calls: `compile_rules`, `initial_plan`, `RuleBook` (`due`, `ticks`,
`step`), and `Firing.event()` / `RuleFailure.event()` for `events.parquet`.
"""

from simulator.rules.check import Environment, check_action, check_condition
from simulator.rules.errors import RuleError, RuleNameError, RuleSyntaxError, RuleTypeError
from simulator.rules.evaluate import (
    Action,
    Metrics,
    MissingMetric,
    RuleRuntimeError,
    apply_actions,
    evaluate,
)
from simulator.rules.metrics import ACTION_FIELDS, FUNCTIONS, METRICS, NO_PHASE, PACING_MODES
from simulator.rules.nodes import unparse
from simulator.rules.parser import MAX_HEIGHT, MAX_NESTING, parse_action, parse_condition
from simulator.rules.program import (
    CompiledRule,
    Firing,
    Outcome,
    RuleBook,
    RuleCompileError,
    RuleFailure,
    compile_rule,
    compile_rules,
    initial_plan,
)
from simulator.rules.tokenizer import MAX_LENGTH

__all__ = [
    "ACTION_FIELDS", "Action", "CompiledRule", "Environment", "FUNCTIONS", "Firing", "METRICS",
    "MAX_HEIGHT", "MAX_LENGTH", "MAX_NESTING", "Metrics", "MissingMetric", "NO_PHASE",
    "Outcome", "PACING_MODES", "RuleBook", "RuleCompileError", "RuleError", "RuleFailure",
    "RuleNameError", "RuleRuntimeError", "RuleSyntaxError", "RuleTypeError", "apply_actions",
    "check_action", "check_condition", "compile_rule", "compile_rules", "evaluate",
    "initial_plan", "parse_action", "parse_condition", "unparse",
]

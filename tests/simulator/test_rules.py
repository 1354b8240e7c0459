"""The rules language (追加预算): grammar, load-time checks, evaluation, actions, the rule book.

Every wrong rule in `tests/scenarios/invalid_rules/` fails to load with the message its
first line states (`# expect: <line>: <path>: <fragment>`, as in `invalid/`).
"""

from __future__ import annotations

import pickle
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Literal

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from simulator.rules import (
    ACTION_FIELDS,
    MAX_LENGTH,
    MAX_NESTING,
    METRICS,
    Action,
    Environment,
    Firing,
    Metrics,
    MissingMetric,
    RuleBook,
    RuleError,
    RuleFailure,
    RuleNameError,
    RuleRuntimeError,
    RuleSyntaxError,
    RuleTypeError,
    apply_actions,
    check_action,
    check_condition,
    compile_rules,
    evaluate,
    initial_plan,
    parse_action,
    parse_condition,
    unparse,
)
from simulator.rules.nodes import Assign, Binary, Bool, Call, Name, Num, Str, Unary
from simulator.rules.tokenizer import _PYTHON_WORDS, KEYWORDS
from simulator.scenario import Scenario, ScenarioError, load_scenario

HERE = Path(__file__).resolve().parents[1] / "scenarios"
REPO = Path(__file__).resolve().parents[2]
INVALID_RULES = sorted((HERE / "invalid_rules").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (?P<line>\d+|-): (?P<path>[^\s:]+): (?P<fragment>.+)$")


# ------------------------------------------------------------------ helpers
@pytest.fixture(scope="module")
def scenario():
    """valid_minimal: 2 days of 60-minute ticks, phases warmup (day 0) and burst (day 1);
    channels organic, ads (paid_search, daily_budget 1000), feed; SKUs lipstick, serum."""
    return load_scenario(HERE / "valid_minimal.yaml")


@pytest.fixture(scope="module")
def env(scenario):
    return Environment.from_scenario(scenario)


def with_rules(scenario: Scenario, rules: list[dict]) -> Scenario:
    return Scenario.model_validate({**scenario.model_dump(), "rules": rules})


def condition_error(text: str, env: Environment) -> RuleError:
    with pytest.raises(RuleError) as info:
        check_condition(parse_condition(text), env)
    return info.value


def action_error(text: str, env: Environment) -> RuleError:
    with pytest.raises(RuleError) as info:
        check_action(parse_action(text), env)
    return info.value


def paren(node) -> str:
    """Fully parenthesized text of a tree: shows how the parser grouped it."""
    if isinstance(node, Binary):
        return f"({paren(node.left)} {node.op} {paren(node.right)})"
    if isinstance(node, Unary):
        return f"({node.op} {paren(node.operand)})"
    if isinstance(node, Call):
        return f"{node.name}({', '.join(paren(a) for a in node.args)})"
    return unparse(node)


class FakeMetrics:
    """A `Metrics` over valid_minimal's clock (tick = hour), values from a dict keyed by
    `name` or `(name, subject)`; budget metrics read the live plan."""

    def __init__(self, tick: int, values: dict | None = None, plan: dict | None = None):
        self.tick, self.values, self.plan = tick, values or {}, plan

    def get(self, name, subject):
        if name == "hour":
            return self.tick % 24
        if name == "day":
            return self.tick // 24
        if name == "minutes_since_start":
            return self.tick * 60
        if name == "phase":
            return "warmup" if self.tick < 24 else "burst"
        if name == "daily_budget" and self.plan is not None:
            return self.plan[f"channels.{subject}.daily_budget"]
        return self.values.get((name, subject), self.values.get(name, 1.0))


# ------------------------------------------------------------------ grammar
@pytest.mark.parametrize(("text", "grouped"), [
    ("1 + 2 * 3", "(1 + (2 * 3))"),
    ("1 * 2 + 3", "((1 * 2) + 3)"),
    ("a - b - c", "((a - b) - c)"),
    ("a / b * c", "((a / b) * c)"),
    ("a - (b - c)", "(a - (b - c))"),
    ("-a * b", "((- a) * b)"),
    ("- -a", "(- (- a))"),
    ("a * -b", "(a * (- b))"),
    ("a + b < c * d", "((a + b) < (c * d))"),
    ("not a < b", "(not (a < b))"),
    ("not a and b", "((not a) and b)"),
    ("a or b and c", "(a or (b and c))"),
    ("a and b or c and d", "((a and b) or (c and d))"),
    ("a == b and c != d", "((a == b) and (c != d))"),
    ("roi_1h('ads') > 3 and phase == 'burst'", "((roi_1h('ads') > 3) and (phase == 'burst'))"),
    ("max(a, b + 1, 2) >= 20%", "(max(a, (b + 1), 2) >= 0.2)"),
    ("(a)", "a"),
])
def test_precedence_and_grouping(text, grouped):
    assert paren(parse_condition(text)) == grouped


@pytest.mark.parametrize(("text", "value"), [
    ("3", 3.0), ("0.25", 0.25), (".5", 0.5), ("3.", 3.0), ("1e3", 1000.0), ("2.5E-2", 0.025),
    ("20%", 0.2), ("150%", 1.5),
])
def test_numbers(text, value):
    assert parse_condition(text) == Num(value)


def test_strings_take_either_quote_and_keep_their_text():
    assert parse_condition("'直通车'") == Str("直通车")
    assert parse_condition('"it\'s"') == Str("it's")
    assert parse_condition("true") == Bool(True)


def test_columns_point_at_operators_and_names():
    tree = parse_condition("roi_1h('ads') > 3 and  hour >= 20")
    assert (tree.col, tree.left.col, tree.left.left.col, tree.right.left.col) == (19, 15, 1, 24)


def test_an_action_is_a_target_an_operator_and_a_value():
    a = parse_action("ads.daily_budget += 0.1 * spend_today('ads')")
    assert a == Assign(("ads", "daily_budget"), "+=",
                       Binary("*", Num(0.1), Call("spend_today", (Str("ads"),))))
    assert (a.col, a.op_col) == (1, 18)
    assert parse_action("ads.brand.bid *= 1.1").target == ("ads", "brand", "bid")
    assert parse_action("ads.pacing = 'even'").value == Str("even")


@pytest.mark.parametrize(("text", "col", "fragment"), [
    ("", 1, "the condition is empty"),
    ("roi_1h >", 9, "the text ends where a value was expected"),
    ("(roi_1h > 3", 1, "'(' is never closed"),
    ("roi_1h > 3)", 11, "')' without a matching '('"),
    ("roi_1h = 3", 8, "compare with '=='"),
    ("roi_1h > 3 3", 12, "expected an operator or the end"),
    ("1 < 2 < 3", 7, "comparisons do not chain"),
    ("roi_1h ** 2 > 1", 8, "powers"),
    ("roi_1h > 3 && hour > 2", 12, "use 'and'"),
    ("'burst", 1, "unterminated string"),
    ("3x > 1", 2, "a number runs into a name"),
    ("and hour > 1", 1, "'and' needs a condition on its left"),
    ("roi_1h（'ads'） > 1", 7, "full-width character; use the ASCII '('"),
    ("hour > 1 ,", 10, "',' outside a call's parentheses"),
    ("f(1,)", 5, "expected a value, got ')'"),
    ("1e999 > 1", 1, "too large"),
])
def test_syntax_errors_name_their_column(text, col, fragment):
    with pytest.raises(RuleSyntaxError) as info:
        parse_condition(text)
    assert info.value.col == col, str(info.value)
    assert fragment in info.value.message
    assert str(info.value) == f"col {col}: {info.value.message}"


@pytest.mark.parametrize(("text", "col", "fragment"), [
    ("", 1, "the action is empty"),
    ("3 = 4", 1, "an action starts with a target"),
    ("ads.daily_budget == 3", 18, "'==' compares"),
    ("ads.daily_budget", 17, "expected '=', '*=', '+=' or '-='"),
    ("ads.daily_budget /= 2", 18, "'/=' is not an action"),
    ("ads.daily_budget = ", 20, "expected a value after '='"),
    ("ads.daily_budget = 1 = 2", 22, "one assignment per action"),
    ("ads.'x' = 1", 5, "expected a field name after '.'"),
])
def test_action_syntax_errors(text, col, fragment):
    with pytest.raises(RuleSyntaxError) as info:
        parse_action(text)
    assert (info.value.col, fragment in info.value.message) == (col, True), str(info.value)


# ----------------------------------------------------- the acceptance four
def test_unknown_metric_is_rejected_with_its_column_and_the_nearest_name(env):
    err = condition_error("hour > 1 and roi_1hh > 3", env)
    assert isinstance(err, RuleNameError)
    assert str(err) == "col 14: unknown metric 'roi_1hh'; did you mean 'roi_1h'?"


def test_unknown_action_is_rejected(env):
    err = action_error("pause('ads')", env)
    assert isinstance(err, RuleNameError)
    assert str(err).startswith("col 1: unknown action 'pause'")
    err = action_error("ads.stop()", env)
    assert str(err).startswith("col 1: unknown action 'ads.stop'")
    err = action_error("ads.cpc *= 2", env)
    assert isinstance(err, RuleNameError)
    assert str(err) == ("col 5: unknown action target field 'cpc': rules set daily_budget, "
                        "total_budget, bid or pacing")
    assert "did you mean 'daily_budget'?" in str(action_error("ads.daily_budgt *= 2", env))


def test_type_errors_are_rejected(env):
    err = condition_error("roi_1h + 'x' > 3", env)
    assert isinstance(err, RuleTypeError)
    assert str(err) == "col 8: '+' needs numbers on both sides, but the right side 'x' is a string"
    assert str(condition_error("roi_1h('ads')", env)).startswith(
        "col 1: the condition must be true or false")
    assert str(condition_error("roi_1h > 3 and 5", env)) == (
        "col 12: 'and' needs true/false on both sides (comparisons), but the right side '5' is "
        "a number")
    assert str(action_error("ads.daily_budget = 'more'", env)) == (
        "col 20: daily_budget takes a number, but 'more' is a string")
    assert str(action_error("ads.daily_budget = roi_1h > 3", env)) == (
        "col 20: daily_budget takes a number, but 'roi_1h > 3' is a bool")


# Each hostile text with the column and the words of its rejection.
HOSTILE = [
    ("__import__('os')", 1, "names may not start with '_'"),
    ("__import__('os').system('rm -rf /') == 0", 1, "names may not start with '_'"),
    ("roi_1h.__class__ == 1", 8, "names may not start with '_'"),
    ("roi_1h.real > 1", 7, "attribute access ('.') is not allowed"),
    ("'ads'.upper() == 'ADS'", 6, "attribute access ('.') is not allowed"),
    ("lambda: 1", 1, "'lambda' is not part of the rules language"),
    ("(lambda x: x)(1) > 0", 2, "'lambda' is not part of the rules language"),
    ("[x for x in y]", 1, "brackets ('[')"),
    ("roi_1h > 1 for x in y", 12, "'for' is not part of the rules language"),
    ("{}", 1, "braces ('{')"),
    ("[]", 1, "brackets ('[')"),
    ("{x: 1 for x in y}", 1, "braces ('{')"),
    ("roi_1h > 3; import os", 11, "';' is not allowed"),
    ("`ls`", 1, "backticks"),
    ("eval('1') > 0", 1, "'eval' is not part of the rules language"),
    ("exec('x') == 0", 1, "'exec' is not part of the rules language"),
    ("open('/etc/passwd') == 0", 1, "'open' is not part of the rules language"),
    ("getattr(roi_1h, 'x') > 0", 1, "'getattr' is not part of the rules language"),
    ("import os", 1, "'import' is not part of the rules language"),
    ("1 if roi_1h else 0", 3, "'if' is not part of the rules language"),
    ("roi_1h > 1 # comment", 12, "comments ('#')"),
    ("'%s' % roi_1h == 'x'", 6, "no remainder operator"),
    ("roi_1h @ 2 > 1", 8, "'@'"),
    ("roi_1h > 1\\\n", 11, "backslashes"),
    ("roi_1h > 1 and \x00", 16, "unexpected character"),
    ("f'{roi_1h}' == 1", 2, "expected an operator or the end"),
    ("x := 1", 3, "':'"),
    ("roi_1h[0] > 1", 7, "brackets ('[')"),
]


@pytest.mark.parametrize(("text", "col", "fragment"), HOSTILE, ids=[h[0][:24] for h in HOSTILE])
def test_hostile_text_is_rejected_at_parse_time_with_its_column(text, col, fragment):
    with pytest.raises(RuleSyntaxError) as info:
        parse_condition(text)
    assert fragment in info.value.message, str(info.value)
    assert info.value.col == col, str(info.value)


def test_hostile_text_in_an_action_is_rejected_too():
    for text in ("ads.__class__ = 1", "ads.daily_budget = __import__('os')",
                 "ads.daily_budget = 1; ads.total_budget = 2", "ads.daily_budget = [1][0]"):
        with pytest.raises(RuleSyntaxError):
            parse_action(text)


def test_very_long_text_is_rejected_before_it_is_read():
    text = "roi_1h > 1 and " * 40 + "hour > 1"
    assert len(text) > MAX_LENGTH
    with pytest.raises(RuleSyntaxError) as info:
        parse_condition(text)
    assert f"at most {MAX_LENGTH} are allowed" in str(info.value)
    with pytest.raises(RuleSyntaxError, match="characters long"):
        parse_condition("x" * 100_000)


@pytest.mark.parametrize("text", [
    "(" * 30 + "1" + ")" * 30 + " > 0",
    "-" * 30 + "1 > 0",
    "not " * 30 + "true",
    "max(" * 30 + "1, 2" + ")" * 30 + " > 0",
])
def test_deep_nesting_is_rejected_with_a_column(text):
    with pytest.raises(RuleSyntaxError) as info:
        parse_condition(text)
    assert f"nested more than {MAX_NESTING} levels deep" in info.value.message
    assert 1 < info.value.col <= len(text)


def test_a_tall_tree_is_rejected():
    with pytest.raises(RuleSyntaxError, match="too deeply nested"):
        parse_condition(" + ".join(["1"] * 80) + " > 0")
    parse_condition(" + ".join(["1"] * 60) + " > 0")  # a long sum within bounds is fine


def test_the_package_never_uses_eval_exec_compile_or_ast():
    files = (REPO / "simulator" / "rules").glob("*.py")
    src = "\n".join(p.read_text(encoding="utf-8") for p in files)
    assert not re.search(r"\b(eval|exec|compile)\s*\(", src)
    assert not re.search(r"^\s*(import ast|from ast )", src, flags=re.M)
    assert "__builtins__" not in src and "import importlib" not in src


# ----------------------------------------------------------- type checking
@pytest.mark.parametrize(("text", "col", "fragment"), [
    ("roi_1h('adz') > 1", 8, "unknown channel 'adz'; did you mean 'ads'?"),
    ("roi_1h(ads) > 1", 8, "write the name in quotes: roi_1h('ads')"),
    ("roi_1h(3) > 1", 8, "roi_1h takes a channel name in quotes"),
    ("roi_1h('ads', 'feed') > 1", 15, "at most one subject"),
    ("stock_left('lipstik') > 1", 12, "unknown SKU 'lipstik'; did you mean 'lipstick'?"),
    ("stock_left('ads') > 1", 12, "unknown SKU 'ads'"),
    ("gmv_1h('serum') > 1 and gmv_1h('feed') > 1", 32, None),
    ("gmv_1h('nothing') > 1", 8, "unknown channel or SKU 'nothing'"),
    ("hour('ads') > 1", 6, "hour takes no subject"),
    ("ads > 1", 1, "'ads' is a channel, not a metric"),
    ("lipstick > 1", 1, "'lipstick' is a SKU, not a metric"),
    ("min(1) > 0", 1, "min() needs at least two numbers"),
    ("min > 0", 1, "min is a function"),
    ("max(1, phase) > 0", 8, "max() takes numbers, but 'phase' is a string"),
    ("-phase == 'burst'", 1, "'-' takes a number, but 'phase' is a string"),
    ("not roi_1h", 1, "'not' takes a true/false value, but 'roi_1h' is a number"),
    ("phase == 'bursts'", 10, "unknown phase 'bursts'; the phases are 'warmup', 'burst' or "
                              "'(none)'; did you mean 'burst'?"),
    ("phase > 'burst'", 7, "phases compare only with '==' or '!='"),
    ("'burst' == 'burst'", 9, "compares two fixed strings"),
    ("phase == 1", 7, "'==' compares a string with a number"),
    ("roi_1h / (2 - 2) > 1 and roi_1h / -0 > 1", 33, "division by zero"),
    ("budget_left('feed') > 1", 1, "channel 'feed' (recommendation) has no daily_budget or "
                                   "total_budget set"),
    ("total_budget('ads') > 1", 1, "has no total_budget set"),
])
def test_names_and_types_are_checked_at_load_time(env, text, col, fragment):
    if fragment is None:  # accepted
        check_condition(parse_condition(text), env)
        return
    err = condition_error(text, env)
    assert (err.col, fragment in err.message) == (col, True), str(err)


def test_well_typed_conditions_pass(env):
    for text in [
        "roi_1h > 3 and budget_left('ads') < 0.2 * daily_budget('ads')",
        "budget_left < 20% or budget_left_share < 0.2",
        "phase == 'burst' or phase != '(none)' and hour >= 20",
        "stock_share('lipstick') < 10% and units_today('serum') > 5 and orders_1h('ads') > 1",
        "(roi_1h > 3) == (hour > 2) and true",
        "minutes_since_start >= 600 and day == 1 and -visits_total > -1e6",
    ]:
        check_condition(parse_condition(text), env)


def test_hourly_metrics_need_ticks_of_an_hour_at_most(scenario):
    daily = Scenario.model_validate(
        {**scenario.model_dump(), "meta": {**scenario.meta.model_dump(), "tick_minutes": 1440}})
    err = condition_error("roi_1h > 1", Environment.from_scenario(daily))
    assert "needs ticks of at most 60 minutes" in err.message and "roi_today" in err.message
    check_condition(parse_condition("roi_today > 1"), Environment.from_scenario(daily))


# --- targets found generically: bids, pacing and ad groups where the schema has them
class _AdGroup(BaseModel):
    bid: float
    daily_budget: float | None = None


class _Search(BaseModel):
    kind: Literal["paid_search"] = "paid_search"
    bid: float = 1.5
    daily_budget: float | None = 800.0
    total_budget: float | None = None
    pacing: Literal["asap", "even"] = "even"
    cpc: float = 1.0
    ad_groups: dict[str, _AdGroup] = {}


class _Organic(BaseModel):
    kind: Literal["organic_search"] = "organic_search"
    visits_per_hour: float = 10


@pytest.fixture(scope="module")
def rich_env():
    fake = SimpleNamespace(
        channels={"search": _Search(ad_groups={"brand": _AdGroup(bid=2.0)}), "organic": _Organic()},
        skus={"lipstick": None}, calendar=SimpleNamespace(phases=[SimpleNamespace(name="burst")]),
        meta=SimpleNamespace(tick_minutes=15))
    return Environment.from_scenario(fake)


def test_targets_are_found_in_the_schema_generically(rich_env):
    t = check_action(parse_action("search.bid *= 1.1"), rich_env)
    assert (t.path, t.type) == ("channels.search.bid", "number")
    t = check_action(parse_action("search.brand.bid += 0.5"), rich_env)
    assert t.path == "channels.search.ad_groups.brand.bid"
    t = check_action(parse_action("search.pacing = 'asap'"), rich_env)
    assert (t.path, t.choices) == ("channels.search.pacing", ("asap", "even"))


@pytest.mark.parametrize(("text", "col", "fragment"), [
    ("search.pacing = 'evenly'", 17,
     "unknown pacing 'evenly'; expected 'asap' or 'even'; did you mean 'even'?"),
    ("search.pacing = 'launch_weighted'", 17, "unknown pacing 'launch_weighted'"),
    ("search.pacing *= 2", 15, "pacing is a choice; only '=' sets it"),
    ("search.pacing = hour", 17, "pacing takes one of 'asap' or 'even' in quotes"),
    ("search.bid = 'high'", 14, "bid takes a number"),
    ("search.brnad.bid *= 2", 8,
     "unknown ad group 'brnad' of channel 'search'; did you mean 'brand'?"),
    ("search.brand.pacing = 'even'", 14,
     "ad group 'brand' of channel 'search' has no pacing; it has daily_budget and bid"),
    ("search.brand.daily_budget *= 2", 27,
     "channels.search.ad_groups.brand.daily_budget is not set"),
    ("organic.x.bid = 1", 9, "channel 'organic' (organic_search) has no ad groups"),
    ("organic.bid = 1", 9, "has no bid; a rule can set nothing on it"),
    ("search.total_budget += 100", 21, "is not set in the scenario"),
    ("daily_budget *= 2", 1, "name the channel: '<channel>.daily_budget'"),
    ("search.a.b.bid = 1", 1, "has 4 parts"),
])
def test_bad_targets(rich_env, text, col, fragment):
    err = action_error(text, rich_env)
    assert (err.col, fragment in err.message) == (col, True), str(err)


def test_a_budget_that_is_not_set_can_be_set_with_equals(rich_env):
    assert check_action(parse_action("search.total_budget = 5000"), rich_env).path == \
        "channels.search.total_budget"


def test_every_action_field_and_metric_is_documented():
    doc = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    for name in [*METRICS, *ACTION_FIELDS]:
        assert f"`{name}`" in doc, name


# ---------------------------------------------------------------- evaluation
def test_evaluation_against_a_mapping_a_function_and_a_metrics_object(env):
    tree = parse_condition("roi_1h('ads') > 3 and budget_left('ads') < 0.2 * daily_budget('ads')")
    check_condition(tree, env)
    values = {("roi_1h", "ads"): 3.5, ("budget_left", "ads"): 150.0,
              ("daily_budget", "ads"): 1000.0}
    assert evaluate(tree, values) is True
    assert evaluate(tree, lambda name, subject: values[(name, subject)]) is True
    assert evaluate(tree, {**values, ("budget_left", "ads"): 250.0}) is False

    class Snapshot:
        def get(self, name, subject):
            return values[(name, subject)]

    assert isinstance(Snapshot(), Metrics)
    assert evaluate(tree, Snapshot()) is True
    store = parse_condition("gmv_1h / 2 + -1 == 4 and phase == 'burst'")
    assert evaluate(store, {"gmv_1h": 10, "phase": "burst"}) is True
    assert evaluate(store, {("gmv_1h", None): 10, ("phase", None): "warmup"}) is False


def test_a_missing_metric_is_an_engine_bug_and_says_so():
    with pytest.raises(MissingMetric, match="no 'roi_1h' for 'ads'"):
        evaluate(parse_condition("roi_1h('ads') > 1"), {})


def test_and_or_short_circuit_so_guards_work():
    tree = parse_condition("spend_1h > 0 and gmv_1h / spend_1h > 3 or hour == 1")
    assert evaluate(tree, {"spend_1h": 0, "gmv_1h": 5, "hour": 1}) is True
    assert evaluate(tree, {"spend_1h": 0, "gmv_1h": 5, "hour": 2}) is False
    with pytest.raises(RuleRuntimeError, match="col 21: division by zero: spend_1h is 0"):
        evaluate(parse_condition("hour > 0 and gmv_1h / spend_1h > 3"),
                 {"spend_1h": 0, "gmv_1h": 5, "hour": 1})


def test_undefined_metrics_and_division_by_zero_mean_no_firing_not_an_exception(scenario):
    s = with_rules(scenario, [
        {"name": "div", "when": "gmv_1h / spend_1h('ads') > 1", "then": "ads.daily_budget *= 2"},
        {"name": "undef", "when": "roi_1h('ads') > 1", "then": "ads.daily_budget *= 2"},
        {"name": "nan", "when": "roi_1h('feed') > 1", "then": "ads.daily_budget *= 2"},
    ])
    div, undef, nan = compile_rules(s)
    metrics = {"gmv_1h": 5.0, ("spend_1h", "ads"): 0.0, ("roi_1h", "ads"): None,
               ("roi_1h", "feed"): float("nan")}
    out = div.evaluate(metrics)
    assert (out.fired, out.actions) == (False, ())
    assert out.error == "rule 'div': col 8: division by zero: spend_1h('ads') is 0"
    assert "roi_1h('ads') is undefined" in undef.evaluate(metrics).error
    assert "roi_1h('feed') is undefined" in nan.evaluate(metrics).error
    with pytest.raises(RuleRuntimeError):
        div.when(metrics)


def test_actions_compute_their_values_when_the_rule_fires(scenario):
    s = with_rules(scenario, [{
        "name": "more", "when": "roi_1h('ads') > 3",
        "then": ["ads.daily_budget += 0.1 * spend_today('ads')", "ads.total_budget = 5e4"],
    }])
    [rule] = compile_rules(s)
    assert rule.targets == ("channels.ads.daily_budget", "channels.ads.total_budget")
    out = rule.evaluate({("roi_1h", "ads"): 4.0, ("spend_today", "ads"): 800.0})
    assert out.fired and out.error is None
    assert out.actions == (Action("channels.ads.daily_budget", "+=", 80.0),
                           Action("channels.ads.total_budget", "=", 50000.0))
    assert str(out.actions[0]) == "channels.ads.daily_budget += 80"
    assert rule.evaluate({("roi_1h", "ads"): 2.0}).fired is False


def test_apply_actions_changes_the_plan_in_place_and_reports_the_changes():
    plan = {"a": 100.0, "b": 10.0, "c": None, "p": "even"}
    changes = apply_actions(plan, [
        Action("a", "*=", 1.3), Action("a", "+=", 5), Action("b", "-=", 25),
        Action("c", "*=", 2), Action("p", "=", "asap"),
    ])
    assert plan == {"a": pytest.approx(135.0), "b": 0.0, "c": None, "p": "asap"}
    assert changes == {"a": pytest.approx(135.0), "b": 0.0, "p": "asap"}
    apply_actions(plan, [Action("c", "=", 7)])
    assert plan["c"] == 7.0
    with pytest.raises(KeyError):
        apply_actions(plan, [Action("missing", "=", 1)])


# ------------------------------------------------------------ the rule book
def run_book(scenario, rules, values=None, n_ticks=48, plan_metrics=False):
    s = with_rules(scenario, rules)
    compiled = compile_rules(s)
    plan = initial_plan(s, compiled)
    book = RuleBook(compiled)
    events = []
    for tick in range(n_ticks):
        if book.due(tick):
            m = FakeMetrics(tick, values, dict(plan) if plan_metrics else None)
            events.extend(book.step(tick, m, plan))
    return events, plan, book


def test_rules_run_at_the_end_of_each_cadence_period(scenario):
    s = with_rules(scenario, [
        {"name": "two_hourly", "every": "2h", "when": "true", "then": "ads.daily_budget += 1"},
        {"name": "daily", "every": "1d", "when": "true", "then": "ads.daily_budget += 1"},
        {"name": "window", "when": "true", "then": "ads.daily_budget += 1",
         "active": {"start": "2026-11-10 20:00", "end": "2026-11-11 02:00"}},
    ])
    two, daily, window = compile_rules(s)
    assert [t for t in range(48) if two.evaluates_at(t)] == list(range(2, 48, 2))
    assert [t for t in range(48) if daily.evaluates_at(t)] == [24]  # never at 0 or at the end
    assert [t for t in range(48) if window.evaluates_at(t)] == [20, 21, 22, 23, 24, 25]
    assert RuleBook([daily, window]).ticks(48) == [20, 21, 22, 23, 24, 25]


def test_firings_are_events_and_max_firings_caps_them(scenario):
    events, plan, book = run_book(scenario, [
        {"name": "add", "when": "roi_1h('ads') > 3", "then": "ads.daily_budget *= 1.5",
         "max_firings": 2}], values={("roi_1h", "ads"): 4.0})
    assert [e.event() for e in events] == [(1, "rule_fired", "add", 1.0),
                                           (2, "rule_fired", "add", 2.0)]
    assert plan == {"channels.ads.daily_budget": pytest.approx(2250.0)}
    assert events[0].changes == {"channels.ads.daily_budget": pytest.approx(1500.0)}
    assert isinstance(events[0], Firing) and book.total_firings == 2


def test_once_per_day_and_phases(scenario):
    events, _, _ = run_book(scenario, [
        {"name": "daily_once", "when": "hour >= 5", "then": "ads.daily_budget += 1",
         "once_per_day": True},
        {"name": "burst_only", "when": "true", "then": "ads.daily_budget += 1",
         "phases": ["burst"], "max_firings": 1},
    ])
    assert [e.event() for e in events] == [
        (5, "rule_fired", "daily_once", 1.0),
        (24, "rule_fired", "burst_only", 1.0),
        (29, "rule_fired", "daily_once", 2.0),
    ]


def test_rules_at_one_moment_see_one_snapshot_and_apply_in_declaration_order(scenario):
    events, plan, _ = run_book(scenario, [
        {"name": "double", "when": "true", "then": "ads.daily_budget *= 2", "max_firings": 2},
        {"name": "top_up", "when": "daily_budget('ads') > 1500",
         "then": "ads.daily_budget += 1", "max_firings": 1},
    ], plan_metrics=True)
    # tick 1: `top_up` sees 1000 (the snapshot before `double` fired); tick 2 it sees 2000
    assert [e.event()[:3] for e in events] == [
        (1, "rule_fired", "double"), (2, "rule_fired", "double"), (2, "rule_fired", "top_up")]
    assert plan["channels.ads.daily_budget"] == 4001.0


def test_a_rule_that_cannot_be_evaluated_logs_a_failure_and_the_run_goes_on(scenario):
    events, plan, book = run_book(scenario, [
        {"name": "bad", "when": "roi_1h('ads') > 1", "then": "ads.daily_budget = 0"},
        {"name": "good", "when": "hour == 3", "then": "ads.daily_budget += 1"},
    ], values={("roi_1h", "ads"): None}, n_ticks=4)
    assert [e.event() for e in events] == [
        (1, "rule_failed", "bad", 1.0), (2, "rule_failed", "bad", 2.0),
        (3, "rule_failed", "bad", 3.0), (3, "rule_fired", "good", 1.0)]
    assert isinstance(events[0], RuleFailure) and "undefined" in events[0].message
    assert plan == {"channels.ads.daily_budget": 1001.0} and book.total_firings == 1


def test_compiled_rules_are_picklable_data(scenario):
    s = with_rules(scenario, [{"name": "r", "when": "roi_1h > 3 and phase == 'burst'",
                               "then": ["ads.daily_budget *= 1.3"], "once_per_day": True}])
    rules = compile_rules(s)
    back = pickle.loads(pickle.dumps(rules))
    assert back == rules
    assert back[0].evaluate({"roi_1h": 4, "phase": "burst"}).fired
    err = pickle.loads(pickle.dumps(RuleNameError("unknown metric 'x'", 3)))
    assert (type(err), err.col, str(err)) == (RuleNameError, 3, "col 3: unknown metric 'x'")


# ------------------------------------------------------------- the scenario
def test_a_scenario_with_rules_loads_and_survives_overrides(scenario):
    s = with_rules(scenario, [{"name": "r", "every": "2h", "when": "roi_1h > 3",
                               "then": "ads.daily_budget *= 1.3", "max_firings": 3}])
    assert s.rules[0].every_minutes == 120
    assert s.rules[0].actions_text == ["ads.daily_budget *= 1.3"]
    t = s.with_overrides({"channels.ads.daily_budget": 2000, "rules.0.max_firings": 1})
    assert t.rules[0].max_firings == 1
    assert initial_plan(t, compile_rules(t)) == {"channels.ads.daily_budget": 2000.0}
    assert scenario.rules == [] and compile_rules(scenario) == ()


def test_an_override_that_breaks_a_rule_is_reported(scenario):
    s = with_rules(scenario, [{"name": "r", "when": "roi_1h > 3", "then": "ads.daily_budget *= 2"}])
    with pytest.raises(ScenarioError, match=r"rules\.0\.then: col 18: channels\.ads\.daily_budget "
                                            "is not set"):
        s.with_overrides({"channels.ads.daily_budget": None})


@pytest.mark.parametrize("path", INVALID_RULES, ids=[p.stem for p in INVALID_RULES])
def test_invalid_rule_reports_file_line_path_and_column(path: Path):
    first = path.read_text(encoding="utf-8").splitlines()[0]
    want = EXPECT.match(first)
    assert want, f"{path.name}: first line must be '# expect: <line>: <path>: <fragment>'"
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    issues = info.value.issues
    assert len(issues) == 1, f"one mistake, one message; got:\n{info.value}"
    issue = issues[0]
    assert (issue.file, issue.line, issue.path) == (str(path), int(want["line"]), want["path"]), \
        str(issue)
    assert want["fragment"] in issue.message, str(issue)
    assert str(info.value) == f"{path}:{issue.line}: {issue.path}: {issue.message}"


def test_the_invalid_rules_folder_covers_the_acceptance_cases():
    stems = {p.stem for p in INVALID_RULES}
    assert {"unknown_metric", "unknown_action", "type_error_number_plus_string", "hostile_import",
            "hostile_attribute", "hostile_lambda", "hostile_comprehension"} <= stems


def test_the_examples_in_docs_compile_against_the_double11_scenario():
    from ruamel.yaml import YAML

    doc = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", doc, flags=re.S)
    rules = [r for b in blocks for r in YAML(typ="safe", pure=True).load(b)["rules"]]
    assert len(rules) >= 5
    rules[0]["name"] = "first_example"
    flagship = load_scenario(REPO / "scenarios" / "double11_beauty_flagship.yaml")
    s = Scenario.model_validate({**flagship.model_dump(), "rules": rules})
    compiled = compile_rules(s)
    assert {p.split(".")[1] for r in compiled for p in r.targets} == {"paid_search"}


# ---------------------------------------------------------------- properties
NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True).filter(
    lambda s: s not in KEYWORDS and s not in _PYTHON_WORDS)
LEAVES = st.one_of(
    st.floats(min_value=0, allow_nan=False, allow_infinity=False).map(Num),
    st.text(st.characters(blacklist_characters="'\""), max_size=6).map(Str),
    st.booleans().map(Bool),
    NAMES.map(Name),
)


def _trees(children):
    return st.one_of(
        st.tuples(st.sampled_from(["-", "+", "not"]), children).map(lambda t: Unary(*t)),
        st.tuples(st.sampled_from(["+", "-", "*", "/", "<", "<=", ">", ">=", "==", "!=",
                                   "and", "or"]), children, children).map(lambda t: Binary(*t)),
        st.tuples(NAMES, st.lists(children, max_size=3).map(tuple)).map(lambda t: Call(*t)),
    )


TREES = st.recursive(LEAVES, _trees, max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=120))
def test_random_text_never_crashes_the_parser(text):
    for parse in (parse_condition, parse_action):
        try:
            parse(text)
        except RuleError:
            pass


TOKENISH = st.lists(st.sampled_from(
    ["roi_1h", "hour", "phase", "ads", "'ads'", "'burst'", "(", ")", ",", ".", "+", "-", "*", "/",
     "<", ">=", "==", "!=", "=", "*=", "and", "or", "not", "1", "2.5", "20%", "max", "true",
     " ", "__x", "[", ";", "lambda"]), max_size=25).map("".join)


@settings(max_examples=300, deadline=None)
@given(TOKENISH)
def test_random_token_soup_only_ever_raises_the_languages_own_errors(env, text):
    try:
        check_condition(parse_condition(text), env)
    except RuleError:
        pass
    try:
        check_action(parse_action(text), env)
    except RuleError:
        pass


def _round_trip(tree, parse):
    text = unparse(tree)
    try:
        back = parse(text)
    except RuleSyntaxError as e:
        if "nested" in e.message or "characters long" in e.message:
            reject()
        raise
    assert back == tree, text
    assert unparse(back) == text


@settings(max_examples=300, deadline=None)
@given(TREES)
def test_printed_trees_parse_back_to_the_same_tree(tree):
    _round_trip(tree, parse_condition)


@settings(max_examples=100, deadline=None)
@given(st.lists(NAMES, min_size=2, max_size=3).map(tuple), st.sampled_from(["=", "*=", "+=", "-="]),
       TREES)
def test_printed_actions_parse_back_to_the_same_action(target, op, value):
    _round_trip(Assign(target, op, value), parse_action)


# well-typed numeric expressions over valid_minimal's names, for evaluation
NUMERIC_LEAVES = st.one_of(
    st.floats(min_value=0, max_value=1e6, allow_nan=False).map(Num),
    st.sampled_from(["roi_1h", "gmv_today", "hour", "spend_1h"]).map(Name),
    st.sampled_from([("roi_1h", "ads"), ("stock_left", "serum"), ("gmv_1h", "lipstick")]).map(
        lambda t: Call(t[0], (Str(t[1]),))),
)
NUMERIC = st.recursive(NUMERIC_LEAVES, lambda c: st.one_of(
    st.tuples(st.sampled_from(["+", "-", "*", "/"]), c, c).map(lambda t: Binary(*t)),
    c.map(lambda x: Unary("-", x)),
    st.tuples(c, c).map(lambda t: Call("max", t)),
), max_leaves=8)
METRIC_VALUES = st.one_of(st.none(), st.just(0.0), st.floats(-1e6, 1e6, allow_nan=False))


@settings(max_examples=200, deadline=None)
@given(NUMERIC, NUMERIC, st.sampled_from(["<", ">=", "=="]),
       st.dictionaries(st.sampled_from(["roi_1h", "gmv_today", "hour", "spend_1h", "x"]),
                       METRIC_VALUES))
def test_well_typed_conditions_evaluate_to_a_bool_or_a_runtime_error(env, left, right, op, values):
    tree = Binary(op, left, right)
    try:
        check_condition(tree, env)
    except RuleTypeError as e:
        assert "division by zero" in e.message
        return
    metrics = lambda name, subject: values.get(name, 2.0)  # noqa: E731
    try:
        assert evaluate(tree, metrics) in (True, False)
    except RuleRuntimeError:
        pass


@settings(max_examples=300, deadline=None)
@given(TREES, st.lists(NAMES | st.sampled_from(["ads", "daily_budget", "organic"]), min_size=1,
                       max_size=4).map(tuple))
def test_the_checker_raises_only_the_languages_errors_on_any_tree(env, tree, target):
    try:
        check_condition(tree, env)
    except RuleError:
        pass
    try:
        check_action(Assign(target, "*=", tree), env)
    except RuleError:
        pass

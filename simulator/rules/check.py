"""Load-time checks: names, subjects, targets and types of a parsed rule.

A rule is checked against an `Environment` — the names a scenario defines (channels
and what a rule may set on them, SKUs, phases, the tick) — so every mistake is found
when the scenario is loaded, with its column, and never while a campaign runs.

Types are number, string and bool. Arithmetic takes numbers; `< <= > >=` compare
numbers; `== !=` compare two values of one type, and a string only as `phase == 'name'`
with a phase the scenario declares; `and`, `or`, `not` take bools; a condition is a bool.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, field

from simulator.naming import did_you_mean
from simulator.rules.errors import RuleNameError, RuleTypeError
from simulator.rules.metrics import (
    ACTION_FIELDS,
    BOOL,
    CHANNEL,
    CHANNEL_OR_SKU,
    FUNCTIONS,
    METRICS,
    NO_PHASE,
    NUMBER,
    SKU,
    STRING,
    MetricSpec,
)
from simulator.rules.nodes import (
    ARITHMETIC,
    LOGIC,
    Assign,
    Binary,
    Bool,
    Call,
    Expr,
    Name,
    Num,
    Str,
    Unary,
    unparse,
)


# ------------------------------------------------------------ environment
@dataclass(frozen=True)
class FieldInfo:
    """A field a rule may set on one holder: its type, choices and value in the scenario."""

    type: str
    choices: tuple[str, ...] = ()
    value: float | str | None = None


@dataclass(frozen=True)
class Holder:
    """A channel or ad group: `path` in the scenario, settable `fields`, its `children`
    (ad groups) by name."""

    label: str
    path: str
    fields: dict[str, FieldInfo] = field(default_factory=dict)
    children: dict[str, "Holder"] = field(default_factory=dict)


@dataclass(frozen=True)
class Environment:
    """The names one scenario gives its rules."""

    channels: dict[str, Holder]
    skus: tuple[str, ...] = ()
    phases: tuple[str, ...] = ()
    tick_minutes: int = 1

    @classmethod
    def from_scenario(cls, scenario) -> "Environment":
        """Read the names from a `Scenario`. Settable fields are found generically: any of
        `ACTION_FIELDS` that the channel's model (or an ad group's, under
        `channels.<name>.ad_groups`) declares."""
        channels = {}
        for name, ch in scenario.channels.items():
            kind = getattr(ch, "kind", None)
            label = f"channel {name!r}" + (f" ({kind})" if kind else "")
            children = {}
            for g, group in (getattr(ch, "ad_groups", None) or {}).items():
                children[g] = Holder(f"ad group {g!r} of channel {name!r}",
                                     f"channels.{name}.ad_groups.{g}", _settable(group))
            channels[name] = Holder(label, f"channels.{name}", _settable(ch), children)
        return cls(channels, tuple(scenario.skus), tuple(p.name for p in scenario.calendar.phases),
                   scenario.meta.tick_minutes)


def _settable(model) -> dict[str, FieldInfo]:
    out = {}
    fields = getattr(type(model), "model_fields", {})
    for name, spec in ACTION_FIELDS.items():
        if name not in fields:
            continue
        kind, choices = _field_type(fields[name].annotation, spec.choices)
        if kind is not None and kind == spec.type:
            out[name] = FieldInfo(kind, choices, getattr(model, name, None))
    return out


def _field_type(annotation, default_choices: tuple[str, ...]) -> tuple[str | None, tuple[str, ...]]:
    """NUMBER for float/int, STRING (with its choices) for a Literal of strings or str."""
    args = [annotation]
    while args:
        a = args.pop()
        origin = typing.get_origin(a)
        if origin is typing.Annotated:
            args.append(typing.get_args(a)[0])
            continue
        if origin is typing.Literal:
            values = typing.get_args(a)
            if values and all(isinstance(v, str) for v in values):
                return STRING, tuple(values)
            continue
        if origin in (typing.Union, types.UnionType):  # Optional / Union: try the members
            args.extend(m for m in typing.get_args(a) if m is not type(None))
            continue
        if origin is not None:  # a mapping or list (per-phase values): not one settable value
            continue
        if a in (float, int):
            return NUMBER, ()
        if a is str:
            return STRING, default_choices
    return None, ()


# ------------------------------------------------------------------ checks
def start_col(node: Expr) -> int:
    """Column where the text of `node` starts."""
    while isinstance(node, Binary):
        node = node.left
    return node.col


def check_condition(expr: Expr, env: Environment) -> None:
    """Raise `RuleError` unless `expr` is a well-typed bool over known names."""
    t = type_of(expr, env)
    if t != BOOL:
        raise RuleTypeError(
            f"the condition must be true or false (a comparison such as roi_1h > 3), "
            f"but {_quote(expr)} is a {t}", start_col(expr))


@dataclass(frozen=True)
class Target:
    """A checked action target: the scenario path it sets, and the field's type."""

    path: str
    field: str
    type: str
    choices: tuple[str, ...]


def check_action(action: Assign, env: Environment) -> Target:
    """Resolve the target of `action` in `env` and check its value. Raise `RuleError`."""
    parts, col = action.target, action.col
    cols = [col]
    for p in parts[:-1]:
        cols.append(cols[-1] + len(p) + 1)
    if len(parts) == 1:
        raise RuleNameError(
            f"name the channel: '<channel>.{parts[0]}'" if parts[0] in ACTION_FIELDS else
            f"unknown action target {parts[0]!r}: a target is '<channel>.<field>' or "
            "'<channel>.<ad_group>.<field>'", col)
    if len(parts) > 3:
        raise RuleNameError(
            f"target {'.'.join(parts)!r} has {len(parts)} parts; a target is "
            "'<channel>.<field>' or '<channel>.<ad_group>.<field>'", col)
    fname, fcol = parts[-1], cols[-1]
    if fname not in ACTION_FIELDS:
        raise RuleNameError(
            f"unknown action target field {fname!r}: rules set "
            f"{_either(list(ACTION_FIELDS))}{did_you_mean(fname, ACTION_FIELDS)}", fcol)
    ch = parts[0]
    if ch not in env.channels:
        raise RuleNameError(f"unknown channel {ch!r}{_hint(ch, env.channels)}", col)
    holder = env.channels[ch]
    if len(parts) == 3:
        group = parts[1]
        if not holder.children:
            raise RuleNameError(f"{holder.label} has no ad groups", cols[1])
        if group not in holder.children:
            raise RuleNameError(
                f"unknown ad group {group!r} of channel {ch!r}{_hint(group, holder.children)}",
                cols[1])
        holder = holder.children[group]
    if fname not in holder.fields:
        has = list(holder.fields)
        what = f"; it has {_either(has, 'and')}" if has else "; a rule can set nothing on it"
        raise RuleNameError(f"{holder.label} has no {fname}{what}", fcol)
    info = holder.fields[fname]
    path = f"{holder.path}.{fname}"
    if info.type == STRING:
        if action.op != "=":
            raise RuleTypeError(f"{fname} is a choice; only '=' sets it, not {action.op!r}",
                                action.op_col)
        v = action.value
        if not isinstance(v, Str):
            raise RuleTypeError(
                f"{fname} takes one of {_either([repr(c) for c in info.choices])} in quotes",
                start_col(v))
        if v.value not in info.choices:
            raise RuleNameError(
                f"unknown {fname} {v.value!r}; expected {_either([repr(c) for c in info.choices])}"
                f"{did_you_mean(v.value, info.choices)}", v.col)
        return Target(path, fname, STRING, info.choices)
    t = type_of(action.value, env)
    if t != NUMBER:
        raise RuleTypeError(f"{fname} takes a number, but {_quote(action.value)} is a {t}",
                            start_col(action.value))
    if action.op != "=" and info.value is None:
        raise RuleTypeError(
            f"{path} is not set in the scenario, so {action.op!r} has nothing to change; "
            "set it in the scenario, or use '='", action.op_col)
    return Target(path, fname, NUMBER, ())


def type_of(node: Expr, env: Environment) -> str:
    """The type of `node` (NUMBER, STRING or BOOL). Raise `RuleError` on a mistake."""
    if isinstance(node, Num):
        return NUMBER
    if isinstance(node, Str):
        return STRING
    if isinstance(node, Bool):
        return BOOL
    if isinstance(node, Name):
        return _metric(node, node.name, (), env)
    if isinstance(node, Call):
        if node.name in FUNCTIONS:
            if len(node.args) < 2:
                raise RuleTypeError(f"{node.name}() needs at least two numbers", node.col)
            for a in node.args:
                t = type_of(a, env)
                if t != NUMBER:
                    raise RuleTypeError(
                        f"{node.name}() takes numbers, but {_quote(a)} is a {t}", start_col(a))
            return NUMBER
        return _metric(node, node.name, node.args, env)
    if isinstance(node, Unary):
        t = type_of(node.operand, env)
        want = BOOL if node.op == "not" else NUMBER
        if t != want:
            raise RuleTypeError(
                f"{node.op!r} takes a {_noun(want)}, but {_quote(node.operand)} is a {t}",
                node.col)
        return want
    if isinstance(node, Binary):
        return _binary(node, env)
    raise TypeError(f"not a rules-language node: {node!r}")  # pragma: no cover


def _binary(node: Binary, env: Environment) -> str:
    lt, rt = type_of(node.left, env), type_of(node.right, env)
    op = node.op
    if op in ARITHMETIC or op in ("<", "<=", ">", ">="):
        if lt != NUMBER or rt != NUMBER:
            side, bad, t = ("left", node.left, lt) if lt != NUMBER else ("right", node.right, rt)
            if lt == rt == STRING and op not in ARITHMETIC:
                raise RuleTypeError(f"phases compare only with '==' or '!=', not {op!r}", node.col)
            raise RuleTypeError(
                f"{op!r} needs numbers on both sides, but the {side} side {_quote(bad)} "
                f"is a {t}", node.col)
        if op == "/" and _is_zero(node.right):
            raise RuleTypeError("division by zero", node.col)
        return NUMBER if op in ARITHMETIC else BOOL
    if op in ("==", "!="):
        if lt != rt:
            raise RuleTypeError(f"{op!r} compares a {lt} with a {rt}", node.col)
        if lt == STRING:
            _check_phase_comparison(node, env)
        return BOOL
    if op in LOGIC:
        if lt != BOOL or rt != BOOL:
            side, bad, t = ("left", node.left, lt) if lt != BOOL else ("right", node.right, rt)
            raise RuleTypeError(
                f"{op!r} needs true/false on both sides (comparisons), but the {side} side "
                f"{_quote(bad)} is a {t}", node.col)
        return BOOL
    raise TypeError(f"unknown operator {op!r}")  # pragma: no cover


def _check_phase_comparison(node: Binary, env: Environment) -> None:
    sides = (node.left, node.right)
    literals = [s for s in sides if isinstance(s, Str)]
    if len(literals) == 2:
        raise RuleTypeError("this compares two fixed strings; compare phase with a phase name",
                            node.col)
    valid = [*env.phases, NO_PHASE]
    for lit in literals:
        if lit.value not in valid:
            known = _either([repr(p) for p in valid])
            hint = did_you_mean(lit.value, valid)
            raise RuleNameError(f"unknown phase {lit.value!r}; the phases are {known}{hint}",
                                lit.col)


def _metric(node: Expr, name: str, args: tuple[Expr, ...], env: Environment) -> str:
    spec = METRICS.get(name)
    if spec is None:
        if name in FUNCTIONS:
            raise RuleTypeError(f"{name} is a function: {name}(a, b)", node.col)
        if name in env.channels or name in env.skus:
            what = "a channel" if name in env.channels else "a SKU"
            raise RuleNameError(
                f"{name!r} is {what}, not a metric; name it in quotes inside a metric, "
                f"as in {'roi_1h' if name in env.channels else 'stock_left'}({name!r})", node.col)
        raise RuleNameError(
            f"unknown metric {name!r}{did_you_mean(name, [*METRICS, *FUNCTIONS])}", node.col)
    if spec.needs == "hourly" and env.tick_minutes > 60:
        raise RuleNameError(
            f"{name} needs ticks of at most 60 minutes; this scenario's tick is "
            f"{env.tick_minutes} minutes (use {name.replace('_1h', '_today')})", node.col)
    if args and spec.subject is None:
        raise RuleTypeError(f"{name} takes no subject", start_col(args[0]))
    if len(args) > 1:
        raise RuleTypeError(f"{name} takes at most one subject, got {len(args)}",
                            start_col(args[1]))
    subject = _subject(spec, args[0], env) if args else None
    _needs(spec, subject, env, node)
    return spec.type


def _subject(spec: MetricSpec, arg: Expr, env: Environment) -> str | None:
    if spec.subject is None:
        return None
    if not isinstance(arg, Str):
        if isinstance(arg, Name) and (arg.name in env.channels or arg.name in env.skus):
            raise RuleTypeError(f"write the name in quotes: {spec.name}({arg.name!r})", arg.col)
        raise RuleTypeError(f"{spec.name} takes a {spec.subject} name in quotes, not "
                            f"{_quote(arg)}", start_col(arg))
    s = arg.value
    channels, skus = list(env.channels), list(env.skus)
    if spec.subject == CHANNEL and s not in env.channels:
        raise RuleNameError(f"unknown channel {s!r}{_hint(s, channels)}", arg.col)
    if spec.subject == SKU and s not in env.skus:
        raise RuleNameError(f"unknown SKU {s!r}{_hint(s, skus)}", arg.col)
    if spec.subject == CHANNEL_OR_SKU:
        if s in env.channels and s in env.skus:
            raise RuleNameError(f"{s!r} is both a channel and a SKU, so {spec.name}({s!r}) is "
                                "ambiguous; rename one of them", arg.col)
        if s not in env.channels and s not in env.skus:
            raise RuleNameError(f"unknown channel or SKU {s!r}{_hint(s, channels + skus)}",
                                arg.col)
    return s


def _needs(spec: MetricSpec, subject: str | None, env: Environment, node: Expr) -> None:
    if spec.needs not in ("budget", "daily_budget", "total_budget"):
        return
    fields = ("daily_budget", "total_budget") if spec.needs == "budget" else (spec.needs,)
    what = "a daily_budget or total_budget" if spec.needs == "budget" else f"a {spec.needs}"

    def has(h: Holder) -> bool:
        return any(f in h.fields and h.fields[f].value is not None for f in fields)

    if subject is not None:
        if not has(env.channels[subject]):
            raise RuleNameError(
                f"{spec.name}({subject!r}): {env.channels[subject].label} has no "
                f"{what.split(' ', 1)[1]} set in the scenario", node.col)
    elif not any(has(h) for h in env.channels.values()):
        raise RuleNameError(f"{spec.name}: no channel has {what} set in the scenario", node.col)


# ------------------------------------------------------------------ words
def _is_zero(node: Expr) -> bool:
    while isinstance(node, Unary) and node.op in "+-":
        node = node.operand
    return isinstance(node, Num) and node.value == 0


def _quote(node: Expr) -> str:
    text = unparse(node)
    if len(text) > 40:
        text = text[:37] + "..."
    if isinstance(node, Str):
        return text
    return f"'{text}'" if "'" not in text else f'"{text}"'


def _noun(t: str) -> str:
    return "true/false value" if t == BOOL else t


def _either(items: list[str], last: str = "or") -> str:
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def _hint(name: str, valid) -> str:
    valid = list(valid)
    hint = did_you_mean(name, valid)
    if hint:
        return hint
    if valid and len(valid) <= 8:
        return f"; expected one of {', '.join(repr(v) for v in valid)}"
    return ""

"""Parameter paths: `skus.lipstick_01.discount`, `skus.*.discount.burst`, `channels.paid_search.cpc`.

The one seam that `--set`, calibration and optimization share. A path is dotted keys;
`*` matches every key of a mapping (or every item of a list). A path ending in a
phase name under a single-number `discount` turns it into a per-phase mapping.

Below the schema: a function that needs the `Scenario` model is given the scenario (or
its type), so that the schema's own validators (the `optimize:` and `calibrate:` blocks)
can use these helpers.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from simulator.naming import did_you_mean
from simulator.scenario.errors import Issue, ScenarioError, issues_from

SOURCE = "<overrides>"
"""Where an override's problem is, when no `--set` argument is known."""


class Overrides(dict):
    """`--set` overrides: {path: value}, and `shown[path]` — the argument as typed
    (`--set 'skus.*.discount=0.5'`) that errors name instead of a file."""

    def __init__(self, *args, shown: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.shown = dict(shown or {})


OPERATORS = {"*": "multiplied by", "/": "divided by", "+": "plus", "-": "minus"}


@dataclass(frozen=True)
class Relative:
    """A relative `--set`: `path*=1.2`, `path/=2`, `path+=0.05`, `path-=0.05`. Each number the
    path names moves from its own value (`skus.*.discount.burst+=0.05` deepens every SKU's
    burst discount by 5 points, each from where it was); an integer field stays an integer
    (rounded to the nearest). With a wildcard, the matches that hold no number are left as
    they are; a path without one must hold a number."""

    op: str          # one of OPERATORS
    by: float

    def __str__(self) -> str:
        return f"{self.op}={self.by:g}"

    def of(self, current: float) -> int | float:
        """The new value from `current`."""
        x = {"*": current * self.by, "/": current / self.by if self.by else math.nan,
             "+": current + self.by, "-": current - self.by}[self.op]
        return round(x) if isinstance(current, int) else x


def override_text(path: str, value) -> str:
    """An override as a planner writes it: `skus.*.discount=0.3`, `channels.crm.daily_budget*=1.2`."""
    return f"{path}{value}" if isinstance(value, Relative) else f"{path}={value}"


def override_value(value):
    """An override's value for JSON: a `Relative` as its text (`*=1.2`), a value as it is."""
    return str(value) if isinstance(value, Relative) else value


def _relative(path: str, text: str, shown: str) -> tuple[str, Relative | None]:
    """(`path` without its operator, the `Relative` it asks for — None for a plain `=`)."""
    if len(path) < 2 or path[-1] not in OPERATORS or path[-2] == ".":
        return path, None
    op, path = path[-1], path[:-1].rstrip()
    by = parse_value(text, shown)
    if isinstance(by, bool) or not isinstance(by, int | float) or not math.isfinite(by):
        raise ScenarioError([Issue(shown, None, path, (
            f"expected a finite number after '{op}=' (the value is {OPERATORS[op]} it), got {by!r}"))])
    if op == "/" and by == 0:
        raise ScenarioError([Issue(shown, None, path, "/= divides by 0; expected a number other than 0")])
    return path, Relative(op, float(by))


def _label(overrides, path: str) -> str:
    return getattr(overrides, "shown", {}).get(path, SOURCE)


def parse_value(text: str, shown: str = SOURCE):
    """A command-line value (`--set path=value`) as YAML would read it (number, bool, list...).

    Raises `ScenarioError` at `shown` for text that is not YAML, that nests too deep, or that
    expands (aliases) past the values a scenario may hold (`yaml_limits`)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from simulator.scenario.yaml_limits import MAX_DEPTH, _too_deep, plain_yaml

    if "\0" in text:
        raise ScenarioError([Issue(shown, None, "", "the value holds a NUL byte; expected YAML text")])
    if _too_deep(text) is not None:
        raise ScenarioError([Issue(shown, None, "", f"brackets nest deeper than {MAX_DEPTH} levels")])
    try:
        value = YAML(typ="safe", pure=True).load(text)      # the same YAML 1.2 reading as a scenario file
    except RecursionError:
        raise ScenarioError([Issue(shown, None, "", "the value nests deeper than Python can read")]) from None
    except YAMLError as e:
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ScenarioError([Issue(shown, None, "", (
            f"the value is not valid YAML ({problem}); write a number (0.2), a word (true, even), "
            "a list ([1, 2]) or a mapping ({burst: 0.3}), quoted for the shell"))]) from None
    return plain_yaml(value, shown)


def parse_overrides(pairs: list[str]) -> Overrides:
    """`--set path=value` arguments as `Overrides` (values read as YAML; `path*=x`, `/=`, `+=`,
    `-=` as a `Relative` move). Raises `ScenarioError` naming the argument as typed."""
    out = Overrides()
    for p in pairs:
        shown = f"--set {p!r}" if len(p) <= 100 else f"--set {p[:80]!r}… ({len(p):,} characters)"
        if "=" not in p:
            raise ScenarioError([Issue(shown, None, "", "expected path=value, e.g. --set 'skus.*.discount=0.2'")])
        path, value = p.split("=", 1)
        path, relative = _relative(path.strip(), value, shown)
        if not path or any(not step for step in path.split(".")):
            raise ScenarioError([Issue(shown, None, "", (
                f"expected a dotted path before '=' (skus.lipstick.stock), got {path!r}"))])
        if path in out:
            raise ScenarioError([Issue(shown, None, path, f"{path} is set twice ({out.shown[path]} and {shown})")])
        out[path] = relative if relative is not None else parse_value(value, shown)
        out.shown[path] = shown
    return out


def expand(data: dict, path: str, shown: str = SOURCE, allow_empty: bool = False) -> list[tuple]:
    """Every concrete location (tuple of keys) that `path` names in `data`.

    Raises `ScenarioError` at `shown` when a step matches nothing (with the nearest name).
    `allow_empty`: a match that reaches an unset block is dropped, and a wildcard may match
    nothing (`coupons.*.claim_rate` in a plan without coupons): [] rather than an error.
    """
    steps = path.split(".")
    found: list[tuple] = [()]
    for depth, step in enumerate(steps):
        nxt = []
        for loc in found:
            node = _get(data, loc)
            last = depth == len(steps) - 1
            if isinstance(node, dict):
                if step == "*":
                    nxt.extend(loc + (k,) for k in node)
                elif step in node or last:
                    nxt.append(loc + (step,))
                else:
                    raise _no_match(path, step, list(node), shown)
            elif isinstance(node, list):
                if step == "*":
                    nxt.extend(loc + (i,) for i in range(len(node)))
                elif step.isdigit() and int(step) < len(node):
                    nxt.append(loc + (int(step),))
                else:
                    raise _no_match(path, step, [str(i) for i in range(len(node))], shown)
            elif loc and loc[-1] == "discount" and isinstance(node, int | float) and last:
                nxt.append(loc + (step,))  # discount becomes a per-phase mapping
            elif node is None and allow_empty:
                continue                   # an unset block: nothing to name here
            else:
                what = "is not set" if node is None else f"is a single value ({node!r})"
                where = ".".join(str(k) for k in loc)
                message = f"no field {step!r} here: {where} {what}"
                raise ScenarioError([Issue(shown, None, path, message)])
        found = nxt
    if not found and not allow_empty:
        raise ScenarioError([Issue(shown, None, path, "the wildcard matches nothing")])
    return found


def _get(data, loc):
    for k in loc:
        data = data[k]
    return data


def _no_match(path: str, step: str, valid: list[str], shown: str = SOURCE) -> ScenarioError:
    hint = did_you_mean(step, valid)
    if not hint and valid:
        shown_valid = ", ".join(map(str, valid[:12])) + (f" … ({len(valid)} in all)" if len(valid) > 12 else "")
        hint = f"; expected one of {shown_valid}"
    return ScenarioError([Issue(shown, None, path, f"no field {step!r} here{hint}")])


def set_value(data: dict, loc: tuple, value) -> None:
    """Set `value` at `loc` in `data` (the scenario as plain data), in place; a phase under a
    single-number discount turns it into `{default: <number>, <phase>: value}`."""
    parent = _get(data, loc[:-2]) if len(loc) >= 2 else data
    holder_key = loc[-2] if len(loc) >= 2 else None
    holder = parent[holder_key] if holder_key is not None else parent
    if holder_key == "discount" and isinstance(holder, int | float):
        holder = parent["discount"] = {"default": holder}
    holder[loc[-1]] = value


def apply_overrides(scenario, overrides: dict[str, object], where: str = SOURCE):
    """A new validated scenario (of `scenario`'s type) with every path in `overrides` set.

    A problem at a path an override set is named by that override (its `--set` argument
    with `Overrides`); any other problem the overrides cause by `where` (the scenario)."""
    model = type(scenario)
    data = copy.deepcopy(scenario.model_dump(mode="python", exclude_unset=False))
    owners: list[tuple[tuple, str, str]] = []
    for path, value in overrides.items():
        for loc in _targets(data, path, value, _label(overrides, path)):
            set_value(data, loc, value.of(value_at(data, loc)) if isinstance(value, Relative) else value)
            owners.append((tuple(str(k) for k in loc), _label(overrides, path), path))
    try:
        return model.model_validate(data)
    except ValidationError as e:
        issues = issues_from(e, model, where, lambda loc: None)
        named: dict[tuple, list[str]] = {}        # (file, path, message) → the wildcard's matches
        total: dict[tuple, int] = {}              # … → how many places the wildcard matched
        for i in issues:
            steps = tuple(i.path.split("."))
            owner = next(((label, pattern) for loc, label, pattern in owners
                          if steps[:len(loc)] == loc or loc[:len(steps)] == steps), None)
            if owner is not None and getattr(overrides, "shown", None):    # typed by a planner: said once
                general, matched = _generalize(steps, owner[1].split("."))
                named.setdefault((owner[0], general, i.message), []).append(matched)
                total[(owner[0], general, i.message)] = sum(pattern == owner[1] for _, _, pattern in owners)
            elif owner is not None:                                          # a program's: every place
                named.setdefault((owner[0], i.path, i.message), [])
            elif where == SOURCE and getattr(overrides, "shown", None):
                named.setdefault(("with " + ", ".join(overrides.shown.values()), i.path, i.message), [])
            else:
                named.setdefault((i.file, i.path, i.message), [])
        raise ScenarioError([Issue(file, None, path, message + _matches(found, total.get((file, path, message), 0)))
                             for (file, path, message), found in named.items()]) from None


def _targets(data: dict, path: str, value, shown: str) -> list[tuple]:
    """The locations an override sets: every match of `path`; for a `Relative`, the matches
    holding a number (all of them for a path without a wildcard)."""
    locs = expand(data, path, shown)
    if not isinstance(value, Relative):
        return locs
    numbers = [loc for loc in locs if _is_number(value_at(data, loc))]
    wild = "*" in path.split(".")
    if numbers and (wild or len(numbers) == len(locs)):
        return numbers
    found = value_at(data, locs[0])
    what = "no match of the wildcard holds a number" if wild else (
        "it is not set" if found is None else f"it holds {found!r}, not a number")
    raise ScenarioError([Issue(shown, None, path, f"{value} moves a number from its own value, but {what}")])


def _is_number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _generalize(steps: tuple, pattern: list[str]) -> tuple[str, str]:
    """(`steps` with the steps a wildcard of `pattern` matched written `*`, those steps)."""
    wild = [i for i, p in enumerate(pattern) if p == "*" and i < len(steps)]
    general = [("*" if i in wild else s) for i, s in enumerate(steps)]
    return ".".join(general), ".".join(steps[i] for i in wild)


def _matches(found: list[str], total: int, shown: int = 3) -> str:
    """' (for 20 of the 20 matches of *: a, b, c …)' when one problem repeats across the places
    a wildcard matched; '' for a path without a wildcard."""
    found = [f for f in found if f]
    if not found:
        return ""
    which = "all" if len(found) == total else f"{len(found)} of the"
    more = " …" if len(found) > shown else ""
    return f" (for {which} {total} matches of *: {', '.join(found[:shown])}{more})"


# ----------------------------------------------- paths named by a scenario block
class PathError(ValueError):
    """A path, or a value for it, that does not fit the scenario. `loc`: where in the block that
    names the path (a tuple: a dotted path written as one YAML key is one step)."""

    def __init__(self, loc: tuple, message: str):
        super().__init__(message)
        self.loc = loc
        self.path = ".".join(str(k) for k in loc)
        self.message = message


def value_at(data, loc: tuple):
    """The value at `loc` in the plan as written (a phase of a discount falls back like the
    engine: the phase's value, else `default`, else the single number); None when unset."""
    node = data
    for i, k in enumerate(loc):
        found = k in node if isinstance(node, dict) else (
            isinstance(node, list) and isinstance(k, int) and k < len(node))
        if found:
            node = node[k]
        elif i == len(loc) - 1 and loc[i - 1] == "discount":
            return node if isinstance(node, int | float) else node.get("default", 0.0)
        else:
            return None
    return node


def field_locations(scenario, data: dict, path: str, where: tuple, error: type[PathError] = PathError) -> list[tuple]:
    """Every location `path` names in `data` (`scenario` as plain data), each ending in a field
    of the scenario's model there. Raises `error` at `where` when the path names nothing."""
    try:
        locs = expand(data, path)
    except ScenarioError as e:
        raise error(where, e.issues[0].message) from None
    for loc in locs:   # `expand` accepts any last key: it must be a field of the model there
        parent = _instance_at(scenario, loc[:-1])
        if isinstance(parent, BaseModel) and loc[-1] not in type(parent).model_fields:
            fields = list(type(parent).model_fields)
            raise error(where, f"no field {loc[-1]!r} at {'.'.join(map(str, loc[:-1]))}"
                        f"{did_you_mean(str(loc[-1]), fields)}")
    return locs


def _instance_at(obj, loc: tuple):
    for k in loc:
        if isinstance(obj, BaseModel):
            obj = getattr(obj, k, None)
        elif isinstance(obj, dict | list):
            try:
                obj = obj[k]
            except (KeyError, IndexError, TypeError):
                return None
        else:
            return None
    return obj


def _invalid(model: type[BaseModel], data, sets: list[tuple[tuple, Any]]) -> Issue | None:
    """The first issue of the scenario with each (loc, value) set, or None when it is valid."""
    trial = copy.deepcopy(data)
    for loc, value in sets:
        set_value(trial, loc, value)
    try:
        model.model_validate(trial)
    except ValidationError as e:
        return issues_from(e, model, "<optimize>", lambda loc: None)[0]
    return None


def probe_values(model: type[BaseModel], data, rounds: dict, error: type[PathError] = PathError) -> None:
    """Check that the values each decision can take are valid scenarios of `model`.

    `rounds`: {round key: [(where, what, [(loc, value), ...]), ...]}. Probes of one round
    (every decision at its low end, …) are validated together — one validation — and one by
    one only when the round fails, to name the culprit (`error` at its `where`)."""
    for probes in rounds.values():
        if _invalid(model, data, [st for _, _, sets in probes for st in sets]) is None:
            continue
        for where, what, sets in probes:
            issue = _invalid(model, data, sets)
            if issue is not None:
                at = f" at {issue.path}" if issue.path else ""
                raise error(where, f"{what} is not a valid value{at}: {issue.message}")


def claim_number(data, loc: tuple, where: tuple, seen: dict[tuple, str], owner: str, noun: str,
                 error: type[PathError] = PathError) -> float:
    """The number at `loc` in `data` (the plan as written), now set by `owner` ("the assumption
    'traffic'"), recorded in `seen` (loc → owner). Raises `error` at `where` when `loc` holds no
    number already set in the scenario (`noun` must be one: "a parameter") or when another
    owner set it already."""
    value = value_at(data, loc)
    shown = ".".join(map(str, loc))
    if isinstance(value, bool) or not isinstance(value, int | float):
        what = "is not set" if value is None else f"holds {value!r}"
        raise error(where, f"{shown} {what}: {noun} must be a number already set in the scenario")
    if loc in seen:
        raise error(where, f"{shown} is already set by {seen[loc]}")
    seen[loc] = owner
    return float(value)


class Probes:
    """The values each decision can take, gathered in rounds (`low`, `high`, …) and validated
    by `probe_values`: one validation a round while nothing is wrong."""

    def __init__(self):
        self.rounds: dict[tuple, list] = {}

    def add(self, key: tuple, where: tuple, what: str, sets: list[tuple[tuple, Any]]) -> None:
        """Probe `sets` [(loc, value), …] in round `key`; `what` ("low = 0.2") and `where` name it."""
        self.rounds.setdefault(key, []).append((where, what, sets))

    def check(self, model: type[BaseModel], data, error: type[PathError] = PathError) -> None:
        probe_values(model, data, self.rounds, error)

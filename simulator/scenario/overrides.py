"""Parameter paths: `skus.lipstick_01.discount`, `skus.*.discount.burst`, `channels.paid_search.cpc`.

The one seam that calibration and optimization share. A path is dotted keys;
`*` matches every key of a mapping (or every item of a list). A path ending in a
phase name under a single-number `discount` turns it into a per-phase mapping.
"""

from __future__ import annotations

import copy

from pydantic import ValidationError

from simulator.scenario.errors import Issue, ScenarioError, issues_from
from simulator.scenario.naming import did_you_mean


def parse_value(text: str):
    """A command-line value (`--set path=value`) as YAML would read it (number, bool, list...)."""
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(text)


def expand(data: dict, path: str) -> list[tuple]:
    """Every concrete location (tuple of keys) that `path` names in `data`.

    Raises `ScenarioError` when a step matches nothing (with the nearest name).
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
                    raise _no_match(path, step, list(node))
            elif isinstance(node, list):
                if step == "*":
                    nxt.extend(loc + (i,) for i in range(len(node)))
                elif step.isdigit() and int(step) < len(node):
                    nxt.append(loc + (int(step),))
                else:
                    raise _no_match(path, step, [str(i) for i in range(len(node))])
            elif loc and loc[-1] == "discount" and isinstance(node, int | float) and last:
                nxt.append(loc + (step,))  # discount becomes a per-phase mapping
            else:
                what = "is not set" if node is None else f"is a single value ({node!r})"
                where = ".".join(str(k) for k in loc)
                message = f"no field {step!r} here: {where} {what}"
                raise ScenarioError([Issue("<overrides>", None, path, message)])
        found = nxt
    if not found:
        raise ScenarioError([Issue("<overrides>", None, path, "the wildcard matches nothing")])
    return found


def _get(data, loc):
    for k in loc:
        data = data[k]
    return data


def _no_match(path: str, step: str, valid: list[str]) -> ScenarioError:
    hint = did_you_mean(step, valid)
    if not hint and valid:
        hint = f"; expected one of {', '.join(map(str, valid))}"
    return ScenarioError([Issue("<overrides>", None, path, f"no field {step!r} here{hint}")])


def _set(data: dict, loc: tuple, value) -> None:
    parent = _get(data, loc[:-2]) if len(loc) >= 2 else data
    holder_key = loc[-2] if len(loc) >= 2 else None
    holder = parent[holder_key] if holder_key is not None else parent
    if holder_key == "discount" and isinstance(holder, int | float):
        holder = parent["discount"] = {"default": holder}
    holder[loc[-1]] = value


def apply_overrides(scenario, overrides: dict[str, object]):
    """A new validated `Scenario` with every path in `overrides` set to its value."""
    from simulator.scenario.schema import Scenario

    data = copy.deepcopy(scenario.model_dump(mode="python", exclude_unset=False))
    for path, value in overrides.items():
        for loc in expand(data, path):
            _set(data, loc, value)
    try:
        return Scenario.model_validate(data)
    except ValidationError as e:
        raise ScenarioError(issues_from(e, Scenario, "<overrides>", lambda loc: None)) from None

"""Limits on YAML text a planner gives: brackets nested at most `MAX_DEPTH` deep, at most
`MAX_VALUES` values once aliases are expanded, no structure that contains itself.

A few hundred bytes of aliases to aliases (`&a [x, x, …]`, `&b [*a, *a, …]`, …) stand for 10⁹
values — an "alias bomb" that would take minutes and gigabytes to expand; `&a [x, *a]` is a
list that holds itself. Both are refused while the document is turned into plain data, with
the top-level key where it happened; runs of `[[[[…` are refused before the YAML parser (which
is slow on them) sees them. Used for scenario files (`loader`) and `--set` values (`overrides`).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from simulator.scenario.errors import Issue, ScenarioError

MAX_VALUES = 1_000_000
"""A scenario holds at most this many values once YAML aliases (`*name`) are expanded: a
few kilobytes of aliases to aliases can stand for 10⁹ values (an "alias bomb")."""

MAX_DEPTH = 64
"""Brackets nest at most this deep (a scenario nests a few levels)."""


class _TooMany(Exception):
    pass


class _Cycle(Exception):
    pass


class _TooDeep(Exception):
    pass


def _plain(node, budget: list[int] | None = None, inside: frozenset = frozenset()):
    """ruamel's commented containers → plain dicts and lists; raises `_TooMany` past
    `MAX_VALUES` values (aliases expanded), `_Cycle` for a structure that contains itself
    (`&a [x, *a]`), and `_TooDeep` past `MAX_DEPTH` levels of nesting."""
    if budget is None:
        budget = [MAX_VALUES]
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooMany()
    if len(inside) > MAX_DEPTH:
        raise _TooDeep()
    if isinstance(node, dict | list):
        if id(node) in inside:
            raise _Cycle()
        inside = inside | {id(node)}
    if isinstance(node, dict):
        return {str(k) if not isinstance(k, int | float) else k: _plain(v, budget, inside) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v, budget, inside) for v in node]
    if hasattr(node, "real") and type(node).__module__.startswith("ruamel"):
        return float(node) if isinstance(node, float) else int(node)
    if type(node).__module__.startswith("ruamel") and isinstance(node, str):
        return str(node)
    return node


_SPECIAL = re.compile(r"[\[\]{}\n'\"#\\]")


def _too_deep(text: str) -> int | None:
    """The line where `[`/`{` brackets nest deeper than `MAX_DEPTH` (outside quotes and
    comments), or None. Looks only at the few characters that matter."""
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return None
    depth, line, quote, skip_to = 0, 1, None, -1
    for m in _SPECIAL.finditer(text):
        i, c = m.start(), m.group()
        if i < skip_to:
            continue
        if c == "\n":
            line += 1
        elif quote:
            if c == "\\" and quote == '"':
                skip_to = i + 2
            elif c == quote:
                quote = None
        elif c in "'\"" and (i == 0 or text[i - 1] in " \t[{,:-\n"):
            quote = c
        elif c == "#" and (i == 0 or text[i - 1] in " \t\n"):
            end = text.find("\n", i)
            skip_to = len(text) if end < 0 else end
        elif c in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return line
        elif c in "]}":
            depth = max(0, depth - 1)
    return None


def plain_yaml(doc, shown: str, path: str = "", line_of: Callable | None = None) -> object:
    """`_plain` with its limits turned into a `ScenarioError` at `shown` (at `line_of(key)` of
    the top-level key whose value breaks them)."""
    budget = [MAX_VALUES]
    at = None
    try:
        if not isinstance(doc, dict):
            return _plain(doc, budget)
        out = {}
        for key in doc:
            at = key
            out[str(key) if not isinstance(key, int | float) else key] = _plain(doc[key], budget,
                                                                                 frozenset({id(doc)}))
        return out
    except (_TooMany, _Cycle, _TooDeep) as e:
        line = line_of(at) if line_of is not None and isinstance(doc, dict) and at is not None else None
        where = f"{path}.{at}" if path and at is not None else (str(at) if at is not None else path)
        if isinstance(e, _Cycle):
            message = ("a YAML alias (*name) refers to a block that holds it: the value would contain "
                       "itself for ever; repeat a block with an alias outside it")
        elif isinstance(e, _TooDeep):
            message = f"nests deeper than {MAX_DEPTH} levels; a scenario nests a few levels"
        else:
            message = (f"more than {MAX_VALUES:,} values once YAML aliases (*name) are expanded; a scenario "
                       "repeats a block with an alias a few times, not millions")
        raise ScenarioError([Issue(shown, line, where, message)]) from None

"""`rules:` in a scenario — mid-campaign plan changes (追加预算), as a planner writes them.

    rules:
      - name: add_budget_when_roi_holds
        every: 1h
        when: "roi_1h('paid_search') > 3 and budget_left_share('paid_search') < 20%"
        then: "paid_search.daily_budget *= 1.3"     # or a list of actions
        max_firings: 3
        once_per_day: true
        active: {start: 2026-11-10 20:00, end: 2026-11-11 02:00}
        phases: [burst]

The expressions are parsed and checked by `simulator.rules` (a small grammar; no
`eval`) when the scenario is built: a mistake is reported as
`file:line: rules.0.when: col 12: unknown metric 'roi_1hh'; did you mean 'roi_1h'?`.
The language reference is docs/rules.md.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from simulator.scenario.errors import LocatedError
from simulator.scenario.numbers import Strict as _Strict
from simulator.scenario.numbers import When, bounded


def every_minutes(text) -> int:
    """Minutes of a cadence written `<n>min`, `<n>h` or `<n>d` (15min, 1h, 2h, 1d)."""
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ValueError(f"expected a cadence such as '1h', got {text!r}")
    if not isinstance(text, str):
        raise ValueError(f"write the cadence with a unit ('{text:g}min', '1h', '1d'), not {text:g}")
    m = re.fullmatch(r"\s*(\d+)\s*(min|h|d)\s*", text)
    if not m:
        raise ValueError(f"expected a cadence such as '15min', '1h' or '1d', got {text!r}")
    n = int(m.group(1)) * {"min": 1, "h": 60, "d": 1440}[m.group(2)]
    if n <= 0:
        raise ValueError(f"the cadence must be longer than zero, got {text!r}")
    return n


class ActiveWindow(_Strict):
    """When a rule is live: evaluation moments t with `start` ≤ t < `end` (either may be
    left out)."""

    start: When | None = None
    end: When | None = None

    @model_validator(mode="after")
    def _one_bound(self) -> "ActiveWindow":
        if self.start is None and self.end is None:
            raise ValueError("give start, end or both")
        return self


class Rule(_Strict):
    """A mid-campaign rule: every `every`, if `when` holds, apply `then`.

    `when` is a condition over metrics (`roi_1h > 3 and hour >= 20`); `then` one action or
    a list (`paid_search.daily_budget *= 1.3`). `max_firings` caps firings per replication;
    `once_per_day` allows at most one per local day; `active` and `phases` limit when the
    rule is evaluated.
    """

    name: str = Field(min_length=1)
    every: str = "1h"
    when: str
    then: str | Annotated[list[str], Field(min_length=1)]
    max_firings: bounded(gt=0, le=1_000_000, unit="firings", whole=True) | None = None
    once_per_day: bool = False
    active: ActiveWindow | None = None
    phases: Annotated[list[str], Field(min_length=1)] | None = None

    @field_validator("every", mode="before")
    @classmethod
    def _cadence(cls, v):
        every_minutes(v)
        return v

    @property
    def every_minutes(self) -> int:
        return every_minutes(self.every)

    @property
    def actions_text(self) -> list[str]:
        """The actions as written, always a list."""
        return [self.then] if isinstance(self.then, str) else list(self.then)


def check_rules(scenario) -> None:
    """Compile every rule of `scenario`; raise `LocatedError` at the first mistake
    (`rules.<i>.when`, `rules.<i>.then.<j>` ...). Called by `Scenario`'s validator."""
    from simulator.rules.check import Environment
    from simulator.rules.program import RuleCompileError, compile_rule, unexecuted

    if not scenario.rules:
        return
    env = Environment.from_scenario(scenario)
    seen: dict[str, int] = {}
    for i, rule in enumerate(scenario.rules):
        if rule.name in seen:
            raise LocatedError(
                f"rules.{i}.name",
                f"rule name {rule.name!r} is used twice (also rules.{seen[rule.name]})")
        seen[rule.name] = i
        try:
            compiled = compile_rule(rule, scenario, env)
        except RuleCompileError as e:
            raise LocatedError(f"rules.{i}.{e.part}", e.message) from None
        found = unexecuted(scenario, i, compiled)       # what the engines cannot play: refused here,
        if found:                                       # at load, so validate and run agree
            raise LocatedError(f"rules.{i}.{found[0]}", found[1])

"""The scenario's `calibrate:` block: the unknowns to fit, the history to fit them to, how.

```yaml
calibrate:
  history:                                   # how the store's export reads (history_schema)
    file: ../data/dominicks_tuna_weekly.csv
    columns: {period: week, sku: brand, promo: on_sale}
    period: {unit: week, start: 1989-09-14}
  parameters:                                # parameter path → range
    channels.organic_search.visits_per_hour: {low: 1000, high: 100000, log: true}
    skus.*.base_conversion: {low: 0.001, high: 0.5, log: true, each: true}   # one per SKU
    skus.*.elasticity: {low: -8, high: -0.2}                                  # one shared
  targets: {units: 1, visits: 0.5}           # history columns to match, with weights
  loss: log_scaled                           # or msm (method of simulated moments)
  method: least_squares                      # or tpe, cmaes (Optuna)
```

A wildcard path is one shared parameter (the same value at every match) unless `each: true`,
which fits one parameter per match — the semantics of `optimize.variables`. Everything is
checked when the scenario loads: every path names a numeric field of the scenario, both ends
of every range are valid values there, a log range is positive, and no path names something
the replay of the history sets itself (the calendar's phases, SKU discounts and stock: see
`calibration.replay`). That a target column exists in the history is checked when the history
is read (`calibration.api`), since the block may be used with another file (`--history`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator, model_validator

from simulator.naming import did_you_mean
from simulator.scenario.history_schema import TARGETS, HistorySpec
from simulator.scenario.numbers import Finite, Replications, Seed, Trials, bounded
from simulator.scenario.numbers import Strict as _Strict
from simulator.scenario.overrides import PathError, Probes, claim_number, field_locations, value_at

SIMULATED = ("visits", "add_to_carts", "orders", "units", "revenue", "returns", "ad_spend", "clicks")
"""History targets the simulation produces. `impressions` has no simulated flow (display
impressions are bought, not recorded per period), so it cannot be a target."""

STORE_LEVEL = ("visits", "ad_spend", "clicks")
"""Targets of the whole store (sums over channels), not of a SKU: a history row carries the
store's value for its period (Dominick's `store_traffic` is the same in every brand's row)."""

REPLAYED = {
    ("meta",): "meta is rebuilt from the history's periods",
    ("calendar", "phases"): "the calendar's phases are replaced by one phase per history period",
    ("skus", "*", "discount"): "discounts are set from the history's prices (or discount column)",
    ("skus", "*", "stock"): "stock is set so that it never binds in the replay",
    ("skus", "*", "reorder"): "stock is set so that it never binds in the replay",
    ("skus", "*", "inbound"): "stock is set so that it never binds in the replay",
    ("calibrate",): "the calibrate block cannot fit itself",
    ("optimize",): "the optimize block is not part of the model",
}
"""Paths the replay of the history sets itself, with the reason a parameter cannot fit them."""


class Parameter(_Strict):
    """One unknown: a range `low`–`high`, searched on a log scale with `log: true` (for
    volumes and rates that span orders of magnitude). `each`: one parameter per match of a
    wildcard path. `start`: where the search starts (default: the value in the scenario)."""

    low: Finite
    high: Finite
    log: bool = False
    each: bool = False
    start: Finite | None = None

    @model_validator(mode="after")
    def _range(self) -> Parameter:
        if not self.low < self.high:
            raise ValueError(f"high: empty range: low ({self.low:g}) must be below high ({self.high:g})")
        if self.log and self.low <= 0:
            raise ValueError(f"low: a log-scale range needs low > 0, got {self.low:g}")
        if self.start is not None and not self.low <= self.start <= self.high:
            raise ValueError(f"start: {self.start:g} lies outside the range {self.low:g}–{self.high:g}")
        return self


class Calibrate(_Strict):
    """Unknowns, targets and the method of a calibration (module docstring).

    `engine`: `expected` (deterministic means: the objective is smooth, least squares can
    differentiate it) or `fast` (replications with common random numbers). Default: expected
    for least_squares, fast for tpe and cmaes. `replications` and `seed` apply to `fast`;
    `trials` to tpe and cmaes (`--trials`)."""

    history: HistorySpec = Field(default_factory=HistorySpec)
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    targets: dict[str, bounded(gt=0, le=1e6, unit="a weight")] = Field(default_factory=lambda: {"units": 1.0})
    loss: Literal["log_scaled", "msm"] = "log_scaled"
    method: Literal["least_squares", "tpe", "cmaes"] = "least_squares"
    engine: Literal["expected", "fast"] | None = None
    replications: Replications = Field(8, description="replications per candidate (engine fast)")
    seed: Seed | None = Field(None, description="base seed of the replications (default: meta.seed)")
    trials: Trials = Field(200, description="candidates an Optuna calibrator evaluates")

    @field_validator("targets")
    @classmethod
    def _known_targets(cls, v: dict[str, float]) -> dict[str, float]:
        if not v:
            raise ValueError("no targets: name at least one history column to match, e.g. {units: 1}")
        for name, w in v.items():
            if name == "impressions":
                raise ValueError("target 'impressions': the simulation has no impression flow to "
                                 f"match; targets are {', '.join(SIMULATED)}")
            if name not in TARGETS:
                hint = did_you_mean(name, SIMULATED) or f"; targets are {', '.join(SIMULATED)}"
                raise ValueError(f"unknown target {name!r}{hint}")
            if not w > 0:
                raise ValueError(f"target {name!r}: a weight must be > 0, got {w:g}")
        return v

    @property
    def engine_used(self) -> str:
        return self.engine or ("expected" if self.method == "least_squares" else "fast")


# ------------------------------------------------------------------- checks
class CalibrateError(PathError):
    """A problem in the `calibrate:` block at `loc` (a tuple: a parameter's path is one key)."""


@dataclass(frozen=True)
class Unknown:
    """One fitted number and the scenario locations it sets.

    `name`: the path as written for a shared parameter, the concrete path for `each`.
    `start`: the value the search starts from (the declared `start`, else the scenario's
    value at the first location, clipped into the range)."""

    name: str
    source: str
    locs: tuple[tuple, ...]
    low: float
    high: float
    log: bool
    start: float


def _replayed(loc: tuple) -> str | None:
    for pattern, why in REPLAYED.items():
        if len(loc) >= len(pattern) and all(p == "*" or p == k for p, k in zip(pattern, loc)):
            return why
    return None


def plain_data(scenario) -> dict:
    """The scenario as plain data without its optimize and calibrate blocks."""
    data = scenario.model_dump(mode="python")
    data.pop("optimize", None)
    data.pop("calibrate", None)
    return data


def resolve(scenario) -> list[Unknown]:
    """The unknowns of `scenario.calibrate`, checked against the scenario (CalibrateError)."""
    cal = scenario.calibrate
    data = plain_data(scenario)
    unknowns: list[Unknown] = []
    probes = Probes()
    seen: dict[tuple, str] = {}
    for path, par in cal.parameters.items():
        where = ("calibrate", "parameters", path)
        steps = tuple(int(s) if s.isdigit() else s for s in path.split("."))
        why = _replayed(steps)
        if why:
            raise CalibrateError(where, f"cannot fit {path}: {why}")
        locs = field_locations(scenario, data, path, where, CalibrateError)
        for loc in locs:
            why = _replayed(loc)
            if why:
                raise CalibrateError(where, f"cannot fit {'.'.join(map(str, loc))}: {why}")
            claim_number(data, loc, where, seen, f"the parameter {path!r}", "a parameter", CalibrateError)
        groups = [(".".join(map(str, loc)), (loc,)) for loc in locs] if par.each else [(path, tuple(locs))]
        for name, g_locs in groups:
            s = par.start if par.start is not None else float(value_at(data, g_locs[0]))
            s = min(max(s, par.low), par.high)
            unknowns.append(Unknown(name, path, g_locs, par.low, par.high, par.log, s))
        for label, x in (("low", par.low), ("high", par.high)):
            probes.add((label,), where + (label,), f"{label} = {x:g}", [(loc, x) for loc in locs])
    probes.check(type(scenario), data, CalibrateError)
    return unknowns


def check_calibrate(scenario) -> None:
    """Every check of the calibrate block that needs the scenario (raises CalibrateError)."""
    cal = scenario.calibrate
    if not cal.parameters:
        raise CalibrateError(("calibrate", "parameters"), "no parameters: declare at least one unknown "
                             "(e.g. skus.*.base_conversion: {low: 0.001, high: 0.2, log: true})")
    resolve(scenario)
    for sku in cal.history.sku_map.values():
        if sku not in scenario.skus:
            theirs = next(k for k, v in cal.history.sku_map.items() if v == sku)
            raise CalibrateError(("calibrate", "history", "sku_map", theirs),
                                 f"maps to unknown SKU {sku!r}{did_you_mean(sku, scenario.skus)}")

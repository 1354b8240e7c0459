"""The scenario's `uncertainty:` block: the planner's assumptions as distributions.

```yaml
uncertainty:
  assumptions:
    traffic:                                   # one factor for every channel (a group)
      paths: [channels.*.visits_per_hour, channels.*.clicks_per_hour]
      range: ±20 %                             # uniform on [0.8, 1.2] × each written value
    conversion:
      paths: skus.*.base_conversion
      lognormal: {median: 1.0, sigma: 0.15}
      relative: true                           # the draw multiplies each written value
    elasticity:
      paths: skus.*.elasticity
      normal: {mean: -1.6, sd: 0.3}            # the draw is the value itself, at every match
  correlations:
    - {between: [traffic, conversion], rank: -0.3}
```

Each assumption is one number drawn per replication (twin replications share it: see
`simulator.assumptions`) and set at every location its paths name — the paths of `--set`,
calibration and optimization, wildcards included. `range: ±x %` is a relative uniform;
`normal`, `lognormal`, `uniform` and `triangular` give the value itself, or a factor on each
written value with `relative: true`. Rank correlations (Spearman) between assumptions are
carried by a Gaussian copula. Checked at load: every path names a number already set in the
scenario, no location is set by two assumptions, the values at the distribution's extremes
(its 0.1 % and 99.9 % quantiles, or its ends) are valid there, and the correlations form a
valid matrix. Costs and the meta block are the store's own figures, which the KPIs read as
written, so they cannot be assumptions.

`from: calibrate_store/fit_sample.json` (relative to the scenario file; beside assumptions or
alone) plays a calibration's joint sample of its fitted parameters: the loader reads the file
into `sample` (`FitDraws`), each twin plays one of its rows (`simulator.assumptions`), and each
fitted parameter sets its value itself at every match of its path. Checked at load like the
assumptions: each parameter is a path of this scenario naming numbers already set, none is
also set by an assumption, and the sample's lowest and highest values are valid there.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from simulator.naming import did_you_mean
from simulator.scenario.numbers import Finite, bounded
from simulator.scenario.numbers import Strict as _Strict
from simulator.scenario.errors import ScenarioError
from simulator.scenario.overrides import (PathError, Probes, _instance_at, claim_number, expand, field_locations,
                                          value_at)

Z999 = 3.090232306167813
"""The standard normal's 99.9 % quantile: where a normal or lognormal assumption is probed."""

NOT_ASSUMPTIONS = {
    ("meta",): "meta holds the campaign's clock, seed and fees, which the KPIs read as written",
    ("skus", "*", "unit_cost"): "unit costs are the store's own figures, which the KPIs read as written",
    ("skus", "*", "salvage_value"): "salvage values are the store's own figures, which the KPIs read as written",
    ("optimize",): "the optimize block is not part of the model",
    ("calibrate",): "the calibrate block is not part of the model",
}
"""Paths an assumption cannot name, with the reason."""

_RANGE = re.compile(r"^\s*(?:±|\+-|\+/-)?\s*([0-9]*\.?[0-9]+)\s*%\s*$")

Positive = bounded(gt=0, le=1e12, unit="a value or a factor", why="far beyond any plan's values")
Spread = bounded(gt=0, le=1e12, unit="in the field's own unit", why="far beyond any plan's values")
Rank = bounded(gt=-1, lt=1, unit="a rank correlation")
Relative = bounded(gt=0, lt=1, unit="a relative range (0.2 is ±20 %)")


class Normal(_Strict):
    mean: Finite
    sd: Spread


class LogNormal(_Strict):
    """exp(N(log median, sigma²)): positive, skewed to the right."""

    median: Positive
    sigma: bounded(gt=0, le=5, unit="log units", why="e⁵ ≈ 150 × either way is no longer an assumption")


class Uniform(_Strict):
    low: Finite
    high: Finite

    @model_validator(mode="after")
    def _order(self) -> Uniform:
        if not self.low < self.high:
            raise ValueError(f"high: empty range: low ({self.low:g}) must be below high ({self.high:g})")
        return self


class Triangular(_Strict):
    low: Finite
    mode: Finite
    high: Finite

    @model_validator(mode="after")
    def _order(self) -> Triangular:
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError(f"expected low ≤ mode ≤ high with low < high, got {self.low:g}, {self.mode:g}, "
                             f"{self.high:g}")
        return self


KINDS = ("range", "normal", "lognormal", "uniform", "triangular")


class Assumption(_Strict):
    """One uncertain number: `paths` (one or several, wildcards allowed) and exactly one of
    `range` (±x %, relative), `normal`, `lognormal`, `uniform`, `triangular`; `relative: true`
    makes a distribution's draw a factor on each written value."""

    paths: list[str] = Field(min_length=1)
    range: Relative | None = Field(None, description="±x % as text ('±20 %') or a fraction (0.2): uniform on "
                                                  "[1 − x, 1 + x] × each written value")
    normal: Normal | None = None
    lognormal: LogNormal | None = None
    uniform: Uniform | None = None
    triangular: Triangular | None = None
    relative: bool = False

    @field_validator("paths", mode="before")
    @classmethod
    def _one_path(cls, v):
        return [v] if isinstance(v, str) else v

    @field_validator("range", mode="before")
    @classmethod
    def _percent(cls, v):
        if isinstance(v, str):
            m = _RANGE.match(v)
            if not m:
                raise ValueError(f"expected a relative range such as '±20 %' or a fraction such as 0.2, got {v!r}")
            v = float(m.group(1)) / 100
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> Assumption:
        given = [k for k in KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            got = ", ".join(given) if given else "none"
            raise ValueError(f"expected exactly one of {', '.join(KINDS)}; got {got}")
        if self.range is not None and self.relative:
            raise ValueError("relative: a range is always relative (±x % of each written value); leave it out")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in KINDS if getattr(self, k) is not None)

    @property
    def is_factor(self) -> bool:
        """The draw multiplies each written value (a range, or `relative: true`)."""
        return self.range is not None or self.relative

    def quantile(self, u):
        """The assumption's draws for uniforms `u` in (0, 1) (its inverse CDF; arrays too)."""
        import numpy as np
        from scipy.special import ndtri

        u = np.asarray(u, dtype=float)
        if self.range is not None:
            return 1.0 + self.range * (2.0 * u - 1.0)
        if self.normal is not None:
            return self.normal.mean + self.normal.sd * ndtri(u)
        if self.lognormal is not None:
            return self.lognormal.median * np.exp(self.lognormal.sigma * ndtri(u))
        if self.uniform is not None:
            return self.uniform.low + (self.uniform.high - self.uniform.low) * u
        t = self.triangular
        width, left = t.high - t.low, t.mode - t.low
        cut = left / width
        return np.where(u < cut, t.low + np.sqrt(u * width * left),
                        t.high - np.sqrt((1.0 - u) * width * (t.high - t.mode)))

    def extremes(self) -> tuple[float, float]:
        """The lowest and highest values probed at load: the ends of a bounded distribution,
        the 0.1 % and 99.9 % quantiles of a normal or lognormal one."""
        if self.range is not None:
            return 1.0 - self.range, 1.0 + self.range
        if self.normal is not None:
            return self.normal.mean - Z999 * self.normal.sd, self.normal.mean + Z999 * self.normal.sd
        if self.lognormal is not None:
            return (self.lognormal.median * math.exp(-Z999 * self.lognormal.sigma),
                    self.lognormal.median * math.exp(Z999 * self.lognormal.sigma))
        d = self.uniform or self.triangular
        return d.low, d.high


class Correlation(_Strict):
    """A rank (Spearman) correlation between two assumptions."""

    between: list[str] = Field(min_length=2, max_length=2)
    rank: Rank


class FitDraws(_Strict):
    """A calibration's joint sample of its fitted parameters (`fit_sample.json`, written by
    `promosim calibrate`), read by the loader from the file `from:` names: `draws` (D, P), one
    row a draw, in the order of `parameters` (their paths, as the calibrate block named them)."""

    method: str
    fit: dict[str, Any] = Field(default_factory=dict)
    parameters: list[str] = Field(min_length=1)
    draws: list[list[Finite]] = Field(min_length=1)

    @model_validator(mode="after")
    def _rows(self) -> FitDraws:
        if len(set(self.parameters)) != len(self.parameters):
            raise ValueError("parameters: a parameter is named twice")
        for i, row in enumerate(self.draws):
            if len(row) != len(self.parameters):
                raise ValueError(f"draws.{i}: {len(row)} values for {len(self.parameters)} parameters")
        return self

    def column(self, j: int) -> list[float]:
        return [row[j] for row in self.draws]


class Uncertainty(_Strict):
    """`assumptions` by name and the rank `correlations` between them; `from`: a calibration's
    fit sample (`fit_sample.json`, relative to the scenario file), whose rows the replications
    draw (`sample` holds them once the scenario is loaded). Either or both."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False,
                              validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    from_: str | None = Field(None, alias="from", min_length=1)
    sample: FitDraws | None = None
    assumptions: dict[str, Assumption] = Field(default_factory=dict)
    correlations: list[Correlation] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> Uncertainty:
        if not self.assumptions and self.from_ is None:
            raise ValueError("expected assumptions (the planner's distributions), from (a calibration's "
                             "fit_sample.json) or both")
        if self.from_ is not None and self.sample is None:
            raise ValueError("from: the fit sample was not read; load the scenario from its file "
                             "(load_scenario reads the file from: names, relative to the scenario)")
        return self

    def matrix(self) -> list[list[float]]:
        """(A, A) the Gaussian copula's correlation matrix, assumptions in their written order:
        a rank correlation ρ_s is the normal correlation 2 sin(π ρ_s / 6)."""
        names = list(self.assumptions)
        r = [[float(i == j) for j in range(len(names))] for i in range(len(names))]
        for c in self.correlations:
            i, j = names.index(c.between[0]), names.index(c.between[1])
            r[i][j] = r[j][i] = 2.0 * math.sin(math.pi * c.rank / 6.0)
        return r


class UncertaintyError(PathError):
    """A problem in the `uncertainty:` block at `loc`."""


@dataclass(frozen=True)
class Target:
    """One assumption's (or fitted parameter's) locations in the scenario: (loc, written value)
    per match; `factor`: the draw multiplies each written value."""

    name: str
    sets: tuple[tuple[tuple, float], ...]
    factor: bool = False


def _refused(loc: tuple) -> str | None:
    for pattern, why in NOT_ASSUMPTIONS.items():
        if len(loc) >= len(pattern) and all(p in ("*", k) for p, k in zip(pattern, loc)):
            return why
    return None


def _locations(scenario, data: dict, path: str, where: tuple) -> list[tuple]:
    """The locations `path` names. A wildcard keeps the matches where the field exists and
    holds a number (`channels.*.visits_per_hour`: the channels that have visits per hour) and
    matches nothing over an empty or unset block (`coupons.*.claim_rate` in a plan without
    coupons: a variant of a plan keeps its assumptions); a path without one must name a
    number itself."""
    if "*" not in path:
        return field_locations(scenario, data, path, where, UncertaintyError)
    try:
        locs = expand(data, path, allow_empty=True)   # no coupons, no ad groups in this plan: nothing set there
    except ScenarioError as e:
        raise UncertaintyError(where, e.issues[0].message) from None
    kept = [loc for loc in locs if isinstance(value_at(data, loc), int | float)
            and not isinstance(value_at(data, loc), bool)]
    if locs and not kept:
        fields = {f for loc in locs for f in type(_instance_at(scenario, loc[:-1])).model_fields
                  if isinstance(_instance_at(scenario, loc[:-1]), BaseModel)}
        raise UncertaintyError(where, f"{path} matches no number set in the scenario"
                                      f"{did_you_mean(path.rsplit('.', 1)[-1], sorted(fields))}")
    return kept


def resolve(scenario) -> list[Target]:
    """Every assumption's locations and written values, checked against the scenario
    (UncertaintyError); the values at each assumption's extremes are validated too."""
    unc = scenario.uncertainty
    data = scenario.model_dump(mode="python")
    for block in ("optimize", "calibrate", "uncertainty"):
        data.pop(block, None)
    targets, seen, probes = [], {}, Probes()
    if unc.sample is not None:
        targets = _fitted(scenario, data, unc.sample, seen, probes)
    for name, a in unc.assumptions.items():
        sets = []
        for i, path in enumerate(a.paths):
            where = ("uncertainty", "assumptions", name, "paths", i)
            steps = tuple(int(s) if s.isdigit() else s for s in path.split("."))
            locs = _locations(scenario, data, path, where)
            for loc in (steps, *locs):
                why = _refused(loc)
                if why:
                    raise UncertaintyError(where, f"{'.'.join(map(str, loc))} cannot be an assumption: {why}")
            for loc in locs:
                value = claim_number(data, loc, where, seen, f"the assumption {name!r}", "an assumption",
                                     UncertaintyError)
                sets.append((loc, value))
        if unc.sample is not None and name in unc.sample.parameters:
            raise UncertaintyError(("uncertainty", "assumptions", name), f"{name!r} is also a parameter of the fit "
                                   "sample (from:); name the assumption otherwise")
        targets.append(Target(name, tuple(sets), a.is_factor))
        for label, x in zip(("lowest", "highest"), a.extremes()):
            probes.add((label,), ("uncertainty", "assumptions", name),
                       f"its {label} value ({x:g}{' ×' if a.is_factor else ''})",
                       [(loc, x * v if a.is_factor else x) for loc, v in sets])
    probes.check(type(scenario), data, UncertaintyError)
    return targets


def _fitted(scenario, data: dict, sample: FitDraws, seen: dict, probes: Probes) -> list[Target]:
    """The fit sample's parameters located in this scenario (each sets its value itself at
    every match of its path), their lowest and highest draws added to `probes`."""
    where = ("uncertainty", "from")
    out = []
    for j, path in enumerate(sample.parameters):
        try:
            locs = field_locations(scenario, data, path, where, UncertaintyError)
        except UncertaintyError as e:
            raise UncertaintyError(where, f"the fit sample's parameter {path!r} is not a path of this scenario: "
                                          f"{e.message}") from None
        sets = []
        for loc in locs:
            why = _refused(loc)
            if why:
                raise UncertaintyError(where, f"the fit sample's parameter {'.'.join(map(str, loc))} cannot be "
                                              f"drawn: {why}")
            sets.append((loc, claim_number(data, loc, where, seen, "the fit sample (from:)",
                                           "a fitted parameter", UncertaintyError)))
        out.append(Target(path, tuple(sets), False))
        column = sample.column(j)
        for label, x in (("lowest", min(column)), ("highest", max(column))):
            probes.add((label,), where, f"the fit sample's {label} {path} ({x:g})", [(loc, x) for loc, _ in sets])
    return out


def _positive_definite(a: list[list[float]]) -> bool:
    """Whether the symmetric matrix `a` is positive definite (a Cholesky factorization
    succeeds): a few assumptions, so plain Python, and no numpy at load."""
    n = len(a)
    low = [[0.0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1):
            rest = a[i][j] - sum(low[i][k] * low[j][k] for k in range(j))
            if i == j:
                if rest <= 1e-10:
                    return False
                low[i][i] = math.sqrt(rest)
            else:
                low[i][j] = rest / low[j][j]
    return True


def check_uncertainty(scenario) -> None:
    """Every check of the uncertainty block that needs the scenario (raises UncertaintyError)."""
    unc = scenario.uncertainty
    names = list(unc.assumptions)
    pairs = set()
    for i, c in enumerate(unc.correlations):
        where = ("uncertainty", "correlations", i, "between")
        for n in c.between:
            if n not in unc.assumptions:
                raise UncertaintyError(where, f"unknown assumption {n!r}{did_you_mean(n, names)}")
        pair = frozenset(c.between)
        if len(pair) == 1:
            raise UncertaintyError(where, f"{c.between[0]!r} is correlated with itself; name two assumptions")
        if pair in pairs:
            raise UncertaintyError(where, f"{' and '.join(c.between)} are correlated twice")
        pairs.add(pair)
    if not _positive_definite(unc.matrix()):
        raise UncertaintyError(("uncertainty", "correlations"),
                               "these correlations cannot hold together (their matrix is not positive "
                               "definite): a correlates with b and b with c leaves c little room with a; "
                               "weaken one of them")
    resolve(scenario)

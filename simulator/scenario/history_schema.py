"""The scenario's `calibrate.history` block: how a store's own export maps onto the tidy history.

A history is one row per period × SKU (× channel where known). A store's export rarely uses
our column names, our SKU ids or our calendar, so the block says how to read it:

```yaml
calibrate:
  history:
    file: data/dominicks_tuna_weekly.csv   # relative to the scenario file
    columns: {period: week, sku: brand, promo: on_sale}   # ours: theirs
    period: {unit: week, start: 1989-09-14, index_base: 1}
    timezone: America/Chicago               # default: the scenario's meta.timezone
    sku_map: {1: starkist_6oz, 2: chicken_of_the_sea_6oz}
    strict: false                           # true: a missing period is an error
```

The scenario's `calibrate:` block (`simulator.scenario.calibrate_schema.Calibrate`) holds one.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from simulator.naming import did_you_mean
from simulator.scenario.numbers import Strict, When, check_timezone

KEYS = ("period", "sku", "channel")
"""Columns that say where a row belongs; (period, sku[, channel]) is unique."""

COUNTS = ("visits", "add_to_carts", "orders", "units", "returns", "clicks", "impressions")
"""Counted things: ≥ 0 (fractions allowed, e.g. units sold by weight)."""

MONEY = ("revenue", "ad_spend")
"""Money in the scenario's currency, per period: ≥ 0."""

TARGETS = ("visits", "add_to_carts", "orders", "units", "revenue", "returns",
           "ad_spend", "clicks", "impressions")
"""What a fit can aim at; a history needs at least one of them."""

PLAN = ("price", "discount", "promo")
"""What a planner sets (and knows for future periods): price > 0 per unit, discount in
[0, 1) as a fraction off list price, promo 0/1."""

CANONICAL = KEYS + (
    "visits", "add_to_carts", "orders", "units", "revenue", "returns",
    "ad_spend", "clicks", "impressions", "price", "discount", "promo",
)
"""Our column names, in the order a History frame holds them."""

assert set(CANONICAL) == set(KEYS) | set(TARGETS) | set(PLAN)

PeriodUnit = Literal["hour", "day", "week"]


def check_column_name(name: str) -> str:
    """`name` if it is one of ours, else a ValueError with the nearest one."""
    if name not in CANONICAL:
        raise ValueError(
            f"unknown column {name!r}; ours are {', '.join(CANONICAL)}{did_you_mean(name, CANONICAL)}"
        )
    return name


class PeriodSpec(Strict):
    """How the period column is read.

    `unit`: each row covers one hour, one day or one week. Without `start`, the period
    column holds timestamps (the start of each period) on a grid of whole units from the
    earliest one. With `start`, it holds whole-number period indexes: period `index_base`
    starts at `start`, period `index_base + k` starts k units later (Dominick's week 1
    starts Thursday 1989-09-14). Days and weeks are calendar days in the time zone (a day
    across a daylight-saving change lasts 23 or 25 hours); hours are 60 minutes.
    """

    unit: PeriodUnit = "day"
    start: When | None = None
    index_base: Literal[0, 1] = 1


class HistorySpec(Strict):
    """The `calibrate.history` block (see the module docstring).

    `columns` maps our names to the export's (`{units: qty_sold}`); a name not mapped is
    looked up as itself. Columns of the export that are neither mapped nor ours are
    ignored. `sku_map` maps the export's SKU ids to the scenario's; an id that is not in
    it must be a scenario SKU already. `timezone` None means the scenario's.
    """

    file: str | None = Field(None, description="the history file, relative to the scenario file")
    columns: dict[str, str] = Field(default_factory=dict)
    period: PeriodSpec = Field(default_factory=PeriodSpec)
    timezone: str | None = None
    sku_map: dict[str, str] = Field(default_factory=dict)
    strict: bool = False

    @field_validator("columns", "sku_map", mode="before")
    @classmethod
    def _text_keys(cls, v):
        """YAML reads `1: starkist` with an integer key; ids and names are text here."""
        if isinstance(v, dict):
            return {_text(k): _text(x) for k, x in v.items()}
        return v

    @field_validator("columns")
    @classmethod
    def _our_names(cls, v: dict[str, str]) -> dict[str, str]:
        for ours in v:
            check_column_name(ours)
        theirs = list(v.values())
        for name in theirs:
            if theirs.count(name) > 1:
                users = [o for o, t in v.items() if t == name]
                raise ValueError(f"column {name!r} is mapped to more than one of ours ({', '.join(users)})")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, v: str | None) -> str | None:
        return check_timezone(v) if v is not None else v

    def with_columns(self, columns: dict[str, str]) -> HistorySpec:
        """A new spec whose column mapping is updated by `columns` (ours → theirs), as
        `--map` does on the command line: a name mapped there replaces the block's mapping."""
        merged = {o: t for o, t in self.columns.items() if o not in columns}
        merged.update(columns)
        return HistorySpec.model_validate({**self.model_dump(), "columns": merged})

    def their(self, ours: str) -> str:
        """The export's name for our column `ours`."""
        return self.columns.get(ours, ours)


def _text(x) -> str:
    if isinstance(x, float) and x.is_integer():
        x = int(x)
    return str(x)

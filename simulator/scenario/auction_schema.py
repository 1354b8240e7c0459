"""Search-ad auctions in the scenario (docs/auctions.md): a `paid_search` channel's ad groups.

An ad group (推广单元, a keyword set) bids for the searches the platform auctions for it.
Its ad rank is `bid` × `quality_score`; rivals' ad ranks (quality-adjusted bids, money per
click) follow a lognormal landscape, declared per group and, where it changes, per phase.
Prices follow the generalized second price with a reserve; clicks follow CTR by position.
"""

from __future__ import annotations

from pydantic import Field

from simulator.scenario.numbers import (
    Budget,
    LogSpread,
    PositiveFactor,
    PositiveUnitMoney,
    Volume,
    bounded,
)
from simulator.scenario.numbers import Strict as _Strict

RivalCount = bounded(ge=1, le=50, unit="rivals", whole=True)


class Rivals(_Strict):
    """The competing ad ranks of one auction: `count` rivals, each lognormal with `median`
    (money per click, quality-adjusted) and log-standard deviation `sigma` (0: every rival at
    the median). With `count: 1` the highest competing rank is the lognormal itself."""

    median: PositiveUnitMoney
    sigma: LogSpread = 0.5
    count: RivalCount = 1


class RivalsChange(_Strict):
    """A phase's change to a group's rivals (fiercer on launch days): unset fields keep the
    group's values."""

    median: PositiveUnitMoney | None = None
    sigma: LogSpread | None = None
    count: RivalCount | None = None


class AdGroup(_Strict):
    """One ad group: `bid` (maximum money per click), `quality_score` (relative to the rivals',
    1 = alike), `auctions_per_hour` the searches auctioned for it at intraday weight 1 (they
    follow the channel's calendar: intraday, phases, launch spikes), its rivals, and optional
    budgets of its own (then the channel has none). `conversion` multiplies the channel's
    conversion for this group's clicks: a shopper who searched the store's brand word buys more
    often than one who searched a category or a long-tail word."""

    bid: PositiveUnitMoney
    quality_score: PositiveFactor = 1.0
    conversion: PositiveFactor = 1.0
    auctions_per_hour: Volume
    rivals: Rivals
    rivals_by_phase: dict[str, RivalsChange] = Field(default_factory=dict)
    daily_budget: Budget | None = None
    total_budget: Budget | None = None

    def rivals_in(self, phase: str | None) -> Rivals:
        """The rivals in `phase` (None: outside any declared phase)."""
        change = self.rivals_by_phase.get(phase) if phase is not None else None
        if change is None:
            return self.rivals
        return self.rivals.model_copy(update={k: v for k, v in change.model_dump().items() if v is not None})

    @property
    def has_budget(self) -> bool:
        return self.daily_budget is not None or self.total_budget is not None

"""How big a run is, estimated from the scenario before anything is allocated.

A plan that passes validation can still ask for more than a machine has: `end: 9999-12-31`
is 70 million hourly ticks, a tick of a billion visitors expands into billions of orders
when stock runs out, a million replications keep a million records. `estimate` sizes a run
from the scenario alone — its ticks, SKUs, segments, channels and replications, and the busiest
tick's orders — and `check` refuses one above the limits below unless the planner insists
(`--force`):

- work: ticks × SKUs × segments × channels × replications ≤ `MAX_WORK` (about ten minutes
  of the fast engine on a laptop; the bundled Double 11 at 10 replications is 1.9 × 10⁸);
- memory: the arrays of the campaign, of one day's chunk, of the busiest tick's orders and
  of the kept records ≤ `MAX_MEMORY`.

The figures are estimates, on the safe side: they bound what the engines allocate, they do
not predict it.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.scenario.errors import InputError

MAX_WORK = 2e10
"""Cells (ticks × SKUs × segments × channels) times replications a run may hold."""

MAX_MEMORY = 1 << 30
"""Bytes a run may be estimated to need (1 GiB)."""

_INTRADAY_PEAK = 2.668          # the busiest hour of the bundled taobao_2017 profile (mean 1)


class RunTooLarge(InputError):
    """A run above the limits; the message gives the estimate, the limit and `--force`."""


@dataclass(frozen=True)
class RunSize:
    """A run's size: `ticks`, `skus`, `segments`, `channels`, `reps`; `peak_units` the units
    ordered in the busiest tick (an upper estimate); `work` the cells times replications;
    `memory` the estimated bytes."""

    ticks: int
    skus: int
    segments: int
    channels: int
    reps: int
    peak_units: float
    work: float
    memory: float

    def describe(self) -> str:
        return (f"{self.ticks:,} ticks × {self.skus} SKUs × {self.segments} segments × {self.channels} "
                f"channels × {self.reps:,} replications = {self.work:.3g} cells, about "
                f"{self.memory / 2**30:.3g} GiB")


def _ticks(meta) -> int:
    import datetime as dt

    start = meta.local(meta.start).astimezone(dt.UTC)
    end = meta.local(meta.end).astimezone(dt.UTC)
    return max(1, round((end - start).total_seconds() / 60 / meta.tick_minutes))


def _peak_visits_per_hour(scenario, name: str, ch, intraday_peak: float, tick_minutes: int) -> float:
    """The channel's most visits in an hour: its rate at the busiest hour and phase, with the
    launch spikes' mean lift over a tick."""
    kind = ch.kind
    if kind == "crm_push":
        per_send = ch.audience * ch.open_rate
        return per_send * len(ch.send_times) * min(1.0, 60.0 / ch.response_minutes)
    if kind == "live_stream":
        return sum(s.viewers * s.visit_rate for s in ch.sessions)
    if kind == "display":
        rate = ch.impressions_per_hour * ch.ctr
    elif kind == "paid_search" and ch.ad_groups is not None:
        rate = sum(g.auctions_per_hour for g in ch.ad_groups.values()) * max(ch.ctr_by_position)
    elif kind == "paid_search":
        rate = ch.clicks_per_hour
    else:
        rate = ch.visits_per_hour
    phases = [p.traffic.get(name, p.traffic.get("default", 1.0)) for p in scenario.calendar.phases]
    spikes = sum(s.amplitude * min(1.0, s.decay_minutes / tick_minutes) for s in scenario.calendar.spikes
                 if s.channels is None or name in s.channels)
    return rate * intraday_peak * max([1.0, *phases]) * (1 + spikes)


def _units_per_visit(scenario) -> float:
    """An upper bound on the units a visit orders: of the SKU that sells most per visit, or of
    all SKUs together when promotions tie a visit's SKUs into one basket."""
    intent = max([1.0, *(p.intent for p in scenario.calendar.phases)])
    seg = max(s.conversion for s in scenario.segments.values())
    sens = max(s.price_sensitivity for s in scenario.segments.values())
    quality = max(c.quality for c in scenario.channels.values())
    total_attract = sum(s.attractiveness for s in scenario.skus.values())
    per_sku = []
    for sku in scenario.skus.values():
        deepest = sku.discount if isinstance(sku.discount, float | int) else max(sku.discount.values(), default=0.0)
        price_lift = (1 - deepest) ** (sku.elasticity * sens)
        conv = min(1.0, sku.base_conversion * intent * seg * quality * sku.promo_lift * price_lift)
        per_sku.append(sku.attractiveness / total_attract * conv * sku.units_per_order)
    return sum(per_sku) if scenario.has_promotions else max(per_sku)


def estimate(scenario, reps: int, scale: float = 1.0) -> RunSize:
    """The size of `reps` replications of `scenario` at traffic `scale` (module docstring)."""
    m = scenario.meta
    T, K, S, C = _ticks(m), len(scenario.skus), len(scenario.segments), len(scenario.channels)
    tick = m.tick_minutes
    spec = scenario.calendar.intraday
    peak_w = _INTRADAY_PEAK if spec == "taobao_2017" else 1.0 if spec == "flat" else (
        max(spec) / max(sum(spec) / 24, 1e-300))
    visits = sum(_peak_visits_per_hour(scenario, n, ch, peak_w, tick) for n, ch in scenario.channels.items())
    units = visits * scale * tick / 60 * _units_per_visit(scenario)
    ticks_per_day = max(1, 1440 // tick)
    periods = T * tick / max(60, tick)                            # records are hourly (or per tick)
    memory = (T * (4 * C + 3 * K + 8) * 8                         # the campaign's arrays per tick
              + min(T, ticks_per_day) * C * K * S * 8 * 6          # one day's chunk of draws
              + units * 400                                        # the busiest tick's orders, expanded
              + periods * (10 * C + 24 * K) * 8 * 3 * reps)        # the records kept, and their tables
    return RunSize(T, K, S, C, reps, units, float(T) * K * S * C * reps, memory)


def check(scenario, reps: int, scale: float = 1.0, force: bool = False, where: str = "") -> RunSize:
    """`estimate`, refused with `RunTooLarge` above `MAX_WORK` or `MAX_MEMORY` unless `force`."""
    size = estimate(scenario, reps, scale)
    if force:
        return size
    prefix = f"{where}: " if where else ""
    if size.work > MAX_WORK:
        raise RunTooLarge(f"{prefix}this run is too large: {size.describe()}; the limit is {MAX_WORK:.3g} cells "
                          "(about ten minutes of work): shorten the campaign (meta.end), coarsen meta.tick_minutes, "
                          "run fewer replications, or give --force to run it anyway")
    if size.memory > MAX_MEMORY:
        busiest = f"; its busiest tick orders about {size.peak_units:.3g} units" if size.peak_units * 400 > MAX_MEMORY / 2 else ""
        raise RunTooLarge(f"{prefix}this run would need more memory than the limit: {size.describe()}{busiest}; "
                          f"the limit is {MAX_MEMORY / 2**30:g} GiB: shorten the campaign, coarsen "
                          "meta.tick_minutes, lower the traffic (or --scale), run fewer replications, or give "
                          "--force to run it anyway")
    return size

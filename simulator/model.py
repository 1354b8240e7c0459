"""The model: everything about a scenario that does not depend on the seed.

Built once from a validated `Scenario`, then shared by every replication.
Shapes: T ticks, C channels, K SKUs, S segments, P phases (index 0 is the
time outside any declared phase). Money in the scenario's currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from simulator.auctions import AuctionChannel, build_auctions
from simulator.plan.calendar import TAOBAO_2017, Calendar, build_calendar
from simulator.plan.carts import CartPayment, build_carts
from simulator.plan.baskets import AddOns, build_addons
from simulator.plan.conversion import Buying, build_buying
from simulator.plan.pull import Pull, build_pull
from simulator.plan.regimes import Regimes, build_regimes
from simulator.plan.stock import Inventory, build_inventory
from simulator.plan.traffic import build_traffic, buy_by_return
from simulator.promotions import Promotions, build_promotions
from simulator.rules.snapshot import evaluation_ticks, refuse_unexecuted
from simulator.scenario.schema import Scenario
from simulator.timegrid import TimeGrid

__all__ = ["TAOBAO_2017", "Chunk", "Model", "build_model"]


@dataclass(frozen=True)
class Chunk:
    """A stretch of ticks [start, end) inside one local day and one phase."""

    start: int
    end: int
    phase: int
    day: int


@dataclass
class Model:
    """Seed-independent arrays of a scenario (see module docstring for shapes)."""

    scenario: Scenario
    scale: float
    grid: TimeGrid
    channels: list[str]
    kinds: list[str]
    segments: list[str]
    skus: list[str]
    phases: list[str]                 # (P,) names, index 0 = outside any phase
    warmup: np.ndarray                # (P,) bool: visits add to cart
    phase_of_tick: np.ndarray         # (T,) int
    traffic: np.ndarray               # (T, C) expected visits per tick (display after its budget)
    media_spend: np.ndarray           # (T, C) deterministic media spend (display CPM)
    fees: np.ndarray                  # (T, C) fixed fees (CRM messages)
    cpc: np.ndarray                   # (C,) cost per paid-search click, 0 elsewhere
    daily_budget: np.ndarray          # (C,) paid-search daily cap, inf when none
    total_budget: np.ndarray          # (C,) paid-search campaign cap, inf when none
    pace_share: np.ndarray            # (T, C) pacing: share of the period's budget spendable by the end
                                      #   of each tick (the day with a daily budget, else the campaign); inf: asap
    carry_over: np.ndarray            # (C,) bool: a day's unspent daily budget adds to the next day's
    commission: np.ndarray            # (C,) commission rate on kept GMV
    reach: np.ndarray                 # (P, C, K*S) P(visit buys SKU k as segment s)
    buy_prob: np.ndarray              # (P, C) P(visit buys anything)
    price: np.ndarray                 # (P, K) price after SKU discount
    list_price: np.ndarray            # (K,)
    unit_cost: np.ndarray             # (K,)
    return_rate: np.ndarray           # (K,)
    extra_units: np.ndarray           # (K,) mean units per order − 1
    stock: np.ndarray                 # (K,) initial stock
    reorder_point: np.ndarray         # (K,) −1 when no reorder policy
    reorder_qty: np.ndarray           # (K,)
    lead_ticks: np.ndarray            # (K,) ≥ 1
    inbound: list[tuple[int, int, int]]   # (tick, sku index, units), sorted
    chunks: list[Chunk]
    pay_start: dict[int, tuple[int, np.ndarray]]  # warm-up phase → (first pay tick, (W,) profile)
    cart_pay_through: float
    boosted: list = field(default_factory=list)   # (channel index, SalesBoost): organic feedback
    promo: Promotions | None = None   # promotion mechanics (None: the plan has none)
    auctions: list[AuctionChannel] = field(default_factory=list)   # paid search with ad groups
    value: np.ndarray | None = None   # (P, C) expected GMV of a visit (roi_target pacing weighs by it)
    pay_phase: np.ndarray | None = None   # (P,) the sale phase whose prices a phase's buyers pay
    fixed_events: list[tuple[int, str, str, float]] = field(default_factory=list)
    resaleable: np.ndarray | None = None  # (K,) share of returned units that go back to stock
    restock_tick: np.ndarray | None = None   # (T,) tick a return of a sale at tick t is back (T: after the end)
    # the plan's parts whole (simulator/plan/; docs/decisions.md, "The compiled plan"): what the
    # reference and expected engines read, and the golden tests check
    calendar: Calendar | None = None  # phases, intent, pay phases, intraday curve, spikes
    volume: np.ndarray | None = None  # (T, C) expected volume before budgets (see `Traffic.volume`)
    media: list = field(default_factory=list)   # (C,) how a paid channel buys (`MediaBuy`), else None
    buying: Buying | None = None      # prices, the purchase formula's inputs, reach, value
    inventory: Inventory | None = None   # stock, replenishment, shipments, returns
    promotions: Promotions | None = None   # promotion arrays, also for a plan without any (then empty)
    regimes: Regimes | None = None    # (T, ·) price, coupon, reduction and deposit regimes by pay tick; surge
    carts: list[CartPayment] = field(default_factory=list)   # warm-up carts' payments
    buy_now: np.ndarray | None = None  # (K,) share of a warm-up's buyers of SKU k who pay at once
    pull: Pull | None = None          # demand phases pull forward from the days after them
    addons: AddOns | None = None      # each SKU's add-ons: several-SKU baskets

    @property
    def n_ticks(self) -> int:
        return self.grid.n_ticks


def build_model(scenario: Scenario, scale: float = 1.0) -> Model:
    """Compile the plan of `scenario`, part by part (simulator/plan/). `scale` multiplies every
    traffic volume."""
    grid = TimeGrid.from_meta(scenario.meta)
    channels, segs, skus = list(scenario.channels), list(scenario.segments), list(scenario.skus)
    kinds = [scenario.channels[c].kind for c in channels]
    cal = build_calendar(scenario, grid, channels)
    tr = build_traffic(scenario, cal, channels, segs, scale)
    buying = build_buying(scenario, cal, skus, segs, tr.quality, tr.mix)
    buy_by_return(tr, scenario, channels, cal, buying.value)
    auctions = build_auctions(scenario, grid, channels, cal.names, tr.shapes, buying.value)
    for au in auctions:                                         # expected clicks before budgets
        tr.traffic[:, au.c] = (au.rate * au.expected_clicks()[cal.phase_of_tick]).sum(axis=1)
    inventory = build_inventory(scenario, grid, skus)
    promotions = build_promotions(scenario, grid, cal.intent, buying.lift, segs, skus, buying.conversion,
                                  buying.list_price)
    promo = promotions if scenario.has_promotions else None
    refuse_unexecuted(scenario)
    events = cal.events + tr.events
    carts = build_carts(cal, scenario.calendar.cart_pay_minutes)
    pull = build_pull(cal)
    return Model(
        scenario=scenario, scale=scale, grid=grid, channels=channels, kinds=kinds, segments=segs, skus=skus,
        phases=cal.names, warmup=cal.warmup, phase_of_tick=cal.phase_of_tick, traffic=tr.traffic,
        media_spend=tr.media_spend, fees=tr.fees, cpc=tr.cpc, daily_budget=tr.daily_budget,
        total_budget=tr.total_budget, pace_share=tr.pace_share, carry_over=tr.carry_over,
        commission=tr.commission, reach=buying.reach, buy_prob=buying.reach.sum(axis=2), price=buying.price,
        list_price=buying.list_price, unit_cost=inventory.unit_cost, return_rate=inventory.return_rate,
        extra_units=np.array([scenario.skus[k].units_per_order - 1 for k in skus]),
        stock=inventory.stock, reorder_point=inventory.reorder_point, reorder_qty=inventory.reorder_qty,
        lead_ticks=inventory.lead_ticks, inbound=inventory.inbound,
        chunks=_chunks(scenario, cal, events, promo, pull.cuts),
        pay_start={c.phase: (c.first, c.profile) for c in carts},
        cart_pay_through=scenario.calendar.cart_pay_through, promo=promo, pay_phase=cal.pay_phase,
        auctions=auctions, value=buying.value,
        boosted=[(ci, scenario.channels[c].sales_boost) for ci, c in enumerate(channels)
                 if getattr(scenario.channels[c], "sales_boost", None) is not None],
        fixed_events=sorted(events, key=lambda e: e[0]),
        resaleable=inventory.resaleable, restock_tick=inventory.restock_tick,
        calendar=cal, volume=tr.volume, media=tr.media, buying=buying, inventory=inventory, promotions=promotions,
        regimes=build_regimes(promotions, buying.price, cal.phase_of_tick, kinds), carts=carts,
        buy_now=np.array([scenario.skus[k].warmup_buy_now for k in skus], dtype=float), pull=pull,
        addons=build_addons(scenario, skus),
    )


def _chunks(scenario: Scenario, cal: Calendar, events: list, promo: Promotions | None,
            more: list[int]) -> list[Chunk]:
    """Stretches of one local day ∩ one phase, cut where a display budget binds (so that display
    traffic keeps one shape inside a chunk), where a promotion window opens or closes, at each
    rule evaluation, and at the ticks `more` (pull-forward windows)."""
    grid, T = cal.grid, cal.grid.n_ticks
    caps = [t for t, kind, _, _ in events if kind == "budget_exhausted"]
    cuts = sorted({0, T, *grid.day_starts().tolist(), *cal.bounds, *caps, *[t + 1 for t in caps if t + 1 < T],
                   *(promo.cuts if promo else []), *evaluation_ticks(scenario, grid), *more})
    return [Chunk(a, b, int(cal.phase_of_tick[a]), int(grid.day[a])) for a, b in pairwise(cuts) if b > a]

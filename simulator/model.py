"""The model: everything about a scenario that does not depend on the seed.

Built once from a validated `Scenario`, then shared by every replication.
Shapes: T ticks, C channels, K SKUs, S segments, P phases (index 0 is the
time outside any declared phase). Money in the scenario's currency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from simulator.auctions import AuctionChannel, build_auctions
from simulator.pacing import cap_spend, roi_kept
from simulator.pacing import pace_share as share_line
from simulator.promotions import Conversion, Promotions, build_promotions
from simulator.rules.snapshot import evaluation_ticks, refuse_unexecuted
from simulator.scenario.schema import OWN_AUDIENCE, CrmPush, Display, LiveStream, PaidSearch, Scenario
from simulator.timegrid import TimeGrid

# Page views by local hour (0–23), Asia/Shanghai, from the Taobao UserBehavior sample
# (Alibaba Tianchi, 2017-11-25 – 2017-12-03; ../shared/data), normalized to mean 1.
TAOBAO_2017 = np.array([
    0.860, 0.212, 0.260, 0.109, 0.106, 0.109, 0.568, 0.664, 0.711, 0.568, 1.009, 0.762,
    1.309, 1.295, 1.274, 1.266, 1.181, 1.099, 1.125, 1.070, 2.086, 2.668, 2.325, 1.364,
])
NO_PHASE = "(none)"
CRM_WINDOW = 10   # a push's visits come within 10 × response_minutes of the send (e^-10 cut off)


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

    @property
    def n_ticks(self) -> int:
        return self.grid.n_ticks


def _intraday(scenario: Scenario, grid: TimeGrid) -> np.ndarray:
    """(T,) intraday weight of each tick (mean 1 over a day)."""
    spec = scenario.calendar.intraday
    w = TAOBAO_2017 if spec == "taobao_2017" else np.ones(24) if spec == "flat" else np.asarray(spec, float)
    w = w / w.mean()
    hours_per_tick = grid.tick_minutes // 60
    if hours_per_tick <= 1:
        return w[grid.local_hour]
    idx = (grid.local_hour[:, None] + np.arange(hours_per_tick)[None, :]) % 24
    return w[idx].mean(axis=1)


def _decay_mass(grid: TimeGrid, at_minute: float, tau: float, window: float = np.inf) -> np.ndarray:
    """(T,) share of an exponential response (mean τ minutes, starting at `at`) in each
    tick; with a finite `window` the response stops after it and is renormalized."""
    m = grid.tick_minutes
    u0 = np.arange(grid.n_ticks) * m
    lo = np.clip(u0, at_minute, at_minute + window)
    hi = np.clip(u0 + m, at_minute, at_minute + window)
    mass = np.exp(-(lo - at_minute) / tau) - np.exp(-(hi - at_minute) / tau)
    return mass / (1 - np.exp(-window / tau))


def _session_mass(grid: TimeGrid, ses, a: int, b: int, at: float) -> np.ndarray:
    """(T,) share of a live session's visits in each tick: its audience curve over [a, b)."""
    if ses.curve == "flat":
        out = np.zeros(grid.n_ticks)
        out[a:b] = 1.0 / (b - a)
        return out
    return _decay_mass(grid, at, ses.decay_minutes, (b - a) * grid.tick_minutes)


def _minute(scenario: Scenario, grid: TimeGrid, t) -> float:
    return scenario.meta.minutes_from_start(t)


def build_model(scenario: Scenario, scale: float = 1.0) -> Model:
    """Precompute the seed-independent model. `scale` multiplies every traffic volume."""
    meta, cal = scenario.meta, scenario.calendar
    grid = TimeGrid.from_meta(meta)
    T, m = grid.n_ticks, grid.tick_minutes
    channels = list(scenario.channels)
    segs = list(scenario.segments)
    skus = list(scenario.skus)
    C, S, K = len(channels), len(segs), len(skus)
    events: list[tuple[int, str, str, float]] = []

    # phases
    phases = sorted(cal.phases, key=lambda p: meta.local(p.start))
    names = [NO_PHASE] + [p.name for p in phases]
    P = len(names)
    phase_of_tick = np.zeros(T, dtype=np.int64)
    bounds = []
    for j, p in enumerate(phases, start=1):
        a, b = grid.tick_of(p.start, meta), grid.tick_of(p.end, meta)
        phase_of_tick[a:b] = j
        bounds += [a, b]
        events.append((a, "phase_start", p.name, 0.0))
    warmup = np.array([False] + [p.kind == "warmup" for p in phases])
    intent = np.array([1.0] + [p.intent for p in phases])

    # traffic shape shared by channels: intraday × spikes
    intraday = _intraday(scenario, grid)
    spike = np.ones((T, C))
    for sp in cal.spikes:
        at = _minute(scenario, grid, sp.at)
        bump = sp.amplitude * sp.decay_minutes * _decay_mass(grid, at, sp.decay_minutes) / m
        targets = sp.channels or [c for c in channels if scenario.channels[c].kind not in OWN_AUDIENCE]
        for c in targets:
            spike[:, channels.index(c)] += bump
        events.append((grid.tick_of(sp.at, meta), "launch", ",".join(sp.channels or ["all"]), sp.amplitude))

    def phase_mult(name: str) -> np.ndarray:
        per_phase = np.array([1.0] + [p.traffic.get(name, p.traffic.get("default", 1.0)) for p in phases])
        return per_phase[phase_of_tick]

    traffic = np.zeros((T, C))
    media_spend = np.zeros((T, C))
    fees = np.zeros((T, C))
    cpc = np.zeros(C)
    pace_share = np.full((T, C), np.inf)
    carry_over = np.zeros(C, dtype=bool)
    daily_budget = np.full(C, np.inf)
    total_budget = np.full(C, np.inf)
    commission = np.zeros(C)
    quality = np.zeros(C)
    mix = np.zeros((C, S))
    shares = np.array([scenario.segments[s].share for s in segs])
    day_starts = grid.day_starts()
    shapes: dict[str, np.ndarray] = {}
    for ci, name in enumerate(channels):
        ch = scenario.channels[name]
        quality[ci] = ch.quality
        mix[ci] = [ch.segments.get(s, 0.0) for s in segs] if ch.segments else shares
        shape = intraday * phase_mult(name) * spike[:, ci] * (m / 60) * scale
        if isinstance(ch, CrmPush):
            for t in ch.send_times:
                at = _minute(scenario, grid, t)
                response = _decay_mass(grid, at, ch.response_minutes, CRM_WINDOW * ch.response_minutes)
                traffic[:, ci] += ch.audience * scale * ch.open_rate * response
                tick = grid.tick_of(t, meta)
                fees[tick, ci] += ch.audience * scale * ch.cost_per_message
                events.append((tick, "crm_send", name, float(ch.audience * scale)))
        elif isinstance(ch, LiveStream):
            for ses in ch.sessions:
                a, b = grid.tick_of(ses.start, meta), grid.tick_of(ses.end, meta)
                share = _session_mass(grid, ses, a, b, _minute(scenario, grid, ses.start))
                traffic[:, ci] += ses.viewers * scale * ses.visit_rate * share
                fees[a, ci] += ses.fee
                events.append((a, "live_start", name, float(ses.viewers * scale)))
            commission[ci] = ch.commission_rate
        elif isinstance(ch, Display) and ch.pacing == "roi_target":
            shapes[name] = shape                                # bought below, once the value of a visit is known
        elif isinstance(ch, Display):
            imps = ch.impressions_per_hour * shape
            spend = imps * ch.cpm / 1000
            pace_share[:, ci] = share_line(ch.pacing, ch.daily_budget, ch.total_budget, shape, grid)
            kept = cap_spend(spend, day_starts, ch.daily_budget, ch.total_budget, name, events,
                              pace_share[:, ci], ch.carry_over)
            traffic[:, ci] = _reached(imps * kept, ch.audience) * ch.ctr
            media_spend[:, ci] = spend * kept
        elif isinstance(ch, PaidSearch) and ch.auctions:
            shapes[name] = shape                                # clicks follow from the auctions below
        elif isinstance(ch, PaidSearch):
            traffic[:, ci] = ch.clicks_per_hour * shape
            cpc[ci] = ch.cpc
            daily_budget[ci] = np.inf if ch.daily_budget is None else ch.daily_budget
            total_budget[ci] = np.inf if ch.total_budget is None else ch.total_budget
            pace_share[:, ci] = share_line(ch.pacing, ch.daily_budget, ch.total_budget, shape, grid)
            carry_over[ci] = ch.carry_over
        else:
            traffic[:, ci] = ch.visits_per_hour * shape
            commission[ci] = getattr(ch, "commission_rate", 0.0)

    # SKUs: prices per phase, conversion, reach
    sku_objs = [scenario.skus[k] for k in skus]
    list_price = np.array([s.price for s in sku_objs])
    price = np.array([[s.price * (1 - s.discount_in(None if j == 0 else names[j])) for s in sku_objs]
                      for j in range(P)])
    pay_phase = np.arange(P)
    for j in range(1, P):
        if warmup[j]:
            pay_phase[j] = next(i for i in range(j + 1, P) if not warmup[i])
    attract = np.array([s.attractiveness for s in sku_objs])
    choice = attract / attract.sum()
    base = np.array([s.base_conversion for s in sku_objs])
    elast = np.array([s.elasticity for s in sku_objs])
    seg_conv = np.array([scenario.segments[s].conversion for s in segs])
    sens = np.array([scenario.segments[s].price_sensitivity for s in segs])
    rel = price[pay_phase] / list_price                                  # (P, K)
    lift = np.array([[s.promo_lift if j and phases[j - 1].on_promo(k) else 1.0
                      for k, s in zip(skus, sku_objs)] for j in range(P)])[pay_phase]   # (P, K)
    conversion = Conversion(base, seg_conv, elast, sens, quality, choice, mix)
    p_buy = conversion.p_buy(intent, lift, rel)                          # (P, C, K, S)
    reach = p_buy * choice[None, None, :, None] * mix[None, :, None, :]
    # the expected GMV of a visit (P, C): what roi_target weighs a click or an impression by
    unit_value = price[pay_phase] * np.array([s.units_per_order for s in sku_objs])[None, :]   # (P, K)
    value = np.einsum("pcks,pk->pc", reach.reshape(P, C, K, S), unit_value)
    reach = reach.reshape(P, C, K * S)
    for ci, name in enumerate(channels):
        ch = scenario.channels[name]
        if ch.kind not in ("paid_search", "display") or ch.pacing != "roi_target":
            continue
        if isinstance(ch, Display):                             # impressions while their marginal return holds
            imps = ch.impressions_per_hour * shapes[name]
            kept = roi_kept(imps, ch.cpm / 1000, ch.ctr * value[phase_of_tick, ci], ch.audience, ch.roi_target,
                            day_starts, ch.daily_budget, ch.total_budget, ch.carry_over, name, events)
            traffic[:, ci] = _reached(imps * kept, ch.audience) * ch.ctr
            media_spend[:, ci] = imps * kept * ch.cpm / 1000
        elif not ch.auctions:                                   # a flat cpc: buy in the phases that return enough
            traffic[:, ci] *= (value[:, ci] >= ch.roi_target * ch.cpc)[phase_of_tick]
    auctions = build_auctions(scenario, grid, channels, names, shapes, value)
    for au in auctions:                                         # expected clicks before budgets
        traffic[:, au.c] = (au.rate * au.expected_clicks()[phase_of_tick]).sum(axis=1)

    # inventory
    lead = np.array([max(1, math.ceil(s.reorder.lead_time_hours * 60 / m)) if s.reorder else 1 for s in sku_objs])
    inbound = sorted((grid.first_tick_from(sh.at, meta), k, sh.quantity)
                     for k, s in enumerate(sku_objs) for sh in s.inbound)
    inbound = [d for d in inbound if d[0] < T]

    # chunks: one local day ∩ one phase, cut where a display budget binds (so that display
    # traffic keeps one shape inside a chunk)
    caps = [t for t, kind, _, _ in events if kind == "budget_exhausted"]   # display caps: the
    promo = None
    if scenario.has_promotions:
        promo = build_promotions(scenario, grid, intent, lift, segs, skus, conversion, list_price)
    refuse_unexecuted(scenario)
    cuts = sorted(set([0, T, *day_starts.tolist(), *bounds, *caps, *[t + 1 for t in caps if t + 1 < T],
                       *(promo.cuts if promo else []), *evaluation_ticks(scenario, grid)]))
    chunks = [Chunk(a, b, int(phase_of_tick[a]), int(grid.day[a])) for a, b in zip(cuts, cuts[1:]) if b > a]

    # warm-up carts pay from the first tick of the next sale phase
    pay_start: dict[int, tuple[int, np.ndarray]] = {}
    for j in range(1, P):
        if warmup[j]:
            b0 = int(np.flatnonzero(phase_of_tick == pay_phase[j])[0])
            b1 = b0 + int(np.sum(phase_of_tick[b0:] == pay_phase[j]))
            w = max(1, min(b1 - b0, math.ceil(10 * cal.cart_pay_minutes / m)))
            edges = np.exp(-np.arange(w + 1) * m / cal.cart_pay_minutes)
            prof = edges[:-1] - edges[1:]
            pay_start[j] = (b0, prof / prof.sum())

    return Model(
        scenario=scenario, scale=scale, grid=grid, channels=channels,
        kinds=[scenario.channels[c].kind for c in channels], segments=segs, skus=skus,
        phases=names, warmup=warmup, phase_of_tick=phase_of_tick, traffic=traffic,
        media_spend=media_spend, fees=fees, cpc=cpc, daily_budget=daily_budget,
        total_budget=total_budget, pace_share=pace_share, carry_over=carry_over, commission=commission, reach=reach,
        buy_prob=reach.sum(axis=2), price=price, list_price=list_price,
        unit_cost=np.array([s.unit_cost for s in sku_objs]),
        return_rate=np.array([s.return_rate for s in sku_objs]),
        extra_units=np.array([s.units_per_order - 1 for s in sku_objs]),
        stock=np.array([s.stock for s in sku_objs], dtype=np.int64),
        reorder_point=np.array([s.reorder.point if s.reorder else -1 for s in sku_objs], dtype=np.int64),
        reorder_qty=np.array([s.reorder.quantity if s.reorder else 0 for s in sku_objs], dtype=np.int64),
        lead_ticks=lead, inbound=inbound, chunks=chunks, pay_start=pay_start,
        cart_pay_through=cal.cart_pay_through, promo=promo, pay_phase=pay_phase, auctions=auctions, value=value,
        boosted=[(ci, scenario.channels[c].sales_boost) for ci, c in enumerate(channels)
                 if getattr(scenario.channels[c], "sales_boost", None) is not None],
        fixed_events=sorted(events, key=lambda e: e[0]),
        resaleable=np.array([s.resaleable_returns for s in sku_objs]),
        restock_tick=np.searchsorted(grid.day, grid.day + meta.return_days, side="left"),
    )


def _reached(imps: np.ndarray, audience: float | None) -> np.ndarray:
    """(T,) people newly reached per tick by `imps` impressions (all of them without an audience):
    after I impressions, audience × (1 − exp(−I / audience)) people have been reached."""
    if audience is None:
        return imps
    total = audience * -np.expm1(-np.cumsum(imps) / audience)
    return np.diff(total, prepend=0.0)

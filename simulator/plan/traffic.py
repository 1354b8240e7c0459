"""The plan's traffic part: what each channel brings per tick, what it costs, and its budgets
(docs/model.md, "Traffic"; docs/pacing.md).

Shapes: T ticks, C channels, S segments. Money in the scenario's currency.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from simulator.pacing import cap_spend, roi_kept
from simulator.pacing import pace_share as share_line
from simulator.plan.calendar import Calendar, decay_mass
from simulator.scenario.schema import CrmPush, Display, LiveStream, PaidSearch, Scenario
from simulator.timegrid import TimeGrid

CRM_WINDOW = 10   # a push's visits come within 10 × response_minutes of the send (e^-10 cut off)


@dataclass(frozen=True)
class MediaBuy:
    """How a paid channel (paid search, display) buys its traffic: what the engines spend
    draw by draw against its budgets (docs/pacing.md). Money in the scenario's currency."""

    kind: str                    # paid_search or display
    cpc: float                   # per click (flat-cpc paid search), 0 otherwise
    cpm: float                   # per thousand impressions (display), 0 otherwise
    ctr: float                   # clicks per impression (display), 1 otherwise
    audience: float              # people display can reach (inf: every impression can click)
    daily: float                 # daily budget, inf when none
    total: float                 # campaign budget, inf when none
    pacing: str                  # asap, even, launch_weighted or roi_target
    roi_target: float            # the GMV a unit of spend must return under roi_target pacing (nan: none)
    carry_over: bool             # a day's unspent budget adds to the next day's


@dataclass
class Traffic:
    """Per channel and tick: volumes before budgets, expected visits after them, and money."""

    volume: np.ndarray           # (T, C) expected volume before budgets: visits; impressions (display);
                                 #   clicks (flat-cpc paid search); auctions per unit of an ad group's
                                 #   auctions_per_hour (paid search with ad groups)
    traffic: np.ndarray          # (T, C) expected visits (display after its budget; auctions: expected clicks)
    media_spend: np.ndarray      # (T, C) deterministic media spend (display CPM)
    fees: np.ndarray             # (T, C) fixed fees (CRM messages, live-stream slots)
    cpc: np.ndarray              # (C,) cost per paid-search click, 0 elsewhere
    daily_budget: np.ndarray     # (C,) paid-search daily cap, inf when none
    total_budget: np.ndarray     # (C,) paid-search campaign cap, inf when none
    pace_share: np.ndarray       # (T, C) share of the period's budget spendable by each tick's end (inf: asap)
    carry_over: np.ndarray       # (C,) bool
    commission: np.ndarray       # (C,) commission rate on kept GMV
    quality: np.ndarray          # (C,) conversion multiplier of a channel's visits
    mix: np.ndarray              # (C, S) segment shares of each channel's visits
    media: list = field(default_factory=list)                     # (C,) `MediaBuy` of a paid channel, else None
    shapes: dict[str, np.ndarray] = field(default_factory=dict)   # (T,) shape of channels bought later
    events: list = field(default_factory=list)                    # crm_send, live_start, budget_exhausted


def _session_mass(grid: TimeGrid, ses, a: int, b: int, at: float) -> np.ndarray:
    """(T,) share of a live session's visits in each tick: its audience curve over [a, b)."""
    if ses.curve == "flat":
        out = np.zeros(grid.n_ticks)
        out[a:b] = 1.0 / (b - a)
        return out
    return decay_mass(grid, at, ses.decay_minutes, (b - a) * grid.tick_minutes)


def _crm(tr: Traffic, ci: int, name: str, ch: CrmPush, scenario: Scenario, grid: TimeGrid, scale: float) -> None:
    """A push's fees at each send; its openers over the response window."""
    meta = scenario.meta
    for t in ch.send_times:
        response = decay_mass(grid, meta.minutes_from_start(t), ch.response_minutes, CRM_WINDOW * ch.response_minutes)
        tr.traffic[:, ci] += ch.audience * scale * ch.open_rate * response
        tick = grid.tick_of(t, meta)
        tr.fees[tick, ci] += ch.audience * scale * ch.cost_per_message
        tr.events.append((tick, "crm_send", name, float(ch.audience * scale)))
    tr.volume[:, ci] = tr.traffic[:, ci]


def _live(tr: Traffic, ci: int, name: str, ch: LiveStream, scenario: Scenario, grid: TimeGrid, scale: float) -> None:
    """Sessions: the slot's fee at its start; viewers × visit_rate visits over the audience curve."""
    meta = scenario.meta
    for ses in ch.sessions:
        a, b = grid.tick_of(ses.start, meta), grid.tick_of(ses.end, meta)
        share = _session_mass(grid, ses, a, b, meta.minutes_from_start(ses.start))
        tr.traffic[:, ci] += ses.viewers * scale * ses.visit_rate * share
        tr.fees[a, ci] += ses.fee
        tr.events.append((a, "live_start", name, float(ses.viewers * scale)))
    tr.commission[ci] = ch.commission_rate
    tr.volume[:, ci] = tr.traffic[:, ci]


def _display(tr: Traffic, ci: int, name: str, ch: Display, shape: np.ndarray, grid: TimeGrid) -> None:
    """Impressions as far as the budgets and the pacing line allow; people reached click."""
    imps = ch.impressions_per_hour * shape
    tr.volume[:, ci] = imps
    if ch.pacing == "roi_target":
        tr.shapes[name] = shape                          # bought in `buy_by_return`, once a visit's value is known
        return
    spend = imps * ch.cpm / 1000
    tr.pace_share[:, ci] = share_line(ch.pacing, ch.daily_budget, ch.total_budget, shape, grid)
    kept = cap_spend(spend, grid.day_starts(), ch.daily_budget, ch.total_budget, name, tr.events,
                     tr.pace_share[:, ci], ch.carry_over)
    tr.traffic[:, ci] = reached(imps * kept, ch.audience) * ch.ctr
    tr.media_spend[:, ci] = spend * kept


def _paid_search(tr: Traffic, ci: int, name: str, ch: PaidSearch, shape: np.ndarray, grid: TimeGrid) -> None:
    """Flat-cpc clicks (budgets bind in the engines); with ad groups, clicks follow the auctions."""
    if ch.auctions:
        tr.volume[:, ci] = shape
        tr.shapes[name] = shape
        return
    tr.volume[:, ci] = tr.traffic[:, ci] = ch.clicks_per_hour * shape
    tr.cpc[ci] = ch.cpc
    tr.daily_budget[ci] = np.inf if ch.daily_budget is None else ch.daily_budget
    tr.total_budget[ci] = np.inf if ch.total_budget is None else ch.total_budget
    tr.pace_share[:, ci] = share_line(ch.pacing, ch.daily_budget, ch.total_budget, shape, grid)
    tr.carry_over[ci] = ch.carry_over


def media_buy(ch) -> MediaBuy | None:
    """The `MediaBuy` of a paid-search or display channel (None for any other kind)."""
    if ch.kind not in ("paid_search", "display"):
        return None
    display = ch.kind == "display"
    return MediaBuy(
        kind=ch.kind, cpc=0.0 if display or ch.cpc is None else float(ch.cpc),
        cpm=float(ch.cpm) if display else 0.0, ctr=float(ch.ctr) if display else 1.0,
        audience=float(ch.audience) if display and ch.audience is not None else np.inf,
        daily=np.inf if ch.daily_budget is None else float(ch.daily_budget),
        total=np.inf if ch.total_budget is None else float(ch.total_budget), pacing=ch.pacing,
        roi_target=np.nan if ch.roi_target is None else float(ch.roi_target), carry_over=bool(ch.carry_over))


def build_traffic(scenario: Scenario, cal: Calendar, channels: list[str], segs: list[str], scale: float) -> Traffic:
    """Every channel's volume, expected visits, fees and budgets, except what roi_target pacing
    and auctions decide once the value of a visit is known (`buy_by_return`, the auctions)."""
    grid = cal.grid
    T, C, S, m = grid.n_ticks, len(channels), len(segs), grid.tick_minutes
    tr = Traffic(volume=np.zeros((T, C)), traffic=np.zeros((T, C)), media_spend=np.zeros((T, C)),
                 fees=np.zeros((T, C)), cpc=np.zeros(C), daily_budget=np.full(C, np.inf),
                 total_budget=np.full(C, np.inf), pace_share=np.full((T, C), np.inf),
                 carry_over=np.zeros(C, dtype=bool), commission=np.zeros(C), quality=np.zeros(C),
                 mix=np.zeros((C, S)), media=[media_buy(scenario.channels[c]) for c in channels])
    shares = np.array([scenario.segments[s].share for s in segs])
    for ci, name in enumerate(channels):
        ch = scenario.channels[name]
        tr.quality[ci] = ch.quality
        tr.mix[ci] = [ch.segments.get(s, 0.0) for s in segs] if ch.segments else shares
        shape = cal.intraday * cal.phase_traffic(name) * cal.spike[:, ci] * (m / 60) * scale
        if isinstance(ch, CrmPush):
            _crm(tr, ci, name, ch, scenario, grid, scale)
        elif isinstance(ch, LiveStream):
            _live(tr, ci, name, ch, scenario, grid, scale)
        elif isinstance(ch, Display):
            _display(tr, ci, name, ch, shape, grid)
        elif isinstance(ch, PaidSearch):
            _paid_search(tr, ci, name, ch, shape, grid)
        else:
            tr.volume[:, ci] = tr.traffic[:, ci] = ch.visits_per_hour * shape
            tr.commission[ci] = getattr(ch, "commission_rate", 0.0)
    return tr


def buy_by_return(tr: Traffic, scenario: Scenario, channels: list[str], cal: Calendar, value: np.ndarray) -> None:
    """roi_target pacing (docs/pacing.md): display buys impressions while the next one returns
    the target; flat-cpc paid search buys in the phases whose visit returns it. `value` (P, C)
    is the expected GMV of a visit."""
    day_starts = cal.grid.day_starts()
    for ci, name in enumerate(channels):
        ch = scenario.channels[name]
        if ch.kind not in ("paid_search", "display") or ch.pacing != "roi_target":
            continue
        if isinstance(ch, Display):
            imps = ch.impressions_per_hour * tr.shapes[name]
            kept = roi_kept(imps, ch.cpm / 1000, ch.ctr * value[cal.phase_of_tick, ci], ch.audience, ch.roi_target,
                            day_starts, ch.daily_budget, ch.total_budget, ch.carry_over, name, tr.events)
            tr.traffic[:, ci] = reached(imps * kept, ch.audience) * ch.ctr
            tr.media_spend[:, ci] = imps * kept * ch.cpm / 1000
        elif not ch.auctions:
            tr.traffic[:, ci] *= (value[:, ci] >= ch.roi_target * ch.cpc)[cal.phase_of_tick]


def reached(imps: np.ndarray, audience: float | None) -> np.ndarray:
    """(T,) people newly reached per tick by `imps` impressions (all of them without an audience):
    after I impressions, audience × (1 − exp(−I / audience)) people have been reached."""
    if audience is None:
        return imps
    total = audience * -np.expm1(-np.cumsum(imps) / audience)
    return np.diff(total, prepend=0.0)

"""The scenario schema: what a planner writes in a scenario YAML.

Every model forbids unknown fields, so a typo is an error (with a "did you mean"
hint added by the loader). Cross-field rules (phases inside the campaign, no
overlaps, phase names that exist) are checked here, once, when the scenario is
built; the engine never re-checks. A `Scenario` is immutable: change it with
`Scenario.with_overrides`.

Units: money in `meta.currency`; rates per hour unless a name says otherwise;
times are wall-clock times in `meta.timezone`.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, Union
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from simulator.naming import did_you_mean
from simulator.scenario.auction_schema import AdGroup
from simulator.scenario.basket_schema import check_baskets
from simulator.scenario.calibrate_schema import Calibrate, check_calibrate
from simulator.scenario.errors import LocatedError
from simulator.scenario.numbers import (
    Budget,
    Count,
    Discount,
    Elasticity,
    Exponent,
    Factor,
    Hours,
    Minutes,
    OpenShare,
    OrdersPerDay,
    People,
    PositiveCount,
    PositiveFactor,
    PositiveMoney,
    PositivePeople,
    PositiveUnitMoney,
    PositiveWeight,
    PositiveWholePeople,
    Prob,
    Replications,
    Seed,
    Share,
    Strict,
    TickMinutes,
    UnitMoney,
    UnitsPerOrder,
    Volume,
    bounded,
    Weight,
    When,
    WholePeople,
    check_timezone,
    wall_time_problem,
)
from simulator.scenario.optimize_schema import Optimize, check_optimize
from simulator.scenario.overrides import PathError, apply_overrides
from simulator.scenario.promotions_schema import (Baskets, Coupon, FlashSale, LocatedPromotionError,
                                                  PlatformReduction, Presale, StockDeduction,
                                                  check_promotions)
from simulator.scenario.rules_schema import Rule, check_rules
from simulator.scenario.uncertainty_schema import Uncertainty, check_uncertainty


# --------------------------------------------------------------------- meta
class Targets(Strict):
    """The plan's targets (目标), drawn in the report: `gmv` in `meta.currency`."""

    gmv: PositiveMoney | None = None


class Meta(Strict):
    """Campaign-wide settings.

    `start`/`end` are wall-clock times in `timezone` (an offset written in the
    value wins). The campaign is the half-open interval [start, end) cut into
    ticks of `tick_minutes`. `return_days`: a returned unit that can be sold again is back in
    the warehouse at the local midnight this many days after the day it was sold (default 7:
    an assumption, set from the store's return logs; the seven-day no-reason return right for
    online purchases, Consumer Rights Protection Law of the PRC art. 25, bounds most returns).
    """

    name: str
    timezone: str = "Asia/Shanghai"
    start: When
    end: When
    tick_minutes: TickMinutes = 1
    currency: str = "CNY"
    platform_fee_rate: Prob = 0.0
    shipping_cost_per_order: UnitMoney = 0.0
    return_cost_per_unit: UnitMoney = 0.0
    seed: Seed = 0
    replications: Replications = 10
    targets: Targets | None = None
    return_days: bounded(ge=1, le=365, unit="days", why="a year", whole=True) = 7

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, v: str) -> str:
        return check_timezone(v)

    @field_validator("tick_minutes")
    @classmethod
    def _tick_fits_hours(cls, v: int) -> int:
        if not (60 % v == 0 or v % 60 == 0):
            raise ValueError("tick_minutes must divide 60 or be a whole number of hours")
        return v

    @model_validator(mode="after")
    def _real_times(self) -> "Meta":
        for field in ("start", "end"):
            problem = wall_time_problem(getattr(self, field), self.timezone)
            if problem:
                raise ValueError(f"{field}: {problem}")
        return self

    @model_validator(mode="after")
    def _end_after_start(self) -> "Meta":
        span = self.minutes_from_start(self.end)
        if span <= 0:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        if span % self.tick_minutes:
            raise ValueError(
                f"the campaign ({span:g} minutes) is not a whole number of ticks "
                f"of {self.tick_minutes} minutes"
            )
        return self

    def local(self, t: dt.datetime) -> dt.datetime:
        """`t` as an aware datetime in the scenario's time zone."""
        tz = ZoneInfo(self.timezone)
        return t.replace(tzinfo=tz) if t.tzinfo is None else t.astimezone(tz)

    def minutes_from_start(self, t: dt.datetime) -> float:
        """Real minutes from `start` to `t`, counted on absolute instants (UTC): a day that
        gains or loses an hour to daylight saving counts 25 or 23 hours (Python subtracts two
        times of one zone on the wall clock, so both go through UTC)."""
        return (_utc(self.local(t)) - _utc(self.local(self.start))).total_seconds() / 60

    def at_minute(self, minutes: float) -> dt.datetime:
        """The local time `minutes` real minutes after `start`."""
        return (_utc(self.local(self.start)) + dt.timedelta(minutes=minutes)).astimezone(ZoneInfo(self.timezone))


def _utc(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.timezone.utc)


# ----------------------------------------------------------------- calendar
class PullForward(Strict):
    """Demand a phase pulls forward from the days after it (docs/model.md, "Pull-forward"):
    `share` of every unit sold in the phase is a unit its buyer would otherwise have bought in
    the `days` after the phase ends; those buyers do not come back then."""

    share: Share
    days: bounded(gt=0, le=365, unit="days", why="a year")


class Phase(Strict):
    """A named stretch of the campaign (预售, 预热, 爆发, 返场 ...).

    `kind: warmup` — visits add to cart instead of paying; carts pay in the
    next `sale` phase. `traffic` maps channel names (or `default`) to a
    multiplier of that channel's base volume; `intent` multiplies conversion.
    `promo` lists the SKUs on promotion (or `"*"` for all): their conversion is
    multiplied by their `promo_lift` (a warm-up phase uses its pay phase's list).
    `pull_forward` (optional): the phase's sales take demand from the days after it.
    """

    name: str
    start: When
    end: When
    kind: Literal["sale", "warmup"] = "sale"
    intent: Factor = 1.0
    traffic: dict[str, Factor] = Field(default_factory=dict)
    promo: list[str] = Field(default_factory=list)
    pull_forward: PullForward | None = None

    def on_promo(self, sku: str) -> bool:
        """Is `sku` on promotion in this phase?"""
        return "*" in self.promo or sku in self.promo


class Spike(Strict):
    """A launch moment: traffic × (1 + amplitude·exp(−Δt / decay_minutes)) after `at`."""

    at: When
    amplitude: Factor
    decay_minutes: Minutes
    channels: list[str] | None = None


INTRADAY_NAMES = ("taobao_2017", "flat")


class Calendar(Strict):
    """Phases, the shape of a day, and launch spikes.

    `intraday`: a named profile or 24 hourly weights (local hours 0–23,
    normalized to mean 1). Warm-up carts pay through at the next sale phase
    with probability `cart_pay_through`, spread over the first minutes of that
    phase with an exponential profile of mean `cart_pay_minutes`.
    """

    phases: list[Phase] = Field(default_factory=list)
    intraday: Literal["taobao_2017", "flat"] | list[Weight] = "taobao_2017"
    spikes: list[Spike] = Field(default_factory=list)
    cart_pay_through: Prob = 0.5
    cart_pay_minutes: Minutes = 30.0

    @field_validator("intraday")
    @classmethod
    def _24_hours(cls, v):
        if isinstance(v, list):
            if len(v) != 24:
                raise ValueError(f"expected 24 hourly weights, got {len(v)}")
            if sum(v) <= 0:
                raise ValueError("hourly weights must not all be zero")
        return v


# ----------------------------------------------------------------- channels
class ChannelBase(Strict):
    """Fields every traffic source shares.

    `quality` multiplies conversion of this channel's visitors; `segments`
    overrides the scenario's segment shares for this channel.
    """

    quality: Factor = 1.0
    segments: dict[str, Share] | None = None


class SalesBoost(Strict):
    """Organic feedback (platforms rank by sales velocity): at every local midnight the
    channel's traffic for the day is multiplied by (orders of the store in the 24 hours before
    / `baseline_orders_per_day`) ** `elasticity`, kept within [`floor`, `cap`]; the first day,
    with no 24 hours behind it, keeps 1. `elasticity: 0` switches it off."""

    baseline_orders_per_day: OrdersPerDay
    elasticity: Exponent = 0.3
    floor: PositiveFactor = 0.25
    cap: PositiveFactor = 4.0

    def multiplier(self, orders: float) -> float:
        if self.elasticity == 0:
            return 1.0
        return float(min(self.cap, max(self.floor, (max(orders, 0.0) / self.baseline_orders_per_day) ** self.elasticity)))


class OrganicSearch(ChannelBase):
    """Free search traffic (自然搜索): `visits_per_hour` at intraday weight 1; optionally
    lifted by recent sales (`sales_boost`)."""

    kind: Literal["organic_search"]
    visits_per_hour: Volume
    sales_boost: SalesBoost | None = None


class Recommendation(ChannelBase):
    """Free recommendation-feed traffic (猜你喜欢 ...); optionally lifted by recent sales."""

    kind: Literal["recommendation"]
    visits_per_hour: Volume
    sales_boost: SalesBoost | None = None


class BudgetMixin(Strict):
    """Media budgets: `daily_budget` resets at local midnight; `total_budget` caps the campaign.

    `pacing` spreads a budget over time (docs/pacing.md): `asap` spends as traffic comes until
    the budget is gone; `even` lets cumulative spend reach at most budget × (ticks so far /
    ticks of the day) — of the campaign for a total budget without a daily one; and
    `launch_weighted` the same in proportion to the channel's own expected traffic (intraday,
    phases and launch spikes), so launch moments get more. With `carry_over`, what a day leaves
    of its daily budget is added to the next day's. `roi_target` (with `roi_target: R`) spends
    as traffic comes but only while the marginal return holds: a click or impression is bought
    only if its expected GMV is at least R × its cost (docs/pacing.md).
    """

    daily_budget: Budget | None = None
    total_budget: Budget | None = None
    pacing: Literal["asap", "even", "launch_weighted", "roi_target"] = "asap"
    roi_target: PositiveFactor | None = None
    carry_over: bool = False

    @model_validator(mode="after")
    def _roi_target(self):
        if self.pacing == "roi_target" and self.roi_target is None:
            raise ValueError("pacing: roi_target needs `roi_target`: the least GMV per unit of spend "
                             "the next click or impression must still return")
        if self.roi_target is not None and self.pacing != "roi_target":
            raise ValueError(f"roi_target is set but pacing is {self.pacing!r}: set `pacing: roi_target`")
        return self


class PaidSearch(ChannelBase, BudgetMixin):
    """Search ads (直通车): either a simple cost per click — `clicks_per_hour` at `cpc` —
    or auctions: `ad_groups` bid in generalized second-price auctions with a reserve
    (`reserve_price`, money per click); a won auction shows the ad at a position and a click
    follows with `ctr_by_position` (its length is the number of ad slots). Budgets sit on the
    channel (shared by its ad groups) or on each group, not both; pacing and carry-over apply
    to every budget (docs/auctions.md).
    """

    kind: Literal["paid_search"]
    cpc: PositiveUnitMoney | None = None
    clicks_per_hour: Volume | None = None
    ad_groups: dict[str, AdGroup] | None = None
    ctr_by_position: list[Prob] = Field(default_factory=lambda: [0.05, 0.03, 0.02, 0.012], min_length=1, max_length=20)
    reserve_price: PositiveUnitMoney = 0.05

    @property
    def auctions(self) -> bool:
        return self.ad_groups is not None

    @model_validator(mode="after")
    def _one_way(self) -> "PaidSearch":
        if self.ad_groups is None:
            if self.cpc is None or self.clicks_per_hour is None:
                missing = "cpc" if self.cpc is None else "clicks_per_hour"
                raise ValueError(f"paid search needs `cpc` and `clicks_per_hour`, or `ad_groups` for auctions: "
                                 f"{missing} is missing")
            return self
        if self.cpc is not None or self.clicks_per_hour is not None:
            raise ValueError("paid search with `ad_groups` has no `cpc` or `clicks_per_hour`: the auctions set "
                             "prices and clicks")
        if not self.ad_groups:
            raise ValueError("ad_groups: at least one ad group is needed")
        own = [g for g, a in self.ad_groups.items() if a.has_budget]
        if own and (self.daily_budget is not None or self.total_budget is not None):
            raise ValueError(f"budgets sit on the channel or on its ad groups, not both: ad group {own[0]!r} has one "
                             f"and so does the channel")
        return self


class Display(ChannelBase, BudgetMixin):
    """Display/feed ads (钻展, 引力魔方) bought per mille.

    Without `audience`, every impression can bring a click: visits = impressions × `ctr`.
    With `audience` (people the placement can reach), reach saturates: after I impressions
    the campaign has reached audience × (1 − exp(−I / audience)) people, and visits =
    `ctr` × newly reached people — so more money buys less and less.
    """

    kind: Literal["display"]
    cpm: PositiveUnitMoney
    impressions_per_hour: Volume
    ctr: Prob
    audience: PositivePeople | None = None


class CrmPush(ChannelBase):
    """Messages to an owned audience at `send_times`; openers visit over `response_minutes`.

    Cost: `cost_per_message` × audience at each send (booked as fees).
    """

    kind: Literal["crm_push"]
    audience: WholePeople
    open_rate: Prob
    send_times: list[When]
    cost_per_message: UnitMoney = 0.0
    response_minutes: Minutes = 60.0


class LiveSession(Strict):
    """One live-stream session (直播): `viewers` people watch it in [start, end); a share
    `visit_rate` of them visit the store, spread over the session by the audience curve —
    `opening`: most come early, an exponential of mean `decay_minutes` from the start, cut at
    the end; `flat`: evenly. `fee` is the fixed fee of the slot (坑位费), booked at its start."""

    start: When
    end: When
    viewers: People
    visit_rate: Prob = 0.1
    fee: Budget = 0.0
    curve: Literal["opening", "flat"] = "opening"
    decay_minutes: Minutes = 30.0


class LiveStream(ChannelBase):
    """Live-stream sessions (直播带货) with a host: visits come only in `sessions`; the host
    takes `commission_rate` of the kept GMV it brings (commissions) besides each slot's fee.
    Launch spikes and phase traffic multipliers do not apply: a session's audience is its own."""

    kind: Literal["live_stream"]
    sessions: list[LiveSession] = Field(min_length=1)
    commission_rate: Prob = 0.0


class Affiliate(ChannelBase):
    """CPS affiliates (淘宝客): no upfront cost, `commission_rate` on attributed GMV."""

    kind: Literal["affiliate"]
    visits_per_hour: Volume
    commission_rate: Prob


Channel = Annotated[
    Union[OrganicSearch, Recommendation, PaidSearch, Display, CrmPush, LiveStream, Affiliate],
    Field(discriminator="kind"),
]
OWN_AUDIENCE = ("crm_push", "live_stream")   # kinds whose traffic is their own: no spikes, no phase multipliers


# --------------------------------------------------------------------- SKUs
class Reorder(Strict):
    """(s, Q) replenishment: when stock on hand plus on order falls to `point`,
    order `quantity`, which arrives `lead_time_hours` later."""

    point: Count
    quantity: PositiveCount
    lead_time_hours: Hours


class Inbound(Strict):
    """A scheduled inbound shipment of `quantity` units at `at`."""

    at: When
    quantity: PositiveCount


class Sku(Strict):
    """A product (SKU). `price` is the list (reference) price per unit.

    `discount` is a fraction off list price, either one number or a mapping of
    phase name (or `default`) to a fraction. Conversion of a visit that lands
    on this SKU = base_conversion × channel quality × phase intent × segment
    conversion × (effective price / price) ** (elasticity × price sensitivity),
    × `promo_lift` in phases that list the SKU under `promo`.
    A unit is returned with probability min(1, `return_rate` + `return_rate_per_discount` ×
    depth), depth = 1 − what the buyer paid per unit (after coupons, reductions and deposit
    expansion) / list price: deeper discounts bring more returns. A returned unit is refunded
    what its buyer paid for it; a share `resaleable_returns` of returned units goes back to
    stock (`meta.return_days` later), the rest is written off at `salvage_value`, which is
    also what a unit left at the end is worth (default: `unit_cost`).
    `warmup_buy_now`: the share of the SKU's buyers in a warm-up phase (预热) who pay at once, at
    that moment's price and coupons; the rest add to cart and pay in the next sale phase.
    `category`: SKUs of one category are chosen among by a logit on price (`Category`): the
    price term `(effective price / price) ** elasticity` becomes that SKU's share of the
    category's choice, so a deeper discount on one SKU draws buyers from its neighbours.
    `bought_with`: add-ons (搭配购买): SKU name → the probability that an order of this SKU
    also takes one unit of that SKU, each independently; the order's coupon threshold and
    cross-store reduction read the whole basket (docs/promotions.md, "Baskets of several SKUs").
    """

    name: str | None = None
    price: PositiveUnitMoney
    unit_cost: UnitMoney
    discount: Discount | dict[str, Discount] = 0.0
    base_conversion: Prob
    elasticity: Elasticity = -2.0
    attractiveness: PositiveWeight = 1.0
    units_per_order: UnitsPerOrder = 1.0
    stock: Count
    reorder: Reorder | None = None
    inbound: list[Inbound] = Field(default_factory=list)
    return_rate: Prob = 0.0
    return_rate_per_discount: Factor = 0.0
    resaleable_returns: Prob = 1.0
    salvage_value: UnitMoney | None = None
    promo_lift: Factor = 1.0
    warmup_buy_now: Prob = 0.0
    category: str | None = None
    bought_with: dict[str, Prob] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _salvage_not_above_cost(self) -> "Sku":
        if self.salvage_value is not None and self.salvage_value > self.unit_cost:
            raise ValueError(f"salvage_value: {self.salvage_value:g} is above unit_cost ({self.unit_cost:g}): a unit "
                             "left over would be worth more than it cost, so buying stock never to sell it would "
                             "make a profit (an optimizer would find it); expected at most unit_cost")
        return self

    def discount_in(self, phase: str | None) -> float:
        """The discount (fraction off list price) in `phase` (None: outside any phase)."""
        if isinstance(self.discount, float | int):
            return float(self.discount)
        if phase is not None and phase in self.discount:
            return self.discount[phase]
        return self.discount.get("default", 0.0)


class Segment(Strict):
    """A customer segment (新客, 老客, 会员): its share of visits and multipliers.

    `coupon_use` multiplies every coupon's claim rate; `claim_intent`: how much likelier a
    shopper who will buy is to hold a coupon — the odds that a buyer holds one, against the odds
    where claiming had nothing to do with buying (1: claims follow only the coupon's own pull on
    the price; docs/promotions.md, "Who claims"); `basket_units` multiplies the SKUs' extra units
    per order (units_per_order − 1). `customers`: how many distinct people the segment's visits
    come from (each visit is a uniform draw); unset, every visit is a new person, so
    per-customer coupon limits never bind.
    """

    share: Share
    conversion: Factor = 1.0
    price_sensitivity: Factor = 1.0
    coupon_use: Factor = 1.0
    claim_intent: bounded(ge=1, le=1e3, unit="an odds ratio", why="a thousandfold") = 1.0
    basket_units: Factor = 1.0
    customers: PositiveWholePeople | None = None


# ----------------------------------------------------------------- scenario
class Category(Strict):
    """A product category (品类) whose SKUs a shopper chooses among (docs/model.md, "Choice within a
    category"). `inside_share`: at list prices, the share of the category's shoppers who would
    pick one of its SKUs rather than none (the logit's outside option) — the share of a SKU's
    price-driven gain that comes from its neighbours: near 0, none (each SKU keeps its own
    elasticity); near 1, nearly all (a discount mostly moves buyers between the SKUs).
    `switch_share`: of the shoppers who find the SKU they chose out of stock (none on the shelf
    for them, and not oversold), the share who take another SKU of the category that is on
    sale and in stock, picked by the same logit; the rest are lost demand (0: none switch)."""

    inside_share: OpenShare = 0.5
    switch_share: Share = 0.0


class Scenario(Strict):
    """A whole campaign plan. Build with `load_scenario`; change with `with_overrides`."""

    meta: Meta
    calendar: Calendar = Field(default_factory=Calendar)
    channels: dict[str, Channel]
    skus: dict[str, Sku]
    categories: dict[str, Category] = Field(default_factory=dict)
    segments: dict[str, Segment] = Field(default_factory=lambda: {"all": Segment(share=1.0)})
    catalogue: str | None = Field(None, description="CSV file of SKUs, relative to the scenario file")
    optimize: Optimize | None = None
    calibrate: Calibrate | None = None
    uncertainty: Uncertainty | None = None
    rules: list[Rule] = Field(default_factory=list)
    baskets: Baskets = Field(default_factory=Baskets)
    coupons: dict[str, Coupon] = Field(default_factory=dict)
    platform_reduction: PlatformReduction | None = None
    flash_sales: dict[str, FlashSale] = Field(default_factory=dict)
    presales: dict[str, Presale] = Field(default_factory=dict)
    stock_deduction: StockDeduction = Field(default_factory=StockDeduction)

    @property
    def has_promotions(self) -> bool:
        """Does the plan use any promotion mechanic beyond SKU discounts and promo flags?"""
        return bool(self.coupons or self.platform_reduction or self.flash_sales or self.presales
                    or self.baskets.topup_probability or self.stock_deduction.mode == "payment"
                    or any(s.return_rate_per_discount for s in self.skus.values()))

    @model_validator(mode="after")
    def _wall_times(self) -> "Scenario":
        """Every time written without an offset is one instant in its zone: a daylight-saving
        change neither skips it nor repeats it (the history reader refuses them the same way)."""
        for path, t in _times(self, ""):
            zone = self.meta.timezone
            if path.startswith("calibrate.history.") and self.calibrate.history.timezone:
                zone = self.calibrate.history.timezone
            problem = wall_time_problem(t, zone)
            if problem:
                raise _located(path, problem)
        return self

    @model_validator(mode="after")
    def _cross_checks(self) -> "Scenario":
        m = self.meta
        start, end = m.local(m.start), m.local(m.end)
        if not self.channels:
            raise ValueError("channels: at least one channel is needed")
        if not self.skus:
            raise ValueError("skus: at least one SKU is needed")
        total = sum(s.share for s in self.segments.values())
        if abs(total - 1) > 1e-6:
            raise ValueError(f"segments: shares must add up to 1, they add up to {total:g}")

        phases = self.calendar.phases
        names = [p.name for p in phases]
        known = set(names)
        seen_names: set[str] = set()
        for i, p in enumerate(phases):
            loc = f"calendar.phases.{i}"
            ps, pe = m.local(p.start), m.local(p.end)
            for field, t in (("start", ps), ("end", pe)):
                if m.minutes_from_start(t) % m.tick_minutes:
                    raise _located(f"{loc}.{field}", f"phase {p.name!r} {field}s at {t:%Y-%m-%d %H:%M}, "
                                   f"off the grid of {m.tick_minutes}-minute ticks from {start:%Y-%m-%d %H:%M}")
            if pe <= ps:
                raise _located(f"{loc}.end", f"phase {p.name!r} ends ({p.end}) before it starts ({p.start})")
            if ps < start or pe > end:
                raise _located(loc, f"phase {p.name!r} ({p.start} – {p.end}) lies outside the campaign ({m.start} – {m.end})")
            if p.name in seen_names:
                raise _located(f"{loc}.name", f"phase name {p.name!r} is used twice")
            seen_names.add(p.name)
            for ch in p.traffic:
                if ch != "default" and ch not in self.channels:
                    raise _located(f"{loc}.traffic.{ch}", f"unknown channel {ch!r}{did_you_mean(ch, [*self.channels, 'default'])}")
        order = sorted(range(len(phases)), key=lambda i: m.local(phases[i].start))
        ordered = [phases[i] for i in order]
        for (ia, a), (ib, b) in zip(zip(order, ordered), zip(order[1:], ordered[1:])):
            if m.local(b.start) < m.local(a.end):
                raise _located(f"calendar.phases.{ib}.start", f"phase {b.name!r} starts ({b.start}) before phase {a.name!r} ends ({a.end}): phases overlap")
        last_sale = max((j for j, p in enumerate(ordered) if p.kind == "sale"), default=-1)
        for j, (i, p) in enumerate(zip(order, ordered)):
            if p.kind == "warmup" and j > last_sale:
                raise _located(f"calendar.phases.{i}.kind", f"warm-up phase {p.name!r} has no later sale phase for its carts to pay in")

        for i, s in enumerate(self.calendar.spikes):
            if not (start <= m.local(s.at) < end):
                raise _located(f"calendar.spikes.{i}.at", f"spike at {s.at} lies outside the campaign")
            for ch in s.channels or []:
                if ch not in self.channels:
                    raise _located(f"calendar.spikes.{i}.channels", f"unknown channel {ch!r}{did_you_mean(ch, self.channels)}")

        for name, ch in self.channels.items():
            if ch.segments is not None:
                for seg in ch.segments:
                    if seg not in self.segments:
                        raise _located(f"channels.{name}.segments.{seg}", f"unknown segment {seg!r}{did_you_mean(seg, self.segments)}")
                tot = sum(ch.segments.values())
                if abs(tot - 1) > 1e-6:
                    raise _located(f"channels.{name}.segments", f"segment shares must add up to 1, they add up to {tot:g}")
            if isinstance(ch, PaidSearch) and ch.ad_groups:
                for g, grp in ch.ad_groups.items():
                    for ph in grp.rivals_by_phase:
                        if ph not in known:
                            raise _located(f"channels.{name}.ad_groups.{g}.rivals_by_phase.{ph}",
                                           f"unknown phase {ph!r}{did_you_mean(ph, names)}")
            if isinstance(ch, CrmPush):
                for j, t in enumerate(ch.send_times):
                    if not (start <= m.local(t) < end):
                        raise _located(f"channels.{name}.send_times.{j}", f"send time {t} lies outside the campaign")
            if isinstance(ch, LiveStream):
                for j, ses in enumerate(ch.sessions):
                    loc = f"channels.{name}.sessions.{j}"
                    ss, se = m.local(ses.start), m.local(ses.end)
                    if se <= ss:
                        raise _located(f"{loc}.end", f"the session ends ({ses.end}) before it starts ({ses.start})")
                    if ss < start or se > end:
                        raise _located(loc, f"the session ({ses.start} – {ses.end}) lies outside the campaign "
                                       f"({m.start} – {m.end})")
                    for field, t in (("start", ss), ("end", se)):
                        if m.minutes_from_start(t) % m.tick_minutes:
                            raise _located(f"{loc}.{field}", f"the session {field}s at {t:%Y-%m-%d %H:%M}, off the "
                                           f"grid of {m.tick_minutes}-minute ticks")

        for i, p in enumerate(phases):
            for j, sid in enumerate(p.promo):
                if sid != "*" and sid not in self.skus:
                    raise _located(f"calendar.phases.{i}.promo.{j}", f"unknown SKU {sid!r}{did_you_mean(sid, self.skus)}")
        for sid, sku in self.skus.items():
            if isinstance(sku.discount, dict):
                for ph in sku.discount:
                    if ph != "default" and ph not in known:
                        raise _located(f"skus.{sid}.discount.{ph}", f"unknown phase {ph!r}{did_you_mean(ph, [*names, 'default'])}")
            for j, sh in enumerate(sku.inbound):
                if not (start <= m.local(sh.at) < end):
                    raise _located(f"skus.{sid}.inbound.{j}.at", f"inbound shipment at {sh.at} lies outside the campaign")
        return self

    @model_validator(mode="after")
    def _promotion_checks(self) -> "Scenario":
        try:
            check_promotions(self)
            check_baskets(self)               # skus.*.bought_with: what an add-on may be
        except LocatedPromotionError as e:
            raise _located(e.path, e.message) from None
        return self

    @model_validator(mode="after")
    def _block_checks(self) -> "Scenario":
        """The `optimize:`, `calibrate:` and `uncertainty:` blocks, checked against the rest of the scenario."""
        for block, check in ((self.optimize, check_optimize), (self.calibrate, check_calibrate),
                             (self.uncertainty, check_uncertainty)):
            if block is not None:
                try:
                    check(self)
                except PathError as e:   # OptimizeError, CalibrateError, UncertaintyError
                    err = _located(e.path, e.message)
                    err.loc = e.loc  # a variable's or parameter's dotted path is one key
                    raise err from None
        return self

    @model_validator(mode="after")
    def _category_checks(self) -> "Scenario":
        """A SKU's category must be listed under `categories` when that block is written (a typo
        would otherwise make a category of its own); without the block every name is one."""
        if self.categories:
            for sid, sku in self.skus.items():
                if sku.category is not None and sku.category not in self.categories:
                    raise _located(f"skus.{sid}.category", f"unknown category {sku.category!r}"
                                   f"{did_you_mean(sku.category, self.categories)}; categories are "
                                   f"{', '.join(self.categories)}")
        return self

    @model_validator(mode="after")
    def _rules_checks(self) -> "Scenario":
        check_rules(self)  # mid-campaign rules (追加预算): parsed and type-checked here
        return self

    def with_overrides(self, overrides: dict[str, object], where: str = "<overrides>") -> "Scenario":
        """A new validated scenario with each dotted path set (`skus.*.discount` sets every match);
        `where` names the scenario in errors the overrides cause elsewhere."""
        return apply_overrides(self, overrides, where)


def _times(obj, path: str):
    """(dotted path, time) of every date-time in a model, its lists and mappings."""
    if isinstance(obj, dt.datetime):
        yield path, obj
    elif isinstance(obj, Strict):
        for name in type(obj).model_fields:
            yield from _times(getattr(obj, name), f"{path}.{name}" if path else name)
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            yield from _times(v, f"{path}.{i}")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _times(v, f"{path}.{k}")


def _located(path: str, message: str) -> LocatedError:
    return LocatedError(path, message)

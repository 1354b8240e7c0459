"""The promotion mechanics a planner writes in a scenario (docs/promotions.md has the semantics).

- `baskets`: threshold top-up (凑单);
- `coupons`: store coupons (店铺优惠券) with a first-come-first-served pool;
- `platform_reduction`: the platform's cross-store full reduction (跨店每满减);
- `flash_sales`: a SKU at a special price for a window with a limited quantity (秒杀);
- `presales`: deposits that count more at the balance payment (定金膨胀).

Times are wall-clock times in `meta.timezone`, on the tick grid. Money in `meta.currency`.
Cross-field checks (windows inside the campaign, SKUs that exist) are in `check_promotions`,
called once by the scenario's validator.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, model_validator

from simulator.naming import did_you_mean
from simulator.scenario.numbers import (
    Factor,
    Minutes,
    NonNegMinutes,
    PositiveCount,
    PositiveUnitMoney,
    Prob,
    When,
    bounded,
)
from simulator.scenario.numbers import Strict as _Strict


class Baskets(_Strict):
    """Threshold top-up (凑单): an order whose basket lies below a threshold it could use by at
    most `topup_reach` × the threshold tops up to it with probability `topup_probability` —
    with the cheapest of its SKU's add-ons (`bought_with`) that closes the gap and counts toward
    the threshold, else with units of its SKU."""

    topup_reach: bounded(ge=0, lt=1, unit="a share of the threshold") = 0.2
    topup_probability: Prob = 0.0


class _ForSkus(_Strict):
    """A promotion on a list of `skus` (`"*"`: all of them)."""

    skus: list[str] = Field(default_factory=lambda: ["*"])

    def applies_to(self, sku: str) -> bool:
        return "*" in self.skus or sku in self.skus


class Coupon(_ForSkus):
    """A store coupon (店铺优惠券): `amount` off a basket of at least `threshold` (after the
    SKU discount).

    While the pool of `quantity` coupons lasts, a visit to one of `skus` (`"*"`: all) in the
    claim window [claim_from, claim_to) claims one with probability `claim_rate` (× the
    segment's `coupon_use`), if its customer holds fewer than `per_customer`; the pool empties
    at an exact tick, first come, first served. A claimed coupon is redeemed by the visit's
    order if it is paid in the validity window [valid_from, valid_to) and its basket reaches
    the threshold. Unset windows default to the whole campaign (claim) and from the claim
    window's start to the campaign's end (validity).

    `stays_in_wallet`: a claimed coupon that its claimer does not redeem stays with that
    customer (卡券包) until `valid_to`, and a later visit of the customer to a SKU it applies to
    uses it (needs `customers` on a segment: without a finite population no visitor returns).
    Default false: a coupon serves the order of the visit that claimed it, or its cart.
    """

    threshold: PositiveUnitMoney
    amount: PositiveUnitMoney
    quantity: PositiveCount
    per_customer: PositiveCount = 1
    claim_rate: Prob
    claim_from: When | None = None
    claim_to: When | None = None
    valid_from: When | None = None
    valid_to: When | None = None
    stays_in_wallet: bool = False

    @model_validator(mode="after")
    def _amount_below_threshold(self) -> "Coupon":
        if self.amount >= self.threshold:
            raise ValueError(f"amount ({self.amount:g}) must be less than threshold ({self.threshold:g}): "
                             "a coupon takes part of a basket off, not all of it")
        return self


class PlatformReduction(_ForSkus):
    """The platform's cross-store full reduction (跨店每满减): `off` for every full `every`
    of a basket (after the SKU discount) of the listed `skus`, in [start, end) (unset: the
    whole campaign). `platform_share` of each reduction is funded by the platform
    (`platform_subsidy`); the store pays the rest."""

    every: PositiveUnitMoney
    off: PositiveUnitMoney
    platform_share: Prob = 0.0
    start: When | None = None
    end: When | None = None

    @model_validator(mode="after")
    def _off_below_every(self) -> "PlatformReduction":
        if self.off >= self.every:
            raise ValueError(f"off ({self.off:g}) must be less than every ({self.every:g}): the reduction "
                             "takes part of each full `every` off, not all of it")
        return self


class Surge(_Strict):
    """Extra visits to the flash SKU at the sale's start: × (1 + amplitude·exp(−Δt / decay_minutes))."""

    amplitude: Factor
    decay_minutes: Minutes


class FlashSale(_Strict):
    """A flash sale (秒杀): `sku` at `price` in [start, end), at most `quantity` units.

    At the start, min(quantity, stock on hand) is set aside for the sale; the rest of the
    stock is held back until the sale ends or sells out. After the sell-out tick the SKU's
    visitors are lost until the window closes (`after_sellout: lost`) or buy at the regular
    price from the held-back stock (`after_sellout: regular`).
    """

    sku: str
    price: PositiveUnitMoney
    start: When
    end: When
    quantity: PositiveCount
    surge: Surge | None = None
    after_sellout: Literal["lost", "regular"] = "lost"


class Presale(_Strict):
    """Pre-sale with deposit expansion (定金膨胀) for `skus`.

    In [deposit_from, deposit_to) a buyer of one of them pays `deposit` per unit, which
    counts as `deposit` × `multiplier` against the price at `balance_from`; the units are
    reserved from stock. From `balance_from` each deposit order pays its balance with
    probability `pay_through`, after an exponential delay of mean `pay_minutes` (cut at
    `balance_to`); the others forfeit their deposit at `balance_to` and their units return
    to stock.
    """

    skus: list[str] = Field(min_length=1)
    deposit: PositiveUnitMoney
    multiplier: Factor = 1.0
    deposit_from: When
    deposit_to: When
    balance_from: When
    balance_to: When
    pay_through: Prob = 0.85
    pay_minutes: Minutes = 120.0

    @model_validator(mode="after")
    def _multiplier_at_least_one(self) -> "Presale":
        if self.multiplier < 1:
            raise ValueError(f"multiplier ({self.multiplier:g}) must be at least 1: a deposit "
                             "counts as deposit × multiplier (定金膨胀), never less than itself")
        return self


class StockDeduction(_Strict):
    """When stock is taken: at order (拍下减库存) or at payment (付款减库存).

    In `payment` mode orders that are placed but not yet paid hold no stock, so the shop
    keeps taking orders for `payment_minutes` after the last unit is paid; those orders
    and the surplus of the sell-out tick are oversold and cancelled.
    """

    mode: Literal["order", "payment"] = "order"
    payment_minutes: NonNegMinutes = 5.0


class LocatedPromotionError(ValueError):
    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path, self.message = path, message


def _when(t: dt.datetime) -> str:
    """A time as a planner writes it: `2026-11-11 00:00` (seconds and offset only if given)."""
    text = t.strftime("%Y-%m-%d %H:%M:%S" if t.second else "%Y-%m-%d %H:%M")
    return f"{text}{t.strftime(' %z')}" if t.tzinfo else text


def check_promotions(sc) -> None:
    """Cross-field checks of the promotion blocks; raises `LocatedPromotionError`.

    Messages name the promotion and say what was expected; the path is the field to change."""
    m = sc.meta
    start, end = m.local(m.start), m.local(m.end)
    campaign = f"the campaign ({_when(m.start)} – {_when(m.end)})"
    skus = list(sc.skus)

    def inside(path: str, subject: str, t, *, closing: bool = False):
        """`subject` ("flash sale 'x' starts") at `t` lies in the campaign, on the tick grid;
        a closing time may equal the campaign's end."""
        if t is None:
            return
        lt = m.local(t)
        if lt < start:
            raise LocatedPromotionError(path, f"{subject} at {_when(t)}, before the campaign starts "
                                        f"({_when(m.start)}); promotion windows lie inside {campaign}")
        if lt > end or (lt == end and not closing):
            when = "after" if lt > end else "when"
            raise LocatedPromotionError(path, f"{subject} at {_when(t)}, {when} the campaign ends "
                                        f"({_when(m.end)}); promotion windows lie inside {campaign}")
        minutes = m.minutes_from_start(lt)
        if minutes % m.tick_minutes:
            lo = m.at_minute(minutes // m.tick_minutes * m.tick_minutes)
            hi = m.at_minute(minutes // m.tick_minutes * m.tick_minutes + m.tick_minutes)
            raise LocatedPromotionError(path, f"{subject} at {_when(t)}, off the grid of {m.tick_minutes}-minute "
                                        f"ticks from {_when(m.start)}; the nearest ticks are "
                                        f"{lo:%Y-%m-%d %H:%M} and {hi:%Y-%m-%d %H:%M}")

    def ordered(path: str, a, b, a_name: str, b_name: str, what: str):
        if a is not None and b is not None and m.local(b) <= m.local(a):
            how = "is empty" if m.local(b) == m.local(a) else "ends before it starts"
            raise LocatedPromotionError(path, f"{b_name} ({_when(b)}) must be after {a_name} ({_when(a)}): "
                                        f"{what} {how}")

    def known(path: str, names: list[str]):
        for j, sid in enumerate(names):
            if sid != "*" and sid not in sc.skus:
                hint = did_you_mean(sid, skus) or f"; the SKUs are {', '.join(map(repr, skus))}"
                raise LocatedPromotionError(f"{path}.{j}", f"unknown SKU {sid!r}{hint}")

    for name, c in sc.coupons.items():
        p, of = f"coupons.{name}", f"of coupon {name!r}"
        inside(f"{p}.claim_from", f"the claim window {of} opens", c.claim_from)
        inside(f"{p}.valid_from", f"the validity window {of} opens", c.valid_from)
        inside(f"{p}.claim_to", f"the claim window {of} closes", c.claim_to, closing=True)
        inside(f"{p}.valid_to", f"the validity window {of} closes", c.valid_to, closing=True)
        ordered(f"{p}.claim_to", c.claim_from, c.claim_to, "claim_from", "claim_to", f"the claim window {of}")
        ordered(f"{p}.valid_to", c.valid_from, c.valid_to, "valid_from", "valid_to", f"the validity window {of}")
        known(f"{p}.skus", c.skus)
        if c.stays_in_wallet and all(seg.customers is None for seg in sc.segments.values()):
            raise LocatedPromotionError(f"{p}.stays_in_wallet", f"coupon {name!r} stays in the wallet, but no segment "
                                        "has `customers`: without a finite population no visitor comes back to use "
                                        "it; give a segment `customers` or drop `stays_in_wallet`")
    r = sc.platform_reduction
    if r is not None:
        inside("platform_reduction.start", "the platform reduction starts", r.start)
        inside("platform_reduction.end", "the platform reduction ends", r.end, closing=True)
        ordered("platform_reduction.end", r.start, r.end, "start", "end", "the platform reduction")
        known("platform_reduction.skus", r.skus)
    windows: dict[str, list] = {}
    for name, f in sc.flash_sales.items():
        p = f"flash_sales.{name}"
        if f.sku not in sc.skus:
            hint = did_you_mean(f.sku, skus) or f"; the SKUs are {', '.join(map(repr, skus))}"
            raise LocatedPromotionError(f"{p}.sku", f"unknown SKU {f.sku!r}{hint}")
        inside(f"{p}.start", f"flash sale {name!r} starts", f.start)
        inside(f"{p}.end", f"flash sale {name!r} ends", f.end, closing=True)
        ordered(f"{p}.end", f.start, f.end, "start", "end", f"flash sale {name!r}")
        fs, fe = m.local(f.start), m.local(f.end)
        for other, (a, b) in windows.get(f.sku, []):
            if fs < b and a < fe:
                field = "start" if fs >= a else "end"   # the end of the sale that runs into the other
                raise LocatedPromotionError(
                    f"{p}.{field}", f"flash sale {name!r} ({_when(f.start)} – {_when(f.end)}) overlaps flash sale "
                    f"{other!r} ({a:%Y-%m-%d %H:%M} – {b:%Y-%m-%d %H:%M}) of the same SKU {f.sku!r}; "
                    "a SKU has one flash sale at a time")
        windows.setdefault(f.sku, []).append((name, (fs, fe)))
    in_presale: dict[str, str] = {}
    for name, ps in sc.presales.items():
        p, of = f"presales.{name}", f"of pre-sale {name!r}"
        known(f"{p}.skus", ps.skus)
        if "*" in ps.skus:
            raise LocatedPromotionError(f"{p}.skus.{ps.skus.index('*')}", "'*' is not allowed in a pre-sale: "
                                        f"list its SKUs by name (one of {', '.join(map(repr, skus))})")
        inside(f"{p}.deposit_from", f"the deposit window {of} opens", ps.deposit_from)
        inside(f"{p}.balance_from", f"the balance window {of} opens", ps.balance_from)
        inside(f"{p}.deposit_to", f"the deposit window {of} closes", ps.deposit_to, closing=True)
        inside(f"{p}.balance_to", f"the balance window {of} closes", ps.balance_to, closing=True)
        ordered(f"{p}.deposit_to", ps.deposit_from, ps.deposit_to, "deposit_from", "deposit_to", f"the deposit window {of}")
        ordered(f"{p}.balance_to", ps.balance_from, ps.balance_to, "balance_from", "balance_to", f"the balance window {of}")
        if m.local(ps.balance_from) < m.local(ps.deposit_to):
            raise LocatedPromotionError(f"{p}.balance_from", f"balance_from ({_when(ps.balance_from)}) must not be "
                                        f"before deposit_to ({_when(ps.deposit_to)}): balance payments open once "
                                        "deposits have closed")
        for j, sid in enumerate(ps.skus):
            if sid in in_presale:
                raise LocatedPromotionError(f"{p}.skus.{j}", f"SKU {sid!r} is already in pre-sale {in_presale[sid]!r}; "
                                            "a SKU can be in one pre-sale only")
            in_presale[sid] = name
            price = sc.skus[sid].price
            if ps.deposit >= price:
                raise LocatedPromotionError(f"{p}.deposit", f"deposit ({ps.deposit:g}) must be below the list price "
                                            f"of {sid!r} ({price:g}): a deposit is part of the price")
            if ps.deposit * ps.multiplier >= price:
                raise LocatedPromotionError(f"{p}.multiplier", f"deposit × multiplier ({ps.deposit:g} × "
                                            f"{ps.multiplier:g} = {ps.deposit * ps.multiplier:g}) must be below the "
                                            f"list price of {sid!r} ({price:g}): the expanded deposit counts "
                                            "against the price, leaving a balance to pay")
    for name, f in sc.flash_sales.items():
        if f.sku in in_presale:
            raise LocatedPromotionError(f"flash_sales.{name}.sku", f"SKU {f.sku!r} is in pre-sale "
                                        f"{in_presale[f.sku]!r}; a flash sale needs a SKU that is not in a pre-sale")

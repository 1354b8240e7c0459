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
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from simulator.scenario.naming import did_you_mean

NonNeg = Annotated[float, Field(ge=0)]
Prob = Annotated[float, Field(ge=0, le=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Baskets(_Strict):
    """Threshold top-up (凑单): an order whose basket lies below a threshold it could use by at
    most `topup_reach` × the threshold adds units of its SKU to reach it, with probability
    `topup_probability`."""

    topup_reach: Annotated[float, Field(ge=0, lt=1)] = 0.2
    topup_probability: Prob = 0.0


class Coupon(_Strict):
    """A store coupon (店铺优惠券): `amount` off a basket of at least `threshold` (after the
    SKU discount).

    While the pool of `quantity` coupons lasts, a visit to one of `skus` (`"*"`: all) in the
    claim window [claim_from, claim_to) claims one with probability `claim_rate` (× the
    segment's `coupon_use`), if its customer holds fewer than `per_customer`; the pool empties
    at an exact tick, first come, first served. A claimed coupon is redeemed by the visit's
    order if it is paid in the validity window [valid_from, valid_to) and its basket reaches
    the threshold. Unset windows default to the whole campaign (claim) and from the claim
    window's start to the campaign's end (validity).
    """

    threshold: float = Field(gt=0)
    amount: float = Field(gt=0)
    quantity: int = Field(gt=0)
    per_customer: int = Field(1, gt=0)
    claim_rate: Prob
    claim_from: dt.datetime | None = None
    claim_to: dt.datetime | None = None
    valid_from: dt.datetime | None = None
    valid_to: dt.datetime | None = None
    skus: list[str] = Field(default_factory=lambda: ["*"])

    @model_validator(mode="after")
    def _amount_below_threshold(self) -> "Coupon":
        if self.amount >= self.threshold:
            raise ValueError(f"amount ({self.amount:g}) must be less than threshold ({self.threshold:g}): "
                             "a coupon takes part of a basket off, not all of it")
        return self

    def applies_to(self, sku: str) -> bool:
        return "*" in self.skus or sku in self.skus


class PlatformReduction(_Strict):
    """The platform's cross-store full reduction (跨店每满减): `off` for every full `every`
    of a basket (after the SKU discount) of the listed `skus`, in [start, end) (unset: the
    whole campaign). `platform_share` of each reduction is funded by the platform
    (`platform_subsidy`); the store pays the rest."""

    every: float = Field(gt=0)
    off: float = Field(gt=0)
    platform_share: Prob = 0.0
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    skus: list[str] = Field(default_factory=lambda: ["*"])

    @model_validator(mode="after")
    def _off_below_every(self) -> "PlatformReduction":
        if self.off >= self.every:
            raise ValueError(f"off ({self.off:g}) must be less than every ({self.every:g})")
        return self

    def applies_to(self, sku: str) -> bool:
        return "*" in self.skus or sku in self.skus


class Surge(_Strict):
    """Extra visits to the flash SKU at the sale's start: × (1 + amplitude·exp(−Δt / decay_minutes))."""

    amplitude: NonNeg
    decay_minutes: float = Field(gt=0)


class FlashSale(_Strict):
    """A flash sale (秒杀): `sku` at `price` in [start, end), at most `quantity` units.

    At the start, min(quantity, stock on hand) is set aside for the sale; the rest of the
    stock is held back until the sale ends or sells out. After the sell-out tick the SKU's
    visitors are lost until the window closes (`after_sellout: lost`) or buy at the regular
    price from the held-back stock (`after_sellout: regular`).
    """

    sku: str
    price: float = Field(gt=0)
    start: dt.datetime
    end: dt.datetime
    quantity: int = Field(gt=0)
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
    deposit: float = Field(gt=0)
    multiplier: float = 1.0
    deposit_from: dt.datetime
    deposit_to: dt.datetime
    balance_from: dt.datetime
    balance_to: dt.datetime
    pay_through: Prob = 0.85
    pay_minutes: float = Field(120.0, gt=0)

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
    payment_minutes: NonNeg = 5.0


class LocatedPromotionError(ValueError):
    def __init__(self, path: str, message: str):
        super().__init__(message)
        self.path, self.message = path, message


def check_promotions(sc) -> None:
    """Cross-field checks of the promotion blocks; raises `LocatedPromotionError`."""
    m = sc.meta
    start, end = m.local(m.start), m.local(m.end)
    skus = list(sc.skus)

    def inside(path: str, what: str, t, *, closing: bool = False):
        if t is None:
            return
        lt = m.local(t)
        ok = start <= lt <= end if closing else start <= lt < end
        if not ok:
            raise LocatedPromotionError(path, f"{what} {t} lies outside the campaign ({m.start} – {m.end})")
        if ((lt - start).total_seconds() / 60) % m.tick_minutes:
            raise LocatedPromotionError(path, f"{what} {t} is off the grid of {m.tick_minutes}-minute ticks")

    def ordered(path: str, a, b, what: str):
        if a is not None and b is not None and m.local(b) <= m.local(a):
            raise LocatedPromotionError(path, f"{what} ends ({b}) before it starts ({a})")

    def known(path: str, names: list[str]):
        for j, sid in enumerate(names):
            if sid != "*" and sid not in sc.skus:
                raise LocatedPromotionError(f"{path}.{j}", f"unknown SKU {sid!r}{did_you_mean(sid, skus)}")

    for name, c in sc.coupons.items():
        p = f"coupons.{name}"
        for f in ("claim_from", "valid_from"):
            inside(f"{p}.{f}", f"{f.replace('_', ' ')}", getattr(c, f))
        for f in ("claim_to", "valid_to"):
            inside(f"{p}.{f}", f"{f.replace('_', ' ')}", getattr(c, f), closing=True)
        ordered(f"{p}.claim_to", c.claim_from, c.claim_to, "the claim window")
        ordered(f"{p}.valid_to", c.valid_from, c.valid_to, "the validity window")
        known(f"{p}.skus", c.skus)
    r = sc.platform_reduction
    if r is not None:
        inside("platform_reduction.start", "start", r.start)
        inside("platform_reduction.end", "end", r.end, closing=True)
        ordered("platform_reduction.end", r.start, r.end, "the reduction")
        known("platform_reduction.skus", r.skus)
    windows: dict[str, list] = {}
    for name, f in sc.flash_sales.items():
        p = f"flash_sales.{name}"
        if f.sku not in sc.skus:
            raise LocatedPromotionError(f"{p}.sku", f"unknown SKU {f.sku!r}{did_you_mean(f.sku, skus)}")
        inside(f"{p}.start", "flash sale start", f.start)
        inside(f"{p}.end", "flash sale end", f.end, closing=True)
        ordered(f"{p}.end", f.start, f.end, "the flash sale")
        for other, (a, b) in windows.get(f.sku, []):
            if m.local(f.start) < b and a < m.local(f.end):
                raise LocatedPromotionError(f"{p}.start", f"flash sale {name!r} overlaps flash sale {other!r} of the same SKU")
        windows.setdefault(f.sku, []).append((name, (m.local(f.start), m.local(f.end))))
    in_presale: dict[str, str] = {}
    for name, ps in sc.presales.items():
        p = f"presales.{name}"
        known(f"{p}.skus", ps.skus)
        if "*" in ps.skus:
            raise LocatedPromotionError(f"{p}.skus", "list the pre-sale SKUs by name ('*' is not allowed here)")
        for f in ("deposit_from", "balance_from"):
            inside(f"{p}.{f}", f.replace("_", " "), getattr(ps, f))
        for f in ("deposit_to", "balance_to"):
            inside(f"{p}.{f}", f.replace("_", " "), getattr(ps, f), closing=True)
        ordered(f"{p}.deposit_to", ps.deposit_from, ps.deposit_to, "the deposit window")
        ordered(f"{p}.balance_to", ps.balance_from, ps.balance_to, "the balance window")
        if m.local(ps.balance_from) < m.local(ps.deposit_to):
            raise LocatedPromotionError(f"{p}.balance_from", f"balance payments open ({ps.balance_from}) "
                                        f"before deposits close ({ps.deposit_to})")
        for j, sid in enumerate(ps.skus):
            if sid in in_presale:
                raise LocatedPromotionError(f"{p}.skus.{j}", f"SKU {sid!r} is already in pre-sale {in_presale[sid]!r}")
            in_presale[sid] = name
            if ps.deposit >= sc.skus[sid].price:
                raise LocatedPromotionError(f"{p}.deposit", f"deposit ({ps.deposit:g}) must be below the price of "
                                            f"{sid!r} ({sc.skus[sid].price:g})")
            if ps.deposit * ps.multiplier >= sc.skus[sid].price:
                raise LocatedPromotionError(f"{p}.multiplier", f"deposit × multiplier ({ps.deposit * ps.multiplier:g}) "
                                            f"must be below the price of {sid!r} ({sc.skus[sid].price:g})")
    for name, f in sc.flash_sales.items():
        if f.sku in in_presale:
            raise LocatedPromotionError(f"flash_sales.{name}.sku", f"SKU {f.sku!r} is in pre-sale "
                                        f"{in_presale[f.sku]!r}; a flash sale needs an ordinary SKU")

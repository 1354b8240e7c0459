"""Checks of several-SKU baskets (`skus.<k>.bought_with`, docs/promotions.md "Baskets of
several SKUs"): what an add-on may be, with a located message for each refusal."""

from __future__ import annotations

from simulator.naming import did_you_mean
from simulator.scenario.promotions_schema import LocatedPromotionError

MAX_ADDONS = 8          # add-ons per SKU: an order's combinations are split class row by class row


def check_baskets(sc) -> None:
    """Every `bought_with` names another SKU; at most MAX_ADDONS per SKU; neither side of a pair
    is in a pre-sale (a deposit order holds one SKU: its balance is paid alone), an add-on is
    not a flash-sale SKU (its allotment's sell-out moves the price mid-stretch), and stock is
    taken at order (payment mode's oversold orders are cancelled whole, a basket's items apart).
    Raises `LocatedPromotionError` at the field to change."""
    skus = list(sc.skus)
    presold = {k for p in sc.presales.values() for k in (skus if "*" in p.skus else p.skus)}
    flash = {f.sku: name for name, f in sc.flash_sales.items()}
    for sid, sku in sc.skus.items():
        if not sku.bought_with:
            continue
        path = f"skus.{sid}.bought_with"
        if len(sku.bought_with) > MAX_ADDONS:
            raise LocatedPromotionError(path, f"SKU {sid!r} lists {len(sku.bought_with)} add-ons; at most "
                                        f"{MAX_ADDONS} (keep the ones with the largest rates)")
        if sc.stock_deduction.mode == "payment":
            raise LocatedPromotionError(path, "add-ons need stock taken at order (stock_deduction.mode: order): "
                                        "in payment mode an oversold order is cancelled whole, and a basket's "
                                        "items meet the shelf one by one")
        if sid in presold:
            raise LocatedPromotionError(path, f"SKU {sid!r} is in a pre-sale: a deposit order holds one SKU and "
                                        "pays its balance alone; drop its add-ons or the pre-sale")
        for a in sku.bought_with:
            at = f"{path}.{a}"
            if a not in sc.skus:
                hint = did_you_mean(a, skus) or f"; the SKUs are {', '.join(map(repr, skus))}"
                raise LocatedPromotionError(at, f"unknown SKU {a!r}{hint}")
            if a == sid:
                raise LocatedPromotionError(at, f"SKU {sid!r} lists itself as an add-on; more units of one SKU "
                                            "are `units_per_order`")
            if a in presold:
                raise LocatedPromotionError(at, f"add-on {a!r} is in a pre-sale: its deposit orders hold one SKU")
            if a in flash:
                raise LocatedPromotionError(at, f"add-on {a!r} is sold in flash sale {flash[a]!r}: an add-on is "
                                            "taken from the regular shelf; a flash SKU may have add-ons, not be one")

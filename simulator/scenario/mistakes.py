"""Warnings for likely planner mistakes: a valid plan that probably does not say what its planner
meant. Each warning is an `Issue` (dotted path of the field to look at, and a message saying what
looks wrong and what was probably meant); `loader.place` gives it its file and line.

Checked (docs/explain.md, "Warnings"):
- a discount written as 折 (0.75 for 7.5折, i.e. 25 % off): a discount above 0.6 whose price
  falls below unit cost;
- a price below unit cost: a list price, or the price after a discount (flash prices are not
  checked: a 秒杀 below cost is a loss leader by design);
- a flash price at or above the SKU's list price;
- a gap between two phases (time that belongs to no phase);
- a phase's `promo` naming a SKU whose `promo_lift` is 1 (being on promotion changes nothing);
- a flash quantity above the SKU's stock planned by the sale's start;
- a flash sale whose SKU has no stock planned by its start.

"Planned stock by a time" is `stock` plus the `inbound` shipments landing by then (and a reorder
placed at the campaign's start, if the starting stock is at or below its point and it arrives
by then), before anything is sold: sales before the time can only lower it. Pure Python on the
validated scenario (no numpy): `promosim validate` stays light.
"""

from __future__ import annotations

import datetime as dt
from itertools import pairwise

from simulator.scenario.errors import Issue

ZHE_ABOVE = 0.6
"""A discount above this whose price falls below unit cost reads like 折 (0.75 = 7.5折)."""

FILE = "<scenario>"


def plan_warnings(sc) -> list[Issue]:
    """Every warning of the validated scenario `sc`, in the order of the checks above; file
    `<scenario>`, no line (`loader.place` locates them)."""
    return [*_prices(sc), *_flash_prices(sc), *_phase_gaps(sc), *_idle_promos(sc), *_flash_stock(sc)]


def _money(x: float) -> str:
    return f"{x:,.2f}".rstrip("0").rstrip(".") if x != int(x) else f"{x:,.0f}"


def _when(meta, t: dt.datetime) -> str:
    return f"{meta.local(t):%Y-%m-%d %H:%M}"


def _span(minutes: float) -> str:
    """`2 h`, `30 min`, `1 d 4 h`, `1 h 30 min`."""
    d, rest = divmod(round(minutes), 1440)
    h, m = divmod(rest, 60)
    parts = [f"{d} d" if d else "", f"{h} h" if h else "", f"{m} min" if m else ""]
    return " ".join(p for p in parts if p) or "0 min"


def _prices(sc):
    for sid, sku in sc.skus.items():
        base = f"skus.{sid}"
        if sku.price < sku.unit_cost:
            yield Issue(FILE, None, f"{base}.price", (
                f"price {_money(sku.price)} is below unit_cost {_money(sku.unit_cost)}: every unit sells at a loss "
                "even at list price; probably the two are swapped, or one is per pack and the other per unit"))
            continue
        written = sku.discount if isinstance(sku.discount, dict) else {None: sku.discount}
        for phase, d in written.items():
            after = sku.price * (1 - d)
            if after >= sku.unit_cost:
                continue
            path = base + ".discount" + (f".{phase}" if phase is not None else "")
            where = ("" if phase is None else " by default (outside the phases it names)" if phase == "default"
                     else f" in phase {phase!r}")
            if d > ZHE_ABOVE:
                yield Issue(FILE, None, path, (
                    f"discount {d:g}{where} takes {d * 100:g} % off the list price {_money(sku.price)}, leaving "
                    f"{_money(after)}, below unit_cost {_money(sku.unit_cost)}; it reads like {d * 10:g}折 "
                    f"({(1 - d) * 100:g} % off): probably meant discount {1 - d:.4g} (a discount is the "
                    "fraction taken off)"))
            else:
                yield Issue(FILE, None, path, (
                    f"discount {d:g}{where} takes the price from {_money(sku.price)} to {_money(after)}, below "
                    f"unit_cost {_money(sku.unit_cost)}: each unit sells at a loss of {_money(sku.unit_cost - after)} "
                    f"before marketing; probably meant a discount of at most "
                    f"{_floor(1 - sku.unit_cost / sku.price):g} (the price at cost)"))


def _floor(x: float) -> float:
    """`x` rounded down to 4 decimals (a discount that keeps the price at or above cost)."""
    return int(x * 10_000 + 1e-9) / 10_000


def _flash_prices(sc):
    for name, f in sc.flash_sales.items():
        sku = sc.skus[f.sku]
        if f.price >= sku.price:
            how = "equals" if f.price == sku.price else "is above"
            yield Issue(FILE, None, f"flash_sales.{name}.price", (
                f"flash price {_money(f.price)} {how} the list price of {f.sku!r} ({_money(sku.price)}): the "
                f"sale sells nothing cheaper than the shelf; probably meant a price below "
                f"{_money(sku.price)} (a flash sale's `price` is what buyers pay per unit)"))


def _phase_gaps(sc):
    m, phases = sc.meta, sc.calendar.phases
    order = sorted(range(len(phases)), key=lambda i: m.local(phases[i].start))
    for ia, ib in pairwise(order):
        a, b = phases[ia], phases[ib]
        gap = m.minutes_from_start(b.start) - m.minutes_from_start(a.end)
        if gap > 0:
            yield Issue(FILE, None, f"calendar.phases.{ib}.start", (
                f"phase {b.name!r} starts at {_when(m, b.start)}, {_span(gap)} after phase {a.name!r} ends "
                f"({_when(m, a.end)}): the {_span(gap)} between them belong to no phase (list prices — "
                f"each SKU's `default` discount —, intent 1, traffic × 1); probably meant "
                f"start: \"{_when(m, a.end)}\""))


def _idle_promos(sc):
    for i, p in enumerate(sc.calendar.phases):
        for j, sid in enumerate(p.promo):
            path = f"calendar.phases.{i}.promo.{j}"
            if sid == "*":
                idle = [k for k, s in sc.skus.items() if s.promo_lift == 1]
                if idle:
                    names = ", ".join(map(repr, idle[:5])) + (f" and {len(idle) - 5} more" if len(idle) > 5 else "")
                    yield Issue(FILE, None, path, (
                        f"phase {p.name!r} puts every SKU on promotion ('*'), but promo_lift is 1 (no lift) for "
                        f"{names}: being on promotion changes nothing for them; probably meant to set their "
                        "promo_lift (e.g. 1.2: 20 % more conversion while on promotion)"))
            elif sid in sc.skus and sc.skus[sid].promo_lift == 1:
                yield Issue(FILE, None, path, (
                    f"phase {p.name!r} puts {sid!r} on promotion, but its promo_lift is 1 (no lift): being on "
                    f"promotion changes nothing; probably meant to set skus.{sid}.promo_lift (e.g. 1.2: 20 % "
                    "more conversion while on promotion)"))


def planned_stock(sc, sid: str, by: dt.datetime) -> tuple[float, str]:
    """(units, how they add up) of SKU `sid` planned by local time `by`, before any sale: stock,
    inbound shipments landing by then and a reorder placed at the start that arrives by then."""
    m, sku = sc.meta, sc.skus[sid]
    at = m.minutes_from_start(by)
    inbound = sum(s.quantity for s in sku.inbound if m.minutes_from_start(s.at) <= at)
    reorder = 0
    r = sku.reorder
    if r is not None and sku.stock <= r.point and r.lead_time_hours * 60 <= at:
        lots = int((r.point - sku.stock) // r.quantity) + 1
        reorder = lots * r.quantity
    parts = [f"stock {sku.stock:,}"]
    if inbound:
        parts.append(f"inbound {inbound:,}")
    if reorder:
        parts.append(f"the first reorder {reorder:,}")
    return float(sku.stock + inbound + reorder), " + ".join(parts)


def _flash_stock(sc):
    m = sc.meta
    for name, f in sc.flash_sales.items():
        units, how = planned_stock(sc, f.sku, f.start)
        p = f"flash_sales.{name}"
        if units <= 0:
            later = sorted(s.at for s in sc.skus[f.sku].inbound if m.local(s.at) > m.local(f.start))
            meant = (f"start at or after the first shipment ({_when(m, later[0])})" if later
                     else f"give skus.{f.sku}.stock (or an inbound shipment before {_when(m, f.start)})")
            yield Issue(FILE, None, f"{p}.start", (
                f"flash sale {name!r} starts at {_when(m, f.start)}, when {f.sku!r} has no stock ({how}, nothing "
                f"arrives before): the sale sets aside min(quantity, stock on hand) = 0 units and sells nothing; "
                f"probably meant to {meant}"))
        elif f.quantity > units:
            yield Issue(FILE, None, f"{p}.quantity", (
                f"quantity {f.quantity:,} is above the stock of {f.sku!r} planned by the sale's start "
                f"({_when(m, f.start)}): {units:,.0f} ({how}), before anything sold earlier; the sale sets aside "
                f"at most {units:,.0f} units; probably meant quantity {units:,.0f} or less, or more stock"))


def located_warnings(sc, path) -> list[Issue]:
    """`plan_warnings(sc)` placed in the scenario file `path` (file and line of each field)."""
    from simulator.scenario.loader import place

    found = plan_warnings(sc)
    return place(found, path) if found else []


def shown(w: Issue) -> str:
    """One warning as a line: `file:line: warning: field: message` (the form of compilers)."""
    where = f"{w.file}:{w.line}" if w.line else w.file
    return f"{where}: warning: {w.path}: {w.message}"


def as_json(warnings: list[Issue]) -> list[dict]:
    """Warnings for `--json` outputs: file, line (null: unknown), field path, message."""
    return [{"file": w.file, "line": w.line, "path": w.path, "message": w.message} for w in warnings]

"""Property tests: invariants of every run, over generated small scenarios.

Each example is a small random campaign (1–4 SKUs, 1–3 channels — sometimes paid
search or display with small budgets —, 1–2 segments, a few hours to two days of
1–60 minute ticks, an optional warm-up before a sale, stock, (s, Q) reorders,
inbound shipments, baskets, add-ons of other SKUs, returns (some back in stock the next day), discounts). Whatever the plan, a run must
keep stock ≥ 0, account for every unit, add money up, respect budgets and obey
the KPI identities of docs/kpis.md and docs/model.md.

Phases, spikes and the campaign's start fall on whole hours, so each reporting
hour lies in one phase and one local day (the scenario's time zone has no DST).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.kpis import channel_kpis, run_kpis, sku_kpis
from simulator.naming import RUN_KPIS
from simulator.runner import simulate
from simulator.scenario import Scenario
from tests.helpers import at, hour_day, hour_phase

TICKS = (1, 5, 10, 15, 20, 30, 60)
KINDS = ("organic_search", "recommendation", "affiliate", "paid_search", "display", "crm_push")


def frac(lo: float, hi: float):
    return st.floats(lo, hi, allow_nan=False).map(lambda x: round(x, 4))


@st.composite
def budgets(draw) -> dict:
    out = {}
    if draw(st.booleans()):
        out["daily_budget"] = draw(frac(0.0, 60.0))
    if draw(st.booleans()):
        out["total_budget"] = draw(frac(0.0, 150.0))
    return out


@st.composite
def channel(draw, kind: str, hours: int, segments: list[str]) -> dict:
    ch: dict = {"kind": kind, "quality": draw(frac(0.5, 1.5))}
    if kind in ("organic_search", "recommendation", "affiliate"):
        ch["visits_per_hour"] = draw(frac(0.0, 300.0))
        if kind == "affiliate":
            ch["commission_rate"] = draw(frac(0.0, 0.3))
    elif kind == "paid_search":
        ch.update(cpc=draw(frac(0.2, 3.0)), clicks_per_hour=draw(frac(0.0, 300.0)), **draw(budgets()))
    elif kind == "display":
        ch.update(cpm=draw(frac(5.0, 50.0)), impressions_per_hour=draw(frac(0.0, 20000.0)),
                  ctr=draw(frac(0.0, 0.05)), **draw(budgets()))
    else:
        minutes = draw(st.lists(st.integers(0, hours * 60 - 1), min_size=1, max_size=2, unique=True))
        ch.update(audience=draw(st.integers(0, 2000)), open_rate=draw(frac(0.0, 0.3)),
                  send_times=[at(m / 60) for m in minutes], cost_per_message=draw(frac(0.0, 0.05)),
                  response_minutes=draw(frac(5.0, 120.0)))
    if len(segments) > 1 and draw(st.booleans()):
        w = draw(frac(0.0, 1.0))
        ch["segments"] = {segments[0]: w, segments[1]: round(1 - w, 4)}
    return ch


@st.composite
def sku(draw, hours: int, phase_names: list[str]) -> dict:
    price = draw(frac(5.0, 500.0))
    s: dict = {
        "price": price,
        "unit_cost": round(price * draw(frac(0.1, 0.9)), 2),
        "base_conversion": draw(frac(0.001, 0.3)),
        "elasticity": draw(frac(-4.0, -0.5)),
        "attractiveness": draw(frac(0.2, 3.0)),
        "units_per_order": draw(st.sampled_from([1.0, 1.0, 1.5, 2.0, 3.0])),
        "stock": draw(st.integers(0, 200)),
        "return_rate": draw(frac(0.0, 0.5)),
        "resaleable_returns": draw(st.sampled_from([0.0, 0.5, 1.0])),
        "salvage_value": None,                   # drawn below: at most the unit cost (the schema's rule)
    }
    s["salvage_value"] = round(s["unit_cost"] * draw(frac(0.0, 1.0)), 2)
    if phase_names and draw(st.booleans()):
        s["discount"] = {p: draw(frac(0.0, 0.6)) for p in phase_names if draw(st.booleans())}
        if draw(st.booleans()):
            s["discount"]["default"] = draw(frac(0.0, 0.3))
    else:
        s["discount"] = draw(frac(0.0, 0.6))
    if draw(st.booleans()):
        s["reorder"] = {"point": draw(st.integers(0, 30)), "quantity": draw(st.integers(1, 60)),
                        "lead_time_hours": draw(st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.5, 6.0]))}
    minutes = draw(st.lists(st.integers(0, hours * 60 - 1), max_size=2))
    s["inbound"] = [{"at": at(m / 60), "quantity": draw(st.integers(1, 100))} for m in minutes]
    return s


@st.composite
def scenarios(draw, ticks=TICKS) -> Scenario:
    """A small random campaign starting on 2026-11-10 (00:00 local) — see the module docstring."""
    tick = draw(st.sampled_from(ticks))
    hours = draw(st.integers(2, 48))
    phases: list[dict] = []
    cursor = 0
    for j in range(draw(st.sampled_from([0, 1, 2, 2, 3]))):
        a = cursor + draw(st.sampled_from([0, 0, 1, 3]))
        b = a + draw(st.integers(1, max(1, hours // 2)))
        if b > hours:
            break
        p = {"name": f"p{j}", "kind": draw(st.sampled_from(["sale", "warmup"])), "start": at(a), "end": at(b),
             "intent": draw(frac(0.5, 2.0))}
        if draw(st.booleans()):
            p["traffic"] = {"default": draw(frac(0.0, 3.0))}
        if draw(st.integers(0, 3)) == 0:                      # its sales take demand from the days after
            p["pull_forward"] = {"share": draw(frac(0.0, 1.0)), "days": draw(frac(0.1, 2.0))}
        phases.append(p)
        cursor = b
    if phases and phases[-1]["kind"] == "warmup":
        phases[-1]["kind"] = "sale"             # a warm-up's carts need a later sale phase
    names = [p["name"] for p in phases]

    n_seg = draw(st.integers(1, 2))
    if n_seg == 1:
        segments = {"all": {"share": 1.0}}
    else:
        share = draw(frac(0.0, 1.0))
        segments = {"new": {"share": share, "conversion": draw(frac(0.5, 1.5)),
                            "price_sensitivity": draw(frac(0.0, 2.0))},
                    "returning": {"share": round(1 - share, 4), "conversion": draw(frac(0.5, 1.5))}}
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=1, max_size=3))
    channels = {f"{k}_{i}": draw(channel(k, hours, list(segments))) for i, k in enumerate(kinds)}
    skus = {f"sku{i}": draw(sku(hours, names)) for i in range(draw(st.integers(1, 4)))}
    categories = {}
    if len(skus) > 1 and draw(st.booleans()):                   # SKUs of one category: buyers may switch
        categories = {"cat": {"inside_share": draw(frac(0.1, 0.9)), "switch_share": draw(frac(0.0, 1.0))}}
        for sid in list(skus)[:draw(st.integers(2, len(skus)))]:
            skus[sid]["category"] = "cat"
    names_k = list(skus)
    if len(skus) > 1 and draw(st.booleans()):                   # add-ons: several-SKU baskets
        for sid in names_k[:draw(st.integers(1, len(skus)))]:
            others = [o for o in names_k if o != sid]
            picked = draw(st.lists(st.sampled_from(others), min_size=1, max_size=len(others), unique=True))
            skus[sid]["bought_with"] = {o: draw(frac(0.0, 1.0)) for o in picked}
    calendar: dict = {
        "phases": phases,
        "intraday": draw(st.sampled_from(["flat", "taobao_2017"])),
        "cart_pay_through": draw(frac(0.0, 1.0)),
        "cart_pay_minutes": draw(frac(5.0, 120.0)),
    }
    if draw(st.booleans()):
        calendar["spikes"] = [{"at": at(draw(st.integers(0, hours - 1))), "amplitude": draw(frac(0.0, 5.0)),
                               "decay_minutes": draw(frac(5.0, 60.0))}]
    return Scenario.model_validate({
        "meta": {"name": "generated", "start": at(0), "end": at(hours), "tick_minutes": tick,
                 "platform_fee_rate": draw(frac(0.0, 0.1)),
                 "shipping_cost_per_order": draw(frac(0.0, 10.0)),
                 "return_cost_per_unit": draw(frac(0.0, 10.0)),
                 "return_days": draw(st.sampled_from([1, 7]))},       # 1: returns back within a 2-day run
        "calendar": calendar,
        "channels": channels,
        "skus": skus,
        "categories": categories,
        "segments": segments,
    })


def _close(a, b, scale=1.0) -> bool:
    """Equal up to float summation error of money amounts of size ~`scale`."""
    return np.allclose(a, b, rtol=1e-9, atol=1e-9 * max(1.0, scale))


def _arrivals_by_hour(rec, model) -> np.ndarray:
    """(H, K) units of every 'arrival' event, by the reporting hour of its tick."""
    out = np.zeros_like(rec.stock)
    for tick, kind, subject, value in rec.events:
        if kind == "arrival":
            out[model.grid.period[int(tick)], model.skus.index(subject)] += value
    return out


def check_run(rec, model) -> None:
    """Every invariant of one replication (assertions name what broke)."""
    ch, sk = rec.by_channel, rec.by_sku
    K = len(model.skus)
    m = model.grid.tick_minutes
    ph = hour_phase(model)
    warm = model.warmup[ph]

    # ---- every flow is a finite, non-negative count or amount (an amount booked, then taken back
    # for returns, may end a rounding below 0: 1e-9 of the flow's largest value; counts are whole)
    for name, arr in [*ch.items(), *sk.items(), ("stock", rec.stock)]:
        assert np.all(np.isfinite(arr)), f"{name} has NaN/inf"
        low = arr < -1e-9 * max(1.0, float(np.abs(arr).max()))
        assert not low.any(), f"{name} < 0 at {np.argwhere(low)[:3].tolist()}"

    # ---- stock: never negative (above), units conserved per SKU, hour by hour; returns come back
    arrivals = _arrivals_by_hour(rec, model)
    back = sk["restocked"]
    before = np.vstack([rec.initial_stock[None, :], rec.stock[:-1]])           # (H, K) at hour start
    assert np.array_equal(rec.stock, before + arrivals + back - sk["units"]), \
        "stock at the end of an hour != stock at its start + arrivals + returns back − units sold"
    assert np.array_equal(rec.initial_stock + arrivals.sum(0) + back.sum(0), sk["units"].sum(0) + rec.ending_stock), \
        "initial + inbound + returns back != units sold + ending stock"
    assert np.array_equal(sk["inbound"], arrivals), "inbound flow != arrival events"
    assert back.sum() <= sk["returns"].sum(), "more units back in stock than returned"
    # nothing sells from an empty shelf: no stock at the hour's start and nothing arrived
    empty = (before == 0) & (arrivals == 0) & (back == 0)
    assert not np.any(sk["units"][empty]), "units sold in an hour that began with no stock and no arrivals"

    # ---- orders, units, returns, lost demand
    assert np.all(sk["orders"] <= sk["units"]) and np.all(ch["orders"] <= ch["units"]), "orders > units"
    assert np.all(sk["returns"] <= sk["units"]), "returns > units"
    upo = np.array([model.scenario.skus[k].units_per_order for k in model.skus])
    own = sk["units"] - sk["addon_units"]                         # units sold as the order's SKU
    assert np.all(sk["addon_units"] <= sk["units"]), "more add-on units than units"
    assert np.all(own[:, upo == 1] == sk["orders"][:, upo == 1]), "units != orders at 1 unit per order"
    can_add = np.zeros(K, dtype=bool)                             # SKUs some order may take as an add-on
    for sku in model.scenario.skus.values():
        for a in sku.bought_with:
            can_add[model.skus.index(a)] = True
    assert not sk["addon_units"][:, ~can_add].any(), "add-on units of a SKU no order lists"
    has_addons = np.array([bool(model.scenario.skus[k].bought_with) for k in model.skus])
    assert sk["addon_units"].sum() <= (sk["orders"][:, has_addons].sum() * max(1, model.addons.sku.shape[1])), \
        "more add-ons than the orders that may take them could hold"
    assert np.all(sk["stockout_ticks"] <= 60 // m), "more stock-out ticks than ticks in the hour"
    unmet = sk["lost_units"] + sk["switched_units"]              # demand that met no stock
    assert np.array_equal(sk["stockout_ticks"] > 0, unmet > 0), \
        "lost or switched units without a stock-out tick (or the reverse)"
    assert np.all(sk["switched_in"] <= sk["units"]), "more units sold to switchers than sold"
    if (upo == 1).all():                                          # a switcher buys one unit where it wanted one
        assert sk["switched_in"].sum() <= sk["switched_units"].sum(), "switchers bought more than they wanted"
    cat = [model.scenario.skus[k].category for k in model.skus]
    for k in range(K):
        if cat[k] is None or cat.count(cat[k]) < 2 or not model.scenario.categories[cat[k]].switch_share:
            assert not sk["switched_units"][:, k].any(), "switched units of a SKU whose buyers cannot switch"
    assert np.all(ch["orders"].sum(0) <= ch["visits"].sum(0)), "more orders than visits in a channel"

    # ---- stock-out events: one per episode (an arrival or returns back in stock end it), in an
    # hour that lost demand
    period = model.grid.period
    for k, sid in enumerate(model.skus):
        outs = [int(t) for t, kind, subj, _ in rec.sorted_events() if kind == "stockout" and subj == sid]
        n_arrivals = sum(1 for _, kind, subj, _ in rec.events if kind == "arrival" and subj == sid)
        n_arrivals += int((back[:, k] > 0).sum())
        lost_hours = np.flatnonzero(unmet[:, k])
        assert len(outs) <= 1 + n_arrivals, f"{sid}: {len(outs)} stock-outs with {n_arrivals} arrivals"
        assert all(unmet[period[t], k] > 0 for t in outs), f"{sid}: stock-out event without lost demand"
        if lost_hours.size:
            assert outs and period[outs[0]] == lost_hours[0], f"{sid}: first stock-out event not in the first hour lost"
        else:
            assert not outs, f"{sid}: stock-out event but no lost units"

    # ---- warm-up: visits add to cart, nothing is paid; carts only in warm-up
    for f in ("orders", "units", "gmv"):
        assert not ch[f][warm].any() and not sk[f][warm].any(), f"{f} recorded during a warm-up hour"
    assert not ch["carts"][~warm].any() and not sk["carts"][~warm].any(), "carts outside a warm-up hour"

    # ---- money adds up: by channel = by SKU = Σ units × phase price
    # the price each hour, from the plan itself: list price × (1 − the SKU's discount in that phase)
    names = [None if j == 0 else model.phases[j] for j in ph]
    price = np.array([[sku.price * (1 - sku.discount_in(n)) for sku in model.scenario.skus.values()]
                      for n in names]).reshape(len(ph), K)                     # (H, K)
    rate = np.array([getattr(c, "commission_rate", 0.0) for c in model.scenario.channels.values()])
    scale = float(sk["gmv"].sum())
    for f in ("carts", "orders", "units", "gmv", "returns", "refunds"):
        assert _close(ch[f].sum(1), sk[f].sum(1), scale), f"{f} by channel != by SKU"
    assert _close(sk["gmv"], sk["units"] * price, scale), "gmv != units × discounted price"
    assert _close(sk["refunds"], sk["returns"] * price, scale), "refunds != returns × discounted price"
    assert _close(ch["commissions"], (ch["gmv"] - ch["refunds"]) * rate, scale), "commission != rate × kept gmv"

    # ---- media budgets (paid search per click, display per mille)
    days = hour_day(model)
    for c, name in enumerate(model.channels):
        cfg = model.scenario.channels[name]
        spend = ch["ad_spend"][:, c]
        if cfg.kind == "paid_search":
            assert _close(spend, ch["visits"][:, c] * cfg.cpc, spend.sum()), "paid search spend != clicks × cpc"
        if cfg.kind not in ("paid_search", "display"):
            assert not spend.any(), f"{name} ({cfg.kind}) has ad spend"
            continue
        per_day = np.bincount(days, weights=spend)
        if cfg.daily_budget is not None:
            assert np.all(per_day <= cfg.daily_budget * (1 + 1e-9) + 1e-9), \
                f"{name}: daily spend {per_day.max()} > daily_budget {cfg.daily_budget}"
        if cfg.total_budget is not None:
            assert spend.sum() <= cfg.total_budget * (1 + 1e-9) + 1e-9, \
                f"{name}: spend {spend.sum()} > total_budget {cfg.total_budget}"
        # a budget runs out at most once a day, at an exact tick: nothing is spent after it that
        # day, and what was spent is the budget left (paid search: to within one click)
        hits = [(int(t), v) for t, kind, subj, v in rec.events if kind == "budget_exhausted" and subj == name]
        hit_days = [int(model.grid.day[t]) for t, _ in hits]
        assert len(hit_days) == len(set(hit_days)), f"{name}: budget exhausted twice in a day"
        left_total = np.inf if cfg.total_budget is None else cfg.total_budget
        for d in range(per_day.size):
            allowed = min(np.inf if cfg.daily_budget is None else cfg.daily_budget, left_total)
            if d in hit_days:
                t = hits[hit_days.index(d)][0]
                after = (days == d) & (np.arange(days.size) > period[t])
                assert not spend[after].any(), f"{name}: spend after its budget ran out on day {d}"
                unit = cfg.cpc if cfg.kind == "paid_search" else 0.0
                assert per_day[d] >= allowed - unit - 1e-9 * max(1.0, allowed), \
                    f"{name}: budget reported exhausted on day {d} with {allowed - per_day[d]} left"
            left_total -= per_day[d]

    # ---- KPI identities (docs/kpis.md)
    k = run_kpis(rec, model)
    assert set(k) == set(RUN_KPIS)
    for key, v in k.items():
        assert v is None or math.isfinite(v), f"KPI {key} is {v}"
    meta = model.scenario.meta
    s = max(1.0, abs(k["gmv"]), abs(k["marketing_cost"]), abs(k["cogs"]))
    assert math.isclose(k["net_sales"], k["gmv"] - k["refunds"], rel_tol=1e-9, abs_tol=1e-9 * s)
    assert math.isclose(k["marketing_cost"], k["ad_spend"] + k["fees"] + k["commissions"],
                        rel_tol=1e-9, abs_tol=1e-9 * s)
    cogs = float(((sk["units"] - sk["returns"]).sum(0) * model.unit_cost).sum())
    assert math.isclose(k["cogs"], cogs, rel_tol=1e-9, abs_tol=1e-9 * s)
    assert math.isclose(k["platform_fee"], meta.platform_fee_rate * k["net_sales"], rel_tol=1e-9, abs_tol=1e-9 * s)
    assert math.isclose(k["shipping"], meta.shipping_cost_per_order * k["orders"], rel_tol=1e-9, abs_tol=1e-9 * s)
    assert math.isclose(k["return_handling"], meta.return_cost_per_unit * k["returns"], rel_tol=1e-9,
                        abs_tol=1e-9 * s)
    gp = (k["net_sales"] - k["cogs"] - k["marketing_cost"] - k["platform_fee"] - k["shipping"]
          - k["return_handling"] - k["return_writeoff"] - k["stock_writedown"])
    assert math.isclose(k["gross_profit"], gp, rel_tol=1e-9, abs_tol=1e-9 * s)
    assert k["units"] == sk["units"].sum() == ch["units"].sum()
    assert k["addon_units"] == sk["addon_units"].sum()
    assert k["orders"] == 0 or math.isclose(k["items_per_order"], (k["orders"] + k["addon_units"]) / k["orders"])
    assert k["lost_units"] == sk["lost_units"].sum()
    assert k["stockout_minutes"] == sk["stockout_ticks"].sum() * m

    # per-channel and per-SKU KPIs add up to the run's
    chk, skk = channel_kpis(rec, model), sku_kpis(rec, model)
    for f in ("visits", "orders", "units", "gmv", "ad_spend", "fees", "commissions"):
        assert math.isclose(sum(v[f] for v in chk.values()), k[f], rel_tol=1e-9, abs_tol=1e-9 * s), f
    assert math.isclose(sum(v["spend"] for v in chk.values()), k["marketing_cost"], rel_tol=1e-9, abs_tol=1e-9 * s)
    for f in ("orders", "units", "gmv", "returns", "lost_units", "inbound_units", "ending_stock"):
        assert math.isclose(sum(v[f] for v in skk.values()), k[f], rel_tol=1e-9, abs_tol=1e-9 * s), f
    assert K == len(skk)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), seed=st.integers(0, 2**32 - 1), reps=st.integers(1, 2))
def test_invariants_hold_for_every_run(scenario, seed, reps):
    res = simulate(scenario, reps=reps, seed=seed)
    assert len(res.records) == reps
    for rec in res.records:
        check_run(rec, res.model)


def check_reorders(rec, model) -> None:
    """(s, Q) with one-hour ticks (hours are ticks): after every tick, stock on hand + on order
    is above the reorder point; each tick orders no more than needed to get there; each order
    arrives exactly its lead time later. Scheduled inbound shipments are told apart from
    reorder deliveries by their known ticks."""
    T = model.n_ticks
    assert model.grid.tick_minutes == 60 and rec.stock.shape[0] == T
    for k, sid in enumerate(model.skus):
        point, q, lead = int(model.reorder_point[k]), int(model.reorder_qty[k]), int(model.lead_ticks[k])
        ordered, arrived = np.zeros(T, dtype=np.int64), np.zeros(T, dtype=np.int64)
        for t, kind, subj, v in rec.events:
            if subj == sid and kind == "reorder":               # the lots of one check, at once
                assert v >= q and v % q == 0, f"{sid}: reorder of {v}, policy says lots of {q}"
                ordered[int(t)] += int(v) // q
            elif subj == sid and kind == "arrival":
                arrived[int(t)] += int(v)
        for t, kk, units in model.inbound:
            if kk == k:
                arrived[t] -= units
        if point < 0:
            assert not ordered.any() and not arrived.any(), f"{sid}: reorders without a policy"
            continue
        assert np.all(arrived % q == 0) and np.all(arrived >= 0)
        expect = np.zeros(T, dtype=np.int64)
        due = np.flatnonzero(ordered)
        np.add.at(expect, (due + lead)[due + lead < T], ordered[due][due + lead < T] * q)
        assert np.array_equal(arrived, expect), f"{sid}: reorders did not arrive {lead} ticks after they were placed"
        position = rec.stock[:, k] + q * np.cumsum(ordered) - np.cumsum(arrived)
        assert np.all(position > point), \
            f"{sid}: stock + on order {position.min()} ≤ reorder point {point} after a tick"
        placed = ordered > 0
        if rec.by_sku["restocked"][-1, k]:        # returns due after the end join the last tick's stock
            placed[-1] = False                    # after the policy has looked at it
        assert np.all(position[placed] - q <= point), f"{sid}: ordered more than (s, Q) asks"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(ticks=(60,)), seed=st.integers(0, 2**32 - 1))
def test_reorders_follow_the_s_Q_policy(scenario, seed):
    res = simulate(scenario, reps=1, seed=seed)
    check_run(res.records[0], res.model)
    check_reorders(res.records[0], res.model)

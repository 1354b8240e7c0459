"""The expected-value engine (`mode: expected`): the model of docs/model.md with every draw
replaced by its mean. Deterministic and far cheaper than replications — the engine a
least-squares calibrator wants.

Flows are expectations: visits = traffic; buyers of SKU k in segment s = Σ_c traffic ×
reach; units = buyers × mean units per order. Budgets cut paid search at the exact
(fractional) tick where expected spend reaches them. Stock is a fluid: each tick serves
min(demand, stock on hand), the rest is lost; (s, Q) reorders and inbound shipments
arrive as in the fast engine, and the resaleable share of each day's expected returns is back
on the shelf `return_days` later (the fluid runs day by day for it). Every channel and segment
buying a SKU in a tick is served in the same proportion. Returns, refunds and commissions are
their expected shares.

Where nothing saturates (stock, budgets, conversion capped at 1) these are exactly the
means of the fast engine; where something binds they are the fluid approximation.

Promotion mechanics (docs/promotions.md) are not modelled yet: a scenario that uses any is
refused with a `ScenarioError` naming the first block found.
"""

from __future__ import annotations

import numpy as np

from simulator.model import Model
from simulator.pacing import cap_spend
from simulator.record import RunRecord
from simulator.scenario.errors import Issue, ScenarioError
from simulator.scenario.schema import Scenario


def _first_promotion(sc: Scenario) -> tuple[str, str] | None:
    """(dotted path, what it is) of the first promotion mechanic `sc` uses, in schema order."""
    if sc.baskets.topup_probability:
        return "baskets.topup_probability", "threshold top-up (凑单)"
    if sc.coupons:
        return "coupons", "store coupons"
    if sc.platform_reduction is not None:
        return "platform_reduction", "the platform's cross-store reduction"
    if sc.flash_sales:
        return "flash_sales", "flash sales"
    if sc.presales:
        return "presales", "pre-sale deposits"
    if sc.stock_deduction.mode == "payment":
        return "stock_deduction.mode", "stock deduction at payment"
    for sid, sku in sc.skus.items():
        if sku.return_rate_per_discount:
            return f"skus.{sid}.return_rate_per_discount", "returns that rise with discount depth"
    return None


def refuse_promotions(sc: Scenario) -> None:
    """Raise a `ScenarioError` if `sc` uses a promotion mechanic (the engine does not model them)."""
    if not sc.has_promotions:
        return
    path, what = _first_promotion(sc) or ("", "promotion mechanics")
    raise ScenarioError([Issue("<scenario>", None, path, (
        f"the expected engine (calibration's `method: least_squares`) does not model {what} yet; "
        "calibrate with replications instead (`method: tpe` or `method: cmaes`, which run the fast "
        "engine), or remove the promotion mechanics (docs/promotions.md)"))])


class ExpectedEngine:
    """`ExpectedEngine(model).run(seed)`: one deterministic `RunRecord` (the seed is ignored)."""

    name = "expected"

    def __init__(self, model: Model):
        refuse_promotions(model.scenario)
        if model.boosted:
            name = model.channels[model.boosted[0][0]]
            raise ScenarioError([Issue("<scenario>", None, f"channels.{name}.sales_boost", (
                "the expected engine (calibration's `method: least_squares`) does not model organic "
                "feedback (sales_boost) yet; calibrate with replications (`method: tpe` or `cmaes`)"))])
        if model.scenario.rules:
            raise ScenarioError([Issue("<scenario>", None, "rules", (
                "the expected engine (calibration's `method: least_squares`) does not execute "
                "mid-campaign rules; calibrate with replications (`method: tpe` or `cmaes`)"))])
        if model.auctions:
            name = model.auctions[0].name
            raise ScenarioError([Issue("<scenario>", None, f"channels.{name}.ad_groups", (
                "the expected engine (calibration's `method: least_squares`) does not model search-ad "
                "auctions yet; calibrate with replications (`method: tpe` or `cmaes`), or give the "
                "channel a flat `cpc` and `clicks_per_hour`"))])
        self.m = model
        self.K, self.S, self.C = len(model.skus), len(model.segments), len(model.channels)
        self.n_periods = int(model.grid.period[-1]) + 1

    def run(self, seed=None) -> RunRecord:
        m, K, S, C = self.m, self.K, self.S, self.C
        T = m.n_ticks
        rec = RunRecord.empty(self.n_periods, C, K, m.stock)
        rec.events.extend(m.fixed_events)
        lam = self._paid_budgets(rec)                                   # (T, C) visits
        reach = m.reach.reshape(-1, C, K, S).sum(axis=3)                # (P, C, K) over segments
        pay = {}                                                        # tick → (C, K) cart payers
        for phase, (first, profile) in m.pay_start.items():            # warm-up carts pay at the burst
            ticks = np.flatnonzero(m.phase_of_tick == phase)
            pool = np.einsum("tc,ck->ck", lam[ticks], reach[phase]) * m.cart_pay_through
            for w, share in enumerate(profile):
                pay[first + w] = pay.get(first + w, 0) + share * pool
        buyers = np.zeros((T, K))
        for ch in m.chunks:
            if not m.warmup[ch.phase]:
                buyers[ch.start:ch.end] = lam[ch.start:ch.end] @ reach[ch.phase]
        for t, cube in pay.items():
            buyers[t] += cube.sum(axis=0)
        demand = buyers * (1 + m.extra_units)[None, :]                            # (T, K) units
        served = self._stock(demand, rec)                                        # (T, K) units
        frac = np.divide(served, demand, out=np.ones_like(served), where=demand > 0)

        per = m.grid.period
        H = self.n_periods
        by_c = {name: np.zeros((H, C, K)) for name in ("orders", "carts")}
        for ch in m.chunks:                                                      # orders by channel × SKU
            a, b = ch.start, ch.end
            cube = lam[a:b, :, None] * reach[ch.phase][None]                     # (n, C, K)
            target = "carts" if m.warmup[ch.phase] else "orders"
            if target == "orders":
                cube = cube * frac[a:b, None, :]
            p = per[a:b]
            starts = np.r_[0, np.flatnonzero(np.diff(p)) + 1]
            by_c[target][p[starts]] += np.add.reduceat(cube, starts, axis=0)
        for t, cube in pay.items():
            by_c["orders"][per[t]] += cube * frac[t][None, :]
        orders = by_c["orders"]
        units = orders * (1 + m.extra_units)[None, None, :]
        starts = np.r_[0, np.flatnonzero(np.diff(per)) + 1]
        paid = np.add.reduceat(m.price[m.phase_of_tick] * served, starts, axis=0)     # price of each
        served_h = np.add.reduceat(served, starts, axis=0)                           # hour's sales
        price = np.divide(paid, served_h, out=np.zeros_like(paid), where=served_h > 0)
        gmv = units * price[:, None, :]
        returns = units * m.return_rate[None, None, :]
        refunds = returns * price[:, None, :]

        ch, sk = rec.by_channel, rec.by_sku
        for name, cube in (("orders", orders), ("units", units), ("gmv", gmv),
                           ("returns", returns), ("refunds", refunds), ("carts", by_c["carts"])):
            ch[name] += cube.sum(axis=2)
            sk[name] += cube.sum(axis=1)
        sk["paid"] += gmv.sum(axis=1)
        ch["commissions"] += (gmv - refunds).sum(axis=2) * m.commission[None, :]

        def hourly(x):                                                           # (T, ·) → (H, ·)
            return np.add.reduceat(x, starts, axis=0)

        ch["visits"] += hourly(lam)
        ch["ad_spend"] += hourly(lam * m.cpc[None, :] + m.media_spend)
        ch["fees"] += hourly(m.fees)
        sk["lost_units"] += hourly(demand - served)
        return rec

    def _paid_budgets(self, rec: RunRecord) -> np.ndarray:
        """(T, C) expected visits, paid search held to its budgets and pacing line (docs/pacing.md)
        as display is: expected spend follows the plan, never past the line, stopped at the budget."""
        m = self.m
        lam = m.traffic.copy()
        day_starts = m.grid.day_starts()
        for c in np.flatnonzero(m.cpc > 0):
            ch = m.scenario.channels[m.channels[c]]
            if ch.daily_budget is None and ch.total_budget is None:
                continue
            lam[:, c] *= cap_spend(lam[:, c] * m.cpc[c], day_starts, ch.daily_budget, ch.total_budget,
                                    m.channels[c], rec.events, m.pace_share[:, c], ch.carry_over)
        return lam

    def _stock(self, demand: np.ndarray, rec: RunRecord) -> np.ndarray:
        """Fluid stock per SKU, jumping from event to event with cumsum + searchsorted:
        each tick serves min(demand, on hand); deliveries land before a tick's demand;
        (s, Q) orders are placed after a tick's sales and arrive lead time later."""
        m = self.m
        T, K = demand.shape
        served = demand.copy()
        inbound = np.zeros((T, K))
        restocked = np.zeros((T, K))
        late = np.zeros(K)                             # returns back after the campaign
        stock_end = np.zeros((T, K))
        per = m.grid.period
        day_start = np.r_[True, np.diff(m.grid.day) != 0]
        starts_of_day = np.flatnonzero(day_start)
        next_day = np.r_[starts_of_day[1:], T][np.cumsum(day_start) - 1]   # (T,) the next local midnight
        for k in range(K):
            d = demand[:, k]
            cum = np.r_[0.0, np.cumsum(d)]
            pending = sorted((t, q, "inbound") for t, kk, q in m.inbound if kk == k)
            on_hand, on_order, out, t = float(m.stock[k]), 0.0, False, 0
            back = m.return_rate[k] * m.resaleable[k]                  # share of units sold back in stock
            booked = 0                                                 # ticks whose returns are scheduled
            level = np.zeros(T + 1)                    # on hand at the start of each tick
            level[0] = on_hand

            def reorder(at):
                nonlocal on_order
                while m.reorder_point[k] >= 0 and on_hand + on_order <= m.reorder_point[k] + 1e-9:
                    on_order += m.reorder_qty[k]
                    rec.events.append((at, "reorder", m.skus[k], float(m.reorder_qty[k])))
                    if at + m.lead_ticks[k] < T:
                        pending.append((at + int(m.lead_ticks[k]), float(m.reorder_qty[k]), "reorder"))
                        pending.sort()

            def take_back(upto):
                """Schedule the returns of sales in [booked, upto) (all before a local midnight)."""
                nonlocal booked
                if back > 0 and upto > booked:
                    due = m.restock_tick[booked:upto]
                    amount = np.bincount(due, weights=served[booked:upto, k] * back, minlength=T + 1)
                    for tick in np.flatnonzero(amount):
                        if tick < T:
                            pending.append((int(tick), float(amount[tick]), "restock"))
                        else:
                            late[k] += amount[tick]
                    pending.sort()
                booked = max(booked, upto)

            first = True
            while t < T:
                if day_start[t]:
                    take_back(t)
                while pending and pending[0][0] <= t:
                    _, q, kind = pending.pop(0)
                    on_hand += q
                    (restocked if kind == "restock" else inbound)[t, k] += q
                    if kind != "restock":
                        rec.events.append((t, "arrival", m.skus[k], float(q)))
                    on_order -= q if kind == "reorder" else 0.0
                    out = False
                if first:
                    reorder(0)
                    first = False
                nxt = min(pending[0][0] if pending else T, next_day[t])
                if on_hand <= 1e-12:                   # empty until the next delivery
                    served[t:nxt, k] = 0.0
                    if not out and d[t:nxt].any():
                        i = t + int(np.flatnonzero(d[t:nxt])[0])
                        rec.events.append((i, "stockout", m.skus[k], float(d[i])))
                        out = True
                    t = nxt
                    continue
                o = int(np.searchsorted(cum, cum[t] + on_hand, side="right")) - 1
                r = T
                if m.reorder_point[k] >= 0:
                    need = on_hand + on_order - m.reorder_point[k]
                    r = int(np.searchsorted(cum, cum[t] + need - 1e-9, side="left")) - 1
                e = min(o, r)
                if e >= nxt:
                    on_hand -= cum[nxt] - cum[t]
                    t = nxt
                    continue
                on_hand -= cum[e] - cum[t]
                got = min(d[e], on_hand)
                served[e, k] = got
                on_hand -= got
                if d[e] - got > 1e-12 and not out:
                    rec.events.append((e, "stockout", m.skus[k], float(d[e] - got)))
                    out = True
                if on_hand <= 1e-12:
                    served[e + 1:nxt, k] = 0.0
                t = e + 1
                reorder(e)
            take_back(T)
            stock_end[:, k] = m.stock[k] + np.cumsum(inbound[:, k] + restocked[:, k] - served[:, k])
        last = np.r_[np.flatnonzero(np.diff(per)), T - 1]
        stock_end[-1] += late
        restocked[-1] += late
        rec.stock[:] = stock_end[last]
        starts = np.r_[0, np.flatnonzero(np.diff(per)) + 1]
        rec.by_sku["inbound"] += np.add.reduceat(inbound, starts, axis=0)
        rec.by_sku["restocked"] += np.add.reduceat(restocked, starts, axis=0)
        rec.by_sku["stockout_ticks"] += np.add.reduceat((demand - served > 1e-12).astype(float), starts, axis=0)
        return served

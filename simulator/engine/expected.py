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

import math

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
    """Raise a `ScenarioError` if `sc` uses a promotion mechanic or several-SKU baskets (the
    engine does not model them)."""
    addons = next((sid for sid, sku in sc.skus.items() if sku.bought_with), None)
    if not sc.has_promotions and addons is None:
        return
    path, what = _first_promotion(sc) or (f"skus.{addons}.bought_with", "several-SKU baskets (add-ons)")
    raise ScenarioError([Issue("<scenario>", None, path, (
        f"the expected engine (calibration's `method: least_squares`) does not model {what} yet; "
        "calibrate with replications instead (`method: tpe` or `method: cmaes`, which run the fast "
        "engine), or remove the promotion mechanics and add-ons (docs/promotions.md)"))])


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
        for p in model.scenario.calendar.phases:
            if p.pull_forward is not None:
                raise ScenarioError([Issue("<scenario>", None, f"calendar.phases.{p.name}.pull_forward", (
                    "the expected engine (calibration's `method: least_squares`) does not model demand "
                    "pulled forward from the days after a phase; calibrate with replications (`method: tpe` "
                    "or `cmaes`), or remove pull_forward"))])
        for name, cat in model.scenario.categories.items():
            if cat.switch_share > 0:
                raise ScenarioError([Issue("<scenario>", None, f"categories.{name}.switch_share", (
                    "the expected engine (calibration's `method: least_squares`) does not model shoppers "
                    "switching to another SKU when theirs is out of stock (its stock is a fluid per SKU); "
                    "calibrate with replications (`method: tpe` or `cmaes`), or set switch_share to 0"))])
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
        pay = self._cart_payments(lam, reach)                           # tick → (C, K) cart payers
        buyers = np.zeros((T, K))
        for ch in m.chunks:                                             # a warm-up's: those who pay at once
            now = m.buy_now[None, :] if m.warmup[ch.phase] else 1.0
            buyers[ch.start:ch.end] = lam[ch.start:ch.end] @ reach[ch.phase] * now
        for t, cube in pay.items():
            buyers[t] += cube.sum(axis=0)
        demand = buyers * (1 + m.extra_units)[None, :]                            # (T, K) units
        served = self._stock(demand, rec)                                        # (T, K) units
        frac = np.divide(served, demand, out=np.ones_like(served), where=demand > 0)
        by_c = self._by_channel(lam, reach, frac, pay)
        per = m.grid.period
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
        sk["lost_gmv"] += hourly((demand - served) * m.price[m.phase_of_tick])
        return rec

    def _cart_payments(self, lam: np.ndarray, reach: np.ndarray) -> dict:
        """Warm-up carts paying at the burst: tick → (C, K) expected payers (`lam` (T, C)
        visits, `reach` (P, C, K) buyers per visit)."""
        m = self.m
        pay = {}
        for phase, (first, profile) in m.pay_start.items():
            ticks = np.flatnonzero(m.phase_of_tick == phase)
            pool = np.einsum("tc,ck->ck", lam[ticks], reach[phase]) * (1 - m.buy_now)[None, :] * m.cart_pay_through
            for w, share in enumerate(profile):
                pay[first + w] = pay.get(first + w, 0) + share * pool
        return pay

    def _by_channel(self, lam: np.ndarray, reach: np.ndarray, frac: np.ndarray, pay: dict) -> dict:
        """{"orders", "carts"}: (H, C, K) per reporting period, channel and SKU; orders scaled
        by `frac` (T, K), the share of demand the stock served."""
        m, C, K = self.m, self.C, self.K
        per = m.grid.period
        by_c = {name: np.zeros((self.n_periods, C, K)) for name in ("orders", "carts")}
        for ch in m.chunks:
            a, b = ch.start, ch.end
            cube = lam[a:b, :, None] * reach[ch.phase][None]                     # (n, C, K)
            now = m.buy_now if m.warmup[ch.phase] else np.ones(K)                # a warm-up's: at once, or carts
            p = per[a:b]
            starts = np.r_[0, np.flatnonzero(np.diff(p)) + 1]
            by_c["orders"][p[starts]] += np.add.reduceat(cube * now * frac[a:b, None, :], starts, axis=0)
            if m.warmup[ch.phase]:
                by_c["carts"][p[starts]] += np.add.reduceat(cube * (1 - now), starts, axis=0)
        for t, cube in pay.items():
            by_c["orders"][per[t]] += cube * frac[t][None, :]
        return by_c

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
        """Fluid stock per SKU (`_Fluid`), jumping from event to event with cumsum +
        searchsorted: each tick serves min(demand, on hand); deliveries land before a tick's
        demand; (s, Q) orders are placed after a tick's sales and arrive lead time later.
        Returns (T, K) units served; books inbound, restocked, stock-out ticks and stock."""
        m = self.m
        T, K = demand.shape
        served = demand.copy()
        flows = {"inbound": np.zeros((T, K)), "restocked": np.zeros((T, K))}
        late = np.zeros(K)                             # returns back after the campaign
        per = m.grid.period
        day_start = np.r_[True, np.diff(m.grid.day) != 0]
        starts_of_day = np.flatnonzero(day_start)
        next_day = np.r_[starts_of_day[1:], T][np.cumsum(day_start) - 1]   # (T,) the next local midnight
        stock_end = np.zeros((T, K))
        for k in range(K):
            late[k] = _Fluid(m, k, demand[:, k], served[:, k], flows, rec).play(day_start, next_day)
            stock_end[:, k] = m.stock[k] + np.cumsum(flows["inbound"][:, k] + flows["restocked"][:, k]
                                                     - served[:, k])
        last = np.r_[np.flatnonzero(np.diff(per)), T - 1]
        stock_end[-1] += late
        flows["restocked"][-1] += late
        rec.stock[:] = stock_end[last]
        starts = np.r_[0, np.flatnonzero(np.diff(per)) + 1]
        rec.by_sku["inbound"] += np.add.reduceat(flows["inbound"], starts, axis=0)
        rec.by_sku["restocked"] += np.add.reduceat(flows["restocked"], starts, axis=0)
        rec.by_sku["stockout_ticks"] += np.add.reduceat((demand - served > 1e-12).astype(float), starts, axis=0)
        return served


class _Fluid:
    """One SKU's fluid stock in the expected engine: `served` (T,), a view of the engine's
    (T, K) array, is cut where the stock runs out; `flows` (T, K) inbound and restocked units."""

    def __init__(self, m, k: int, d: np.ndarray, served: np.ndarray, flows: dict, rec: RunRecord):
        self.m, self.k, self.d, self.served, self.flows, self.rec = m, k, d, served, flows, rec
        self.T = d.size
        self.cum = np.r_[0.0, np.cumsum(d)]
        self.pending = sorted((t, q, "inbound") for t, kk, q in m.inbound if kk == k)
        self.on_hand, self.on_order, self.out = float(m.stock[k]), 0.0, False
        self.back = m.return_rate[k] * m.resaleable[k]                  # share of units sold back in stock
        self.booked = 0                                                 # ticks whose returns are scheduled
        self.late = 0.0                                                 # returns back after the campaign

    def reorder(self, at: int) -> None:
        """(s, Q): while on hand + on order ≤ s, order Q — every lot of this check at once."""
        m, k = self.m, self.k
        if m.reorder_point[k] >= 0 and self.on_hand + self.on_order <= m.reorder_point[k] + 1e-9:
            lots = math.floor((m.reorder_point[k] + 1e-9 - self.on_hand - self.on_order) / m.reorder_qty[k]) + 1
            q = float(lots * m.reorder_qty[k])
            self.on_order += q
            self.rec.events.append((at, "reorder", m.skus[k], q))
            if at + m.lead_ticks[k] < self.T:
                self.pending.append((at + int(m.lead_ticks[k]), q, "reorder"))
                self.pending.sort()

    def take_back(self, upto: int) -> None:
        """Schedule the returns of sales in [booked, upto) (all before a local midnight)."""
        T = self.T
        if self.back > 0 and upto > self.booked:
            due = self.m.restock_tick[self.booked:upto]
            amount = np.bincount(due, weights=self.served[self.booked:upto] * self.back, minlength=T + 1)
            for tick in np.flatnonzero(amount):
                if tick < T:
                    self.pending.append((int(tick), float(amount[tick]), "restock"))
                else:
                    self.late += amount[tick]
            self.pending.sort()
        self.booked = max(self.booked, upto)

    def land(self, t: int) -> None:
        """Deliveries due by tick t go on hand (before its demand)."""
        while self.pending and self.pending[0][0] <= t:
            _, q, kind = self.pending.pop(0)
            self.on_hand += q
            self.flows["restocked" if kind == "restock" else "inbound"][t, self.k] += q
            if kind != "restock":
                self.rec.events.append((t, "arrival", self.m.skus[self.k], float(q)))
            self.on_order -= q if kind == "reorder" else 0.0
            self.out = False

    def stockout(self, t: int, lost: float) -> None:
        """The first tick of an episode whose demand meets no stock."""
        if not self.out:
            self.rec.events.append((t, "stockout", self.m.skus[self.k], lost))
            self.out = True

    def play(self, day_start: np.ndarray, next_day: np.ndarray) -> float:
        """The campaign from event to event; returns the units back after its end."""
        m, k, d, cum, T = self.m, self.k, self.d, self.cum, self.T
        t = 0
        while t < T:
            if day_start[t]:
                self.take_back(t)
            self.land(t)
            if t == 0:
                self.reorder(0)
            nxt = min(self.pending[0][0] if self.pending else T, next_day[t])
            if self.on_hand <= 1e-12:                   # empty until the next delivery
                self.served[t:nxt] = 0.0
                if d[t:nxt].any():
                    i = t + int(np.flatnonzero(d[t:nxt])[0])
                    self.stockout(i, float(d[i]))
                t = nxt
                continue
            o = int(np.searchsorted(cum, cum[t] + self.on_hand, side="right")) - 1
            r = T
            if m.reorder_point[k] >= 0:
                need = self.on_hand + self.on_order - m.reorder_point[k]
                r = int(np.searchsorted(cum, cum[t] + need - 1e-9, side="left")) - 1
            e = min(o, r)
            if e >= nxt:
                self.on_hand -= cum[nxt] - cum[t]
                t = nxt
                continue
            t = self._event(t, e, nxt)
        self.take_back(T)
        return self.late

    def _event(self, t: int, e: int, nxt: int) -> int:
        """Demand of ticks [t, e) served; tick e holds a stock-out and/or a reorder trigger.
        Returns the next tick to play."""
        d, cum = self.d, self.cum
        self.on_hand -= cum[e] - cum[t]
        got = min(d[e], self.on_hand)
        self.served[e] = got
        self.on_hand -= got
        if d[e] - got > 1e-12:
            self.stockout(e, float(d[e] - got))
        if self.on_hand <= 1e-12:
            self.served[e + 1:nxt] = 0.0
        self.reorder(e)
        return e + 1

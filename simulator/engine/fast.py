"""The fast engine: SimPy owns the clock and the decisive moments; visitors come in batches.

Per chunk (one local day within one phase) the engine draws, with numpy, the visits of every
visit row (a channel, or a flash sale's surge through a channel) per tick — budgeted paid
search and auctions as far as their budgets pay — and then splits each tick × row's visits
into buyers of each SKU × segment × coupon class, claimers and the rest (`visitors`): visits
first, so a plan's prices cannot move them, and keyed draws, so two plans on one seed share
their visitors (docs/model.md, "Randomness"). Every buyer line carries its channel. Stock is
played with cumsum + searchsorted, the SimPy clock jumping to each stock-out, reorder and
delivery (`stock`). The decisive moments — a sale phase's start, a rule evaluation, a flash
sale's start, sell-out and end, a coupon pool emptying, a budget running out, a stock-out —
are SimPy events (`moments`) that the processes of the parts they concern wait on: the carts
(`carts`), the rules (`_evaluate`), the flash sales (`flash`), the pools (`promo_state`), the
flat-cpc channels (`budgets`). Cost grows with ticks × rows × SKUs × segments and the buyers
of sparse ticks, not with the number of visitors.
"""

from __future__ import annotations

import numpy as np
import simpy

from simulator.engine.auctions import AuctionBudgets, commit_auctions, draw_auctions, plan_auctions
from simulator.engine.baskets import Baskets
from simulator.engine.booking import Books
from simulator.engine.budgets import FlatBudgets
from simulator.engine.busy import at_risk, grouping
from simulator.engine.carts import Carts
from simulator.engine.keyed import keyed_uniforms
from simulator.engine.lines import Lines
from simulator.engine.lost import LostDemand
from simulator.engine.moments import RULES, Moments
from simulator.engine.orders import Orders, basket_classes, line_keys
from simulator.engine.plan_changes import apply_changes
from simulator.engine.promo_state import Draw, NoPromotions, PromoState
from simulator.engine.pull import PullState
from simulator.engine.quantiles import binomial_quantile
from simulator.engine.stock import Replenishment, StockState, play
from simulator.engine.streams import Streams
from simulator.engine.switching import Switching
from simulator.engine.visitors import (
    VisitRows,
    chunk_visits,
    split_visits,
    tables,
)
from simulator.model import Chunk, Model
from simulator.record import RunRecord
from simulator.rules.snapshot import RuleRunner


class _Run:
    """Mutable state of one replication besides stock: budgets, carts and promotions."""

    def __init__(self, model: Model, moments: Moments, st, rec: RunRecord, rules: RuleRunner | None = None):
        self.daily_budget = model.daily_budget.copy()  # (C,) budgets in force (rules change them)
        self.total_budget = model.total_budget.copy()
        self.pace_share = model.pace_share             # (T, C), copied by the first rule that changes it
        self.total_left = model.total_budget.copy()
        self.daily_left = model.daily_budget.copy()
        self.day_allow = np.minimum(self.daily_left, self.total_left)   # (C,) the day's budget at its start
        self.spent_today = np.zeros_like(self.daily_left)
        self.spent_total = np.zeros_like(self.daily_left)
        self.carried = np.zeros_like(self.daily_left)  # (C,) what yesterday left, added to today's budget
        self.pacing: dict[int, str] = {}               # channel → pacing set by a rule
        self.day = -1
        self.moments = moments                          # the replication's decisive moments (SimPy events)
        self.promo = (PromoState(model, moments, st, rec) if model.promo is not None
                      else NoPromotions(model))        # the promotion part
        self.boost = np.ones(len(model.channels))      # (C,) organic feedback multiplier of today
        self.auction_budgets = {au.c: AuctionBudgets(au) for au in model.auctions}
        self.auction_plans: dict = {}                  # auction channel → the chunk's AuctionPlan
        self.rules = RuleRunner(model.scenario, model.grid, rules) if rules is not None else None
        self.visits = np.zeros((0, 0), dtype=np.int64)  # (n, R) the chunk's visits per tick × visit row
        self.visits_from = 0                           # the chunk's first tick
        self.open = np.ones(len(model.channels), dtype=bool)   # (C,) budgeted channels still buying today
        self.env = moments.env                         # the replication's SimPy environment
        self.carts: Carts | None = None                # warm-up carts (`engine.carts`)
        self.switchers = Lines.empty()                  # buyers who switched SKU in the last stretch's last tick
        self.sellouts = np.zeros(0, dtype=np.int64)     # ticks after sell-outs foreseen (`Switching.horizon`)
        self.pull = PullState(model) if model.pull is not None and model.pull.on else None   # pull-forward debts


class FastEngine:
    """Vectorized engine. `run(seed)` plays one replication and returns its `RunRecord`."""

    name = "fast"

    def __init__(self, model: Model):
        self.m = model
        self.K, self.S, self.C = len(model.skus), len(model.segments), len(model.channels)
        self.G = 1 if model.promo is None else model.promo.G
        self.budgets = FlatBudgets(model)                               # paid search at a flat cpc
        self.books = Books(model)
        self.n_periods = int(model.grid.period[-1]) + 1
        self.rules = RuleRunner(model.scenario, model.grid) if model.scenario.rules else None   # compiled once
        self.rows = VisitRows.of(model)
        self.switching = Switching(model, self.rows.slots)             # buyers taking another SKU of a category
        basket = np.array([model.scenario.segments[s].basket_units for s in model.segments])
        self.basket_mean = model.extra_units[:, None] * basket[None, :]   # (K, S) mean units per order − 1
        self.lost = LostDemand(model, self.basket_mean)                 # SKUs out of stock for a stretch
        self.baskets = Baskets(model)                                   # add-ons: several-SKU baskets
        self.drawn = np.ones(self.C, dtype=bool)                     # channels whose visits the chunk draws
        for au in model.auctions:                                    # (auction clicks come from the auctions)
            self.drawn[au.c] = False

    # ------------------------------------------------------------------ run
    def run(self, seed) -> RunRecord:
        """Play one replication with `seed` (int or SeedSequence)."""
        m = self.m
        env = simpy.Environment()
        rng = Streams(seed)
        promo = m.promo
        st = StockState(m.stock.astype(np.int64).copy(), np.zeros(self.K, dtype=np.int64),
                        np.zeros(self.K, dtype=bool), [], env.event(),
                        oversell_ticks=promo.oversell_ticks if promo is not None and promo.payment_mode else -1)
        rec = RunRecord.empty(self.n_periods, self.C, self.K, m.stock,
                              coupons=m.scenario.coupons, flash_sales=m.scenario.flash_sales,
                              ad_groups={au.name: au.G for au in m.auctions})
        moments = Moments(env)
        env.process(self._announce(env, rec, moments))
        repl = Replenishment(m, env, st, rec, moments)
        for tick, k, units in m.inbound:
            repl.deliver(tick, k, units, "inbound")
        run = _Run(m, moments, st, rec, self.rules)
        run.carts = Carts(m, self.rows, self.books, moments, rng, self.G)
        self.budgets.start(env, run, rec)
        if run.rules is not None:
            for tick in run.rules.ticks:
                moments.due(tick, (RULES,), "rule_evaluation", "rules")
            env.process(self._evaluate(run, rec))
        env.process(self._campaign(env, rng, repl, run))
        env.run()
        return rec

    def _announce(self, env, rec: RunRecord, moments: Moments):
        """Calendar process: logs the plan's fixed events at their ticks (phase starts, launch
        moments, CRM sends, display budget caps); a launch is a moment ("launch", its channels)
        too, for the processes that wait on it (its traffic is in the plan's rates)."""
        for tick, kind, subject, value in self.m.fixed_events:
            yield env.timeout(tick - env.now)
            rec.events.append((tick, kind, subject, value))
            if kind == "launch":
                moments.fire(kind, subject, value)

    def _evaluate(self, run: _Run, rec: RunRecord):
        """The rules' process: at each evaluation moment (opened by the campaign at the first
        tick of its chunk, before the chunk is drawn) the rules fire on the record so far and
        their changes apply from that tick (`engine.plan_changes`)."""
        while True:
            yield run.moments.next("rule_evaluation", "rules")
            apply_changes(self, run, run.rules.fire(int(run.env.now), rec))

    def _campaign(self, env, rng: Streams, repl: Replenishment, run: _Run):
        """Chunk by chunk; a chunk is cut where a promotion's state changes (a coupon pool
        empties, a flash sale falls back to the regular price) and the rest drawn again."""
        m, st, rec = self.m, repl.st, repl.rec
        for i, ch in enumerate(m.chunks):
            if ch.day != run.day:
                self.budgets.new_day(run, ch.day)
                for b in run.auction_budgets.values():
                    b.new_day()
                self._rank(ch.start, run, rec)
            yield from run.moments.open(ch.start)            # rules, flash sales, phase starts: before the draws
            run.auction_plans = {c: plan_auctions(b.au, ch.phase, ch.start, ch.end, m.grid.period[ch.start:ch.end],
                                                  rng.auctions, rng.auction_detail)
                                 for c, b in run.auction_budgets.items()}
            lam = m.traffic[ch.start:ch.end] * (run.boost * self.drawn)[None, :]
            run.visits = chunk_visits(rng, i, self.rows.rates(m, lam, ch.start))
            run.visits_from = ch.start
            a = ch.start
            while a < ch.end:
                if a > ch.start:
                    yield from run.moments.open(a)           # a flash sale falling back after its sell-out
                a = yield from self._stretch(rng, repl, run, Chunk(a, ch.end, ch.phase, ch.day))
        run.promo.finish(st, rec)
        rec.by_sku["restocked"][-1] += st.after_end               # returns back after the campaign
        rec.stock[-1] += st.after_end

    def _rank(self, tick: int, run: _Run, rec: RunRecord) -> None:
        """Organic feedback at a local midnight: a boosted channel's traffic for the day follows
        the store's orders of the 24 hours before (scaled to a day when fewer hours have passed)."""
        m = self.m
        if not m.boosted or tick == 0:
            return
        hi = int(m.grid.period[tick])
        per_day = 24 * 60 // max(60, m.grid.tick_minutes)
        lo = max(0, hi - per_day)
        orders = float(rec.by_channel["orders"][lo:hi].sum()) * per_day / (hi - lo)
        for c, boost in m.boosted:
            run.boost[c] = boost.multiplier(orders)
            rec.events.append((tick, "ranking", m.channels[c], run.boost[c]))

    def _stretch(self, rng: Streams, repl: Replenishment, run: _Run, ch: Chunk):
        """Play ticks [ch.start, cut] of a chunk; returns the first tick not played."""
        st, rec = repl.st, repl.rec
        ps = run.promo
        reg = ps.begin(st, rec, ch)
        warm = bool(self.m.warmup[ch.phase])
        sale_reg = ps.regime_at(ch.start, ch.phase) if warm else reg   # a warm-up's buyers who pay at once: today's
        until = min(self.switching.horizon(run.sellouts, ch.start, ch.end),   # a sell-out foreseen, an empty
                    self.switching.empty_cut(st, repl, ch.start, ch.end))      # shelf's change: drawn to it
        ahead = run.sellouts[run.sellouts > until]           # sell-outs foreseen beyond: still foreseen
        draw = self._draw(ch, rng, run, reg, None if warm else self._dead(repl, run, ch.start, until), st, until)
        cut = min(ps.pool_cut(rng, ch, draw), until)         # a coupon pool empties: cut after that tick
        lines = draw.lines if warm else Lines.concat([draw.lines, run.carts.due(ch.start, cut)])
        lines, orders, deposit, carts, cut, lost = self._orders(rng, repl, run, ch, (reg, sale_reg), lines, cut,
                                                                 warm, draw)
        run.sellouts = np.union1d(run.sellouts, ahead)
        ps.schedule(cut)                                     # its pool empties and sell-outs: SimPy events
        draw.truncate(cut - ch.start)
        self._commit_budgets(ch, run, rec, draw, rng, cut)
        ch = Chunk(ch.start, cut, ch.phase, ch.day)
        lines, orders, late = self.baskets.add(lines, orders, lost, ch.start, cut, st)
        out = yield from play(repl, ch, rng, lines, orders, lost)
        self.baskets.pair(rng.baskets, out, repl, late)
        deposit = reg.deposit[out.lines.k] & (out.lines.c < self.C)
        run.switchers = self.switching.after_play(rng.keys, out, st, reg.deposit, sale_reg.rel, ch.start, cut)
        if run.pull is not None:                             # units paid in a phase that pulls demand forward
            run.pull.owe(ch, out.lines, out.served, deposit, rec)
        if warm:
            run.carts.pool(ch, rec, carts)
        self._book(ch, rng, st, rec, ps, sale_reg, out, deposit)
        self.books.groups(ch, rec, out, deposit, draw.auctions, sale_reg.price, self.rows)
        self.books.traffic(ch, rec, draw.visits)
        self.books.stock(ch, rec, out, sale_reg.price)
        ps.end(rng, rec, st, ch, draw)
        return cut

    def _orders(self, rng: Streams, repl: Replenishment, run: _Run, ch: Chunk, regs: tuple, lines: Lines, cut: int,
                warm: bool, draw: "Draw"):
        """The stretch's lines that meet the stock now (a warm-up's: deposits and its buyers who
        pay at once; its carts apart), sorted by SKU, tick, and their class rows (`engine.orders`;
        `regs`: the stretch's regime and its sales' — a warm-up's: today's); the lines of SKUs
        that lose their whole demand in the stretch go to `Lost` instead. Coarse lines are
        placed on their ticks where a tick matters (`engine.coarse`): an empty shelf's, a stock
        that may run out or reach its reorder point, a cut. A flash sale that sells out and
        falls back cuts the stretch, and so does a switchable SKU's sell-out or change of state
        (`engine.switching`); the buyers of SKUs out of stock may switch SKU. Returns (lines,
        orders, deposit (L,) bool, carts, cut, lost)."""
        m, C, coarse, sw = self.m, self.C, draw.coarse, self.switching
        reg, sale_reg = regs
        deposit = reg.deposit[lines.k] & (lines.c < C)
        carts = lines.take(~deposit) if warm else Lines.empty()
        if warm:
            now, carts = self._buy_now(rng, carts)
            lines = Lines.concat([lines.take(deposit), now])
        lines, run.switchers = Lines.concat([lines, run.switchers]), Lines.empty()   # switched in the last tick
        empty_cut = sw.empty_cut(repl.st, repl, ch.start, cut)
        dead = self._dead(repl, run, ch.start, empty_cut)
        gone = dead[lines.k]
        gone_lines, moved, targets = sw.split(rng.keys, lines.take(gone),
                                              sw.available(repl.st, repl, ch.start, dead, reg.deposit), reg.deposit,
                                              sale_reg.rel, draw.tables, rng.split, self.rows.channel)
        lines = Lines.concat([lines.take(~gone), targets])
        live = np.argsort(lines.k * m.n_ticks + lines.t, kind="stable")            # by SKU, tick
        lines = lines.take(live)
        deposit = reg.deposit[lines.k] & (lines.c < C)
        orders = basket_classes(rng.keys, lines, self.S, self.rows.slots, self.basket_mean[lines.k, lines.s])
        orders = run.promo.top_up(rng, lines, orders, sale_reg, ~deposit)
        lines.units = orders.per_line(orders.n * orders.want, lines.size)
        owed = None if run.pull is None else run.pull.owed(ch.start)
        lines, orders = coarse.refine_orders(lines, orders, at_risk(repl.st, lines, m.reorder_point, owed), rng.split,
                                             m.n_ticks)
        if run.pull is not None:                             # buyers who already bought on the big day
            lines, orders, missing = run.pull.suppress(rng.stockout, lines, orders, ch.start, reg.deposit)
        orders = self.baskets.draw(rng.keys["addon"], lines, orders, ~(reg.deposit[lines.k] & (lines.c < C)))
        sellout, run.sellouts = sw.sellout_cut(repl.st, lines, reg.deposit, ch.start, cut,
                                               self.baskets.demand(lines, orders))
        new_cut = min(run.promo.flash_cut(ch, repl.st, lines), empty_cut, sellout)
        if new_cut < cut:
            cut = new_cut
            lines, orders, carts = coarse.cut_orders(lines, orders, cut, rng.split, carts)
            gone_lines = coarse.cut_lines(gone_lines, cut, rng.split)
            keep, stay, mstay = lines.t < cut, gone_lines.t < cut, moved.t < cut
            back = Lines.concat([lines.take(~keep & (lines.c >= C) & ~lines.switched),
                                 gone_lines.take(~stay & (gone_lines.c >= C)), moved.take(~mstay & (moved.c >= C))])
            run.carts.back(back)                                     # carts due later go back to wait
            orders = orders.of_lines(keep)
            lines = lines.take(keep)
            gone_lines, moved = gone_lines.take(stay), moved.take(mstay)
            carts = carts.take(carts.t < cut)
        lost = self.lost.draw(rng, Chunk(ch.start, cut, ch.phase, ch.day), reg, run.promo.promo, gone_lines, dead,
                              draw, moved)
        if run.pull is not None:
            run.pull.commit(missing, cut, repl.rec)
        return lines, orders, reg.deposit[lines.k] & (lines.c < C), carts, cut, lost

    @staticmethod
    def _dead(repl: Replenishment, run: _Run, a: int, b: int) -> np.ndarray:
        """(K,) SKUs that lose their whole demand in [a, b) (`Replenishment.dead`), but those
        whose buyers first repay a pull-forward debt (they meet the stock play)."""
        dead = repl.dead(a, b)
        return dead if run.pull is None else dead & ~(run.pull.owed(a) > 0)

    def _buy_now(self, rng: Streams, carts: Lines) -> tuple[Lines, Lines]:
        """A warm-up's would-be carts split: of a line's n buyers, Binomial(n, `buy_now` of its
        SKU) pay at once (inverse CDF on a uniform keyed to the line), the rest add to cart.
        Returns (buyers who pay now, carts)."""
        share = self.m.buy_now[carts.k]
        if not (share > 0).any():
            return Lines.empty(), carts
        u = keyed_uniforms(rng.keys["buy_now"], line_keys(rng.keys["line"], carts, self.S, self.rows.slots))
        x = binomial_quantile(u, carts.n, share)
        now, rest = carts.take(x > 0), carts.take(carts.n > x)
        now.n, rest.n = x[x > 0], (carts.n - x)[carts.n > x]
        return now, rest

    def _book(self, ch: Chunk, rng: Streams, st: StockState, rec: RunRecord, ps, reg, out,
              deposit: np.ndarray) -> None:
        """What the stock served: deposits (taken now, paid later) and sales (`reg` their regime)."""
        ps.record_stockouts(rec, out)
        if deposit.any():
            ps.record_deposits(rng, rec, out, deposit)
        sale = ~deposit
        if not sale.any():
            return
        if sale.all():
            self._book_sales(ch, rng, rec, st, ps, out.lines, out.served, out.served_n, out.orders, reg)
        else:
            self._book_sales(ch, rng, rec, st, ps, out.lines.take(sale), out.served[sale], out.served_n[sale],
                             out.orders.of_lines(sale), reg)

    # ---------------------------------------------------------------- draws
    def _draw(self, ch: Chunk, rng: Streams, run: _Run, reg, dead: np.ndarray | None, st: StockState,
              until: int) -> "Draw":
        """The stretch's visits per tick × visit row (the chunk's draws; budgeted paid search as
        its budget pays, auctions as served), split into buyer lines and claims (`visitors`;
        the segments of `dead` SKUs' buyers are drawn later, by `lost.LostDemand`) — those of the ticks
        before `until` only (the stretch is cut there)."""
        m, C = self.m, self.C
        n = ch.end - ch.start
        off = ch.start - run.visits_from
        visits = run.visits[off:off + n].copy()                       # (n, R)
        lam = m.traffic[ch.start:ch.end] * run.boost[None, :]
        paid, auctions = {}, {}
        buying, stopped = self.budgets.budgeted(run)
        for c in buying:                                               # offered clicks, cut by the budget
            paid[c] = self.budgets.clicks(ch, run, c, visits[:, c])
            visits[:, c] = paid[c][0]
        for c in stopped:                                              # stopped by their exhaustion event
            paid[c] = (np.zeros(n, dtype=np.int64), -1)
            visits[:, c] = 0
        for c, b in run.auction_budgets.items():                       # ad groups in auctions: a row per
            d = auctions[c] = draw_auctions(b.au, run.auction_plans[c], ch.start, ch.end, b, rng.auction_detail)
            paid[c] = (d.clicks, -1)                                   # conversion multiplier
            rows = self.rows.group_row[c]
            visits[:, np.unique(rows)] = 0
            np.add.at(visits, (d.t, rows[d.g]), 1)
        h = until - ch.start                                          # ticks split into buyers
        rates = self.rows.rates(m, lam[:h], ch.start)                 # expected visits per row: paid as drawn
        mine = np.flatnonzero(np.isin(self.rows.channel, list(paid)))
        rates[:, mine] = visits[:h, mine]
        run.promo.limit_weights(reg, rates, self.rows)                # per-customer limits: shares per tick
        tab = tables(self.rows, m, ch.phase, reg, h, ch.start)
        due = run.carts.pending
        mine = (due.t >= ch.start) & (due.t < until)                   # carts paying in the stretch: their demand too
        carts = np.bincount(due.k[mine], weights=due.n[mine], minlength=self.K)
        owed = None if run.pull is None else run.pull.owed(ch.start) > 0
        how = grouping(m.grid.period[ch.start:until], tab, visits[:h], st, m.reorder_point, self.basket_mean, dead,
                       run.promo.left, carts, self.switching.apart(dead), owed)
        sp = split_visits(visits[:h], tab, self.rows, rng.keys, rng.split, ch.start, self.K, self.S, dead, how)
        by_channel = np.zeros((n, C), dtype=np.int64)
        np.add.at(by_channel.T, self.rows.channel, visits.T)
        claims = np.zeros((n, C, sp.claims.shape[2]), dtype=np.int64)
        if claims.shape[2]:
            np.add.at(claims[:h].transpose(1, 0, 2), self.rows.channel, sp.claims.transpose(1, 0, 2))
        return Draw(sp.lines, by_channel, claims, paid, lam, auctions, tab, sp.coarse)

    def _commit_budgets(self, ch: Chunk, run: _Run, rec: RunRecord, draw: "Draw", rng: Streams, cut: int) -> None:
        """Book the paid clicks of the ticks kept, [ch.start, cut): the flat-cpc budgets
        (`budgets`), and the auctions' spend and ad-group counts."""
        for c, d in draw.auctions.items():
            b = run.auction_budgets[c]
            commit_auctions(b.au, run.auction_plans[c], d, b, rng.auction_detail, rec, cut - ch.start)
            for rel, o, spent in d.exhausted:                       # budgets reached in the ticks kept: logged
                run.moments.at(d.start + rel, "budget_exhausted", b.au.owners[o], spent)   # by the booking
        self.budgets.commit(run, ch, {c: p for c, p in draw.paid.items() if c not in draw.auctions})

    # ------------------------------------------------------------ recording
    def _book_sales(self, ch: Chunk, rng: Streams, rec: RunRecord, st: StockState, ps, sold: Lines,
                    served: np.ndarray, served_n: np.ndarray, got: Orders, reg) -> None:
        """Sale lines paid in the stretch — `served` units and `served_n` orders per line, `got`
        their class rows — priced by the regime `reg` in force (`ps` the promotion part):
        orders, units, GMV, coupons, reductions, what buyers paid, returns. A warm-up cart is
        priced at the tick the plan says (`Model.carts[·].priced_at`): its pay tick, inside the
        stretch; a plan pricing it elsewhere has it booked under that tick's regime."""
        priced = self._priced_at(sold)
        elsewhere = (priced >= 0) & ((priced < ch.start) | (priced >= ch.end))
        if not elsewhere.any():
            self.books.sales(ch, rec, self.books.attribute(ch, sold, served, served_n), reg.price)
            ps.record_orders(rng, rec, st, sold, got, reg)
            return
        for tick in [-1, *np.unique(priced[elsewhere]).tolist()]:
            mine = ~elsewhere if tick < 0 else priced == tick
            part, at = sold.take(mine), reg if tick < 0 else ps.regime_at(tick, ch.phase)
            self.books.sales(ch, rec, self.books.attribute(ch, part, served[mine], served_n[mine]), at.price)
            ps.record_orders(rng, rec, st, part, got.of_lines(mine), at)

    def _priced_at(self, lines: Lines) -> np.ndarray:
        """(L,) the tick whose regime prices each line: a warm-up cart's from the plan
        (`CartPayment.priced_at` of its pay tick), −1 for every other line (priced where paid)."""
        out = np.full(lines.size, -1, dtype=np.int64)
        cart = np.flatnonzero(lines.c >= self.C)
        for cp in self.m.carts if cart.size else ():
            w = lines.t[cart] - cp.first
            mine = (w >= 0) & (w < cp.priced_at.size)
            out[cart[mine]] = cp.priced_at[w[mine]]
        return out

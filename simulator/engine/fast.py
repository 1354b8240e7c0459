"""The fast engine: SimPy owns the clock and the decisive moments; visitors come in batches.

Per chunk (one local day within one phase) the engine draws, with numpy:
  * buyers per SKU × tick × segment (a "cell"): Poisson(Σ_c traffic[t, c] · reach[phase, c, k·s]);
  * visitors who buy nothing per tick × channel: Poisson(traffic · (1 − buy_prob)).
By Poisson thinning these are exactly the buyers and non-buyers of Poisson visits.
A budgeted paid channel is drawn apart: its clicks per tick first (Poisson), cut at
the exact tick its budget runs out, then split into non-buyers and buyers of each
SKU × segment (multinomial per tick). Channels whose traffic does not share the
chunk's common shape (CRM pushes after a send) are split off each non-empty cell
with a binomial. The other channels stay pooled and are attributed
after the stock is played (`attribution`). Stock is played with cumsum +
searchsorted, the SimPy clock jumping to each stock-out, reorder and delivery
(`stock`). Cost grows with ticks × SKUs × segments, not with the number of visitors.
"""

from __future__ import annotations

import numpy as np
import simpy

from simulator.engine.attribution import attribute
from simulator.engine.auctions import AuctionBudgets, commit_auctions, draw_auctions, plan_auctions
from simulator.engine.baskets import order_lines, order_sizes, split_classes, top_up
from simulator.engine.lines import POOLED, Lines
from simulator.engine.plan_changes import apply_changes
from simulator.engine.poisson import sparse_poisson
from simulator.engine.promo_state import Draw, PromoState
from simulator.engine.stock import StockState, play
from simulator.engine.streams import Streams
from simulator.model import Chunk, Model
from simulator.pacing import paced
from simulator.record import RunRecord
from simulator.rules.snapshot import RuleRunner


class _Run:
    """Mutable state of one replication besides stock: budgets, carts and promotions."""

    def __init__(self, model: Model, rules: RuleRunner | None = None):
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
        self.cart_pool: dict[int, np.ndarray] = {}     # warm-up phase → (G, K, S, C) carts
        self.pending_carts = Lines.empty()
        self.promo = PromoState(model) if model.promo is not None else None
        self.boost = np.ones(len(model.channels))      # (C,) organic feedback multiplier of today
        self.auction_budgets = {au.c: AuctionBudgets(au) for au in model.auctions}
        self.auction_plans: dict = {}                  # auction channel → the chunk's AuctionPlan
        self.rules = RuleRunner(model.scenario, model.grid, rules) if rules is not None else None


class FastEngine:
    """Vectorized engine. `run(seed)` plays one replication and returns its `RunRecord`."""

    name = "fast"

    def __init__(self, model: Model):
        self.m = model
        self.K, self.S, self.C = len(model.skus), len(model.segments), len(model.channels)
        self.G = 1 if model.promo is None else model.promo.G
        self.flat_paid = [c for c in range(self.C) if model.cpc[c] > 0]   # paid search at a flat cpc
        self.n_periods = int(model.grid.period[-1]) + 1
        self.rules = RuleRunner(model.scenario, model.grid) if model.scenario.rules else None   # compiled once
        self.rule_ticks = set(self.rules.ticks) if self.rules is not None else set()
        self._own: dict[tuple, list[int]] = {}                       # (start, end, active) → own channels
        self._spans = {(c.start, c.end) for c in model.chunks}

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
        env.process(self._announce(env, rec))
        for tick, k, units in m.inbound:
            env.process(self._deliver(env, st, rec, tick, k, units, "inbound"))
        env.process(self._campaign(env, rng, st, _Run(m, self.rules), rec))
        env.run()
        return rec

    def _announce(self, env, rec: RunRecord):
        """Calendar process: phase starts, launch moments, CRM sends, display budget caps."""
        for tick, kind, subject, value in self.m.fixed_events:
            yield env.timeout(tick - env.now)
            rec.events.append((tick, kind, subject, value))

    def _deliver(self, env, st: StockState, rec: RunRecord, tick: int, k: int, units: int, kind: str):
        """A shipment (`inbound`, `reorder`) or reserved units coming back (`release`) at the
        start of `tick` (before that tick's demand)."""
        yield env.timeout(tick - env.now)
        st.inbox.append((tick, k, units, kind))
        if kind != "release":
            rec.events.append((tick, "arrival", self.m.skus[k], float(units)))
        if not st.signal.triggered:
            st.signal.succeed()

    def reorder(self, env, st: StockState, rec: RunRecord, k: int, tick: int) -> None:
        """(s, Q): while stock on hand + held back + on order ≤ s, order Q (arrives lead time later).
        The lots one check places are counted at once (one order, one delivery): never a loop
        per lot, whatever s / Q is."""
        m = self.m
        if m.reorder_point[k] < 0:
            return
        gap = int(m.reorder_point[k]) - int(st.position(k))
        if gap < 0:
            return
        q = (gap // int(m.reorder_qty[k]) + 1) * int(m.reorder_qty[k])
        st.on_order[k] += q
        rec.events.append((tick, "reorder", m.skus[k], float(q)))
        if tick + m.lead_ticks[k] < m.n_ticks:
            env.process(self._deliver(env, st, rec, tick + int(m.lead_ticks[k]), k, q, "reorder"))

    def _campaign(self, env, rng: Streams, st: StockState, run: _Run, rec: RunRecord):
        """Chunk by chunk; a chunk is cut where a promotion's state changes (a coupon pool
        empties, a flash sale falls back to the regular price) and the rest drawn again."""
        m = self.m
        for ch in m.chunks:
            if ch.day != run.day:
                run.carried = np.where(m.carry_over & (run.day >= 0), run.daily_left, 0.0)   # what is left
                run.day = ch.day
                run.daily_left = run.daily_budget + run.carried
                run.day_allow = np.minimum(run.daily_left, run.total_left)
                run.spent_today[:] = 0.0
                for b in run.auction_budgets.values():
                    b.new_day()
                self._rank(ch.start, run, rec)
            if ch.start in self.rule_ticks:                  # mid-campaign rules, before the tick's visitors
                apply_changes(self, run, run.rules.fire(ch.start, rec))
            run.auction_plans = {c: plan_auctions(b.au, ch.phase, ch.start, ch.end, m.grid.period[ch.start:ch.end],
                                                  rng.auctions, rng.auction_detail)
                                 for c, b in run.auction_budgets.items()}
            a = ch.start
            while a < ch.end:
                a = yield from self._stretch(env, rng, st, run, rec, Chunk(a, ch.end, ch.phase, ch.day))
        if run.promo is not None:
            run.promo.finish(self, st, rec)

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

    def _stretch(self, env, rng: Streams, st: StockState, run: _Run, rec: RunRecord, ch: Chunk):
        """Play ticks [ch.start, cut] of a chunk; returns the first tick not played."""
        m, C = self.m, self.C
        ps = run.promo
        reg = ps.begin(self, env, st, rec, ch) if ps is not None else None
        reach = m.reach[ch.phase] if reg is None else reg.reach
        boost = None if ps is None else ps.boost(ch)
        draw = self._draw(ch, rng, run, reach, boost, reg)
        lines, pooled_pi = draw.lines, draw.pooled_pi
        warm = bool(m.warmup[ch.phase])
        if reg is not None:
            lines = split_classes(rng.claims, lines, reg, draw.alpha, C, ch.start)
            draw.lines = lines
        if not warm:
            self._release_carts(ch, rng, run)
        cut = ch.end
        if ps is not None:
            cut = ps.pool_cut(self, rng, ch, draw)            # a coupon pool empties: cut after that tick
        if not warm:
            due = (run.pending_carts.t >= ch.start) & (run.pending_carts.t < cut)
            lines = Lines.concat([draw.lines, run.pending_carts.take(due)])
            run.pending_carts = run.pending_carts.take(~due)
        else:
            lines = draw.lines
        sizes = None
        deposit = np.zeros(lines.size, dtype=bool) if reg is None else reg.deposit[lines.k] & (lines.c < C)
        if reg is not None:
            lines, deposit = ps.fix_deposit_channels(rng, lines, deposit, pooled_pi)
            if warm:                                          # warm-up: only deposits meet the stock now
                cart_lines = lines.take(~deposit)
                lines = lines.take(deposit)
                deposit = deposit[deposit]
            order = np.argsort(lines.k * m.n_ticks + lines.t, kind="stable")   # by SKU, tick: sorted runs merge
            lines, deposit = lines.take(order), deposit[order]
            sizes = order_sizes(rng.units, lines, m.extra_units, ps.promo.basket_units)
            o_line = order_lines(lines)
            sizes = top_up(rng.baskets, lines, sizes, reg.price, reg, ps.promo, ~deposit, o_line)
            lines.units = np.bincount(o_line, weights=sizes, minlength=lines.size).astype(np.int64)
            flash_cut = ps.flash_cut(ch, st, lines)
            if flash_cut < cut:
                cut = flash_cut
                keep = lines.t < cut
                back = ~keep & (lines.c >= C)                  # carts due later go back to wait
                run.pending_carts = Lines.concat([run.pending_carts, Lines(lines.t[back], lines.k[back], lines.s[back],
                                                                           lines.c[back], lines.n[back], None, lines.cls[back])])
                sizes = sizes[np.repeat(keep, lines.n)]
                lines, deposit = lines.take(keep), deposit[keep]
                if warm:
                    cart_lines = cart_lines.take(cart_lines.t < cut)
            draw.truncate(cut - ch.start)
        elif warm:
            cart_lines, lines = lines, Lines.empty()
            deposit = np.zeros(0, dtype=bool)
        self._commit_budgets(ch, run, rec, draw, rng, cut)
        ch = Chunk(ch.start, cut, ch.phase, ch.day)
        if reg is None:
            extra = m.extra_units[lines.k]
            lines.units = lines.n + rng.units.poisson(lines.n * extra) if extra.any() else lines.n.copy()
        out = yield from play(self, env, ch, rng, st, rec, lines, pooled_pi, sizes)
        nonbuy = draw.nonbuy
        buyers = 0.0
        if warm:                                              # carts by coupon class: (G, K, S, C)
            pool = np.zeros((self.G, self.K, self.S, self.C))
            for g in range(self.G):
                part = cart_lines.take(cart_lines.cls == g)
                att = self._attribute(ch, rng, part, part.n, part.n, np.zeros(part.size, dtype=bool), [], pooled_pi)
                pool[g] = att.orders.sum(axis=0)
                buyers = buyers + att.buyers
                self._record_carts(ch, rec, att.orders)
            run.cart_pool[ch.phase] = run.cart_pool.get(ch.phase, 0) + pool
        sale = ~deposit
        if reg is not None and deposit.any():
            buyers = buyers + ps.record_deposits(self, rng, rec, ch, out, deposit)
        if not warm or (reg is not None and deposit.any()):
            every = bool(sale.all())
            sold = out.lines if every else out.lines.take(sale)
            got = self._attribute(ch, rng, sold, out.served if every else out.served[sale],
                                  out.served_n if every else out.served_n[sale],
                                  out.direct if every else out.direct[sale], out.orders, pooled_pi)
            buyers = buyers + got.buyers
            price = m.price[ch.phase] if reg is None else reg.price
            self._record_sales(ch, rng, rec, got, price, None if ps is None else ps.return_rates(price))
            if reg is not None:
                ps.record_orders(self, rec, ch, out, sale, sold, reg)
        self._record_traffic(ch, rec, nonbuy, buyers)
        self._record_stock(ch, rec, out)
        if ps is not None:
            ps.end(self, rng, rec, ch, draw)
        return cut

    # ---------------------------------------------------------------- draws
    def _draw(self, ch: Chunk, rng: Streams, run: _Run, reach: np.ndarray, boost, reg) -> "Draw":
        """Buyer lines, non-buyers (n, C), the pooled channels' attribution probabilities
        (K·S, C) and, with promotions, non-buying coupon claimers (n, C, J) of one chunk.
        `boost` (n, K): flash-sale surge of each SKU's visits from channels without a budget."""
        m, K, S, C = self.m, self.K, self.S, self.C
        n = ch.end - ch.start
        lam = m.traffic[ch.start:ch.end] * run.boost[None, :]
        J = 0 if reg is None else reg.W.shape[0] - 1
        parts, paid_nonbuy, paid, paid_claims = [], {}, {}, {}
        budgeted = [c for c in self.flat_paid if np.isfinite(run.daily_budget[c]) or np.isfinite(run.total_budget[c])]
        for c in budgeted:                                             # drawn apart, budget first
            paid[c] = self._paid_visits(ch, rng, run, c, lam[:, c])
        auctions = {}
        for c, b in run.auction_budgets.items():                       # ad groups in auctions
            au = b.au
            auctions[c] = draw_auctions(au, run.auction_plans[c], ch.start, ch.end, b, rng.auction_detail)
            paid[c] = (auctions[c].clicks, -1)
        if reg is not None:                                            # per-customer limits: shares per tick
            clicks = lam.copy()
            for c, (visits, _) in paid.items():
                clicks[:, c] = visits
            run.promo.limit_weights(reg, clicks, boost)
        for c in paid:
            lam[:, c] = 0.0
            lines, paid_nonbuy[c], paid_claims[c] = self._paid_buyers(ch, rng, c, paid[c][0], reach[c], reg)
            parts.append(lines)
        own = self._own_channels(ch, lam)
        if reg is not None and reg.Wt is not None:                     # Σ_g shares(t) × (lam @ base_g)
            per_class = np.stack([(lam @ reg.base[g].reshape(C, K * S)).reshape(n, K, S)
                                  for g in range(reg.W.shape[0])], axis=1)         # (n, G, K, S)
            rate = np.einsum("tgks,tgks->tks", reg.Wt, per_class)
            rate = np.ascontiguousarray(rate.transpose(1, 0, 2))
        else:
            rate = np.matmul(lam[None], reach.reshape(C, K, S).transpose(1, 0, 2))   # (K, n, S)
        if boost is not None:
            rate *= boost.T[:, :, None]
        idx, remaining = sparse_poisson(rng.orders, rate)             # non-empty cells by SKU, tick, segment
        k, rest = np.divmod(idx, n * S)
        t, s = np.divmod(rest, S)
        left = rate.ravel()[idx]
        for c in own:
            live = lam[t, c] > 0                                       # the channel's own ticks only
            if reg is not None and reg.Wt is not None:
                tl, kl, sl = t[live], k[live], s[live]
                p_c = lam[tl, c] * np.einsum("lg,gl->l", reg.Wt[tl, :, kl, sl], reg.base[:, c, kl, sl])
            else:
                p_c = lam[t[live], c] * reach[c, k[live] * S + s[live]]
            if boost is not None:
                p_c = p_c * boost[t[live], k[live]]
            mine = np.zeros_like(remaining)
            mine[live] = rng.split.binomial(remaining[live], np.clip(p_c / np.maximum(left[live], 1e-300), 0.0, 1.0))
            left[live] -= p_c
            remaining = remaining - mine
            hit = mine > 0
            parts.append(Lines(t[hit] + ch.start, k[hit], s[hit], np.full(int(hit.sum()), c), mine[hit]))
        pooled = [c for c in range(C) if c not in own and lam[:, c].any()]
        hit = remaining > 0
        label = pooled[0] if len(pooled) == 1 else POOLED
        parts.insert(0, Lines(t[hit] + ch.start, k[hit], s[hit], np.full(int(hit.sum()), label), remaining[hit]))
        claims = np.zeros((n, C, J), dtype=np.int64)
        if reg is None:
            nonbuy = rng.traffic.poisson(lam * (1.0 - m.buy_prob[ch.phase]))
        else:                                                          # non-buyers: claimers of each coupon, and the rest
            if reg.Wt is None:                                         # (n or 1, G, C) shares that do not buy
                per_sku = np.einsum("gks,gcks->gkc", reg.W, reg.nobuy)
                stay = per_sku.sum(axis=1)[None] if boost is None else np.einsum("tk,gkc->tgc", boost, per_sku)
            else:
                b = np.ones((n, K)) if boost is None else boost
                stay = np.einsum("tk,tgks,gcks->tgc", b, reg.Wt, reg.nobuy, optimize=True)
            nonbuy = rng.traffic.poisson(np.maximum(lam * stay[:, 0], 0.0))
            if J and reg.W[1:].any():
                claims = rng.claims.poisson(lam[:, :, None] * stay[:, 1:].transpose(0, 2, 1))
                nonbuy = nonbuy + claims.sum(axis=2)
        for c, nb in paid_nonbuy.items():
            nonbuy[:, c] = nb
            if J:
                claims[:, c] = paid_claims[c]
        alpha = np.zeros(C)
        if pooled:
            shape = lam[:, pooled].sum(axis=1)
            at = int(np.argmax(shape))
            alpha[pooled] = lam[at, pooled] / shape[at]
        w = alpha[:, None] * reach                                     # (C, K·S)
        tot = w.sum(axis=0)
        pooled_pi = np.where(tot > 0, w / np.where(tot > 0, tot, 1.0), 1.0 / C).T
        return Draw(Lines.concat(parts), nonbuy, pooled_pi, alpha, claims, paid, lam, auctions)

    def _paid_visits(self, ch: Chunk, rng: Streams, run: _Run, c: int, lam: np.ndarray):
        """(n,) clicks of a budgeted paid channel, stopped at the exact tick its daily or total
        budget runs out: that tick keeps the clicks the budget still pays for (visitors are
        exchangeable, so which of them is a uniform choice); spend ≤ budget, short of it by
        less than one click. Returns (clicks, relative tick of the last paid click or −1)."""
        m = self.m
        allowed = int(np.floor(min(run.daily_left[c], run.total_left[c]) / m.cpc[c] + 1e-9))
        if allowed <= 0:                                               # exhausted earlier
            return np.zeros(lam.size, dtype=np.int64), -1
        visits = rng.traffic.poisson(lam)
        share = run.pace_share[ch.start:ch.end, c]
        if np.isfinite(share).all():                                   # pacing: never ahead of the line
            cpc = float(m.cpc[c])
            if np.isfinite(run.daily_budget[c]):
                line = run.day_allow[c] * share - run.spent_today[c]
            else:
                line = run.total_budget[c] * share - run.spent_total[c]
            cap = np.clip(np.floor(line / cpc + 1e-9), 0, allowed)
            paid = paced(visits, cap).astype(np.int64)
            kept = np.diff(paid, prepend=0)
            cut = np.flatnonzero(paid >= allowed)                      # the last click the budget pays
            return kept, (int(cut[0]) if cut.size else -1)
        cum = np.cumsum(visits)
        if cum[-1] < allowed:
            return visits, -1
        i = int(np.searchsorted(cum, allowed, side="left"))           # tick i: the last paid click
        visits[i] = allowed - (int(cum[i - 1]) if i else 0)
        visits[i + 1:] = 0
        return visits, i

    def _commit_budgets(self, ch: Chunk, run: _Run, rec: RunRecord, draw: "Draw", rng: Streams, cut: int) -> None:
        """Book the paid clicks of the ticks kept, [ch.start, cut): budget state, exhaustion
        events, and the auctions' spend and ad-group counts."""
        m = self.m
        for c, d in draw.auctions.items():
            b = run.auction_budgets[c]
            commit_auctions(b.au, run.auction_plans[c], d, b, rng.auction_detail, rec, cut - ch.start)
        for c, (visits, stop) in draw.paid.items():
            if c in draw.auctions:
                continue
            spent = float(visits.sum() * m.cpc[c])
            if 0 <= stop < visits.size:
                rec.events.append((ch.start + stop, "budget_exhausted", m.channels[c], run.spent_today[c] + spent))
            run.spent_today[c] += spent
            run.daily_left[c] -= spent
            run.total_left[c] -= spent
            run.spent_total[c] += spent

    def _paid_buyers(self, ch: Chunk, rng: Streams, c: int, visits: np.ndarray, reach: np.ndarray, reg):
        """Split each tick's paid visitors into non-buyers and buyers of SKU × segment
        (one multinomial per tick with visitors); with coupons, non-buyers who claim coupon j
        are a category of their own. Returns (Lines sorted by SKU, tick; (n,) non-buyers;
        (n, J) claiming non-buyers)."""
        S = self.S
        J = 0 if reg is None else reg.W.shape[0] - 1
        rows = np.flatnonzero(visits)
        nonbuy = np.zeros(visits.size, dtype=np.int64)
        claims = np.zeros((visits.size, J), dtype=np.int64)
        if not rows.size:
            return Lines.empty(), nonbuy, claims
        if reg is None:
            probs = np.r_[max(0.0, 1.0 - reach.sum()), reach][None, :]
        else:                                                          # per tick where limits bind
            W = reg.weights(visits.size)[rows] if reg.Wt is not None else reg.W[None]
            buy = np.einsum("rgks,gks->rks", W, reg.base[:, c]).reshape(W.shape[0], -1)
            claim_p = np.einsum("rgks,gks->rg", W[:, 1:], reg.nobuy[1:, c])
            probs = np.concatenate([np.maximum(0.0, 1.0 - buy.sum(axis=1) - claim_p.sum(axis=1))[:, None],
                                    claim_p, buy], axis=1)
        probs = probs / probs.sum(axis=1, keepdims=True)
        if probs.shape[0] == 1:                                        # one split for every tick: buyers first
            return self._split_buyers(ch, rng, c, visits, rows, probs[0], J)
        draws = rng.split.multinomial(visits[rows], probs)             # (rows, 1 + J + K·S)
        nonbuy[rows] = draws[:, :1 + J].sum(axis=1)
        claims[rows] = draws[:, 1:1 + J]
        r, ks = np.nonzero(draws[:, 1 + J:])
        k, s = np.divmod(ks, S)
        t = rows[r]
        order = np.lexsort((s, t, k))
        return (Lines(t[order] + ch.start, k[order], s[order], np.full(r.size, c),
                      draws[r, ks + 1 + J][order].astype(np.int64)), nonbuy, claims)

    def _split_buyers(self, ch: Chunk, rng: Streams, c: int, visits: np.ndarray, rows: np.ndarray,
                      probs: np.ndarray, J: int):
        """The multinomial split of `_paid_buyers` when every tick has the same probabilities
        (1 + J + K·S,), drawn in its exact sequential form: buyers per tick ~ Binomial(visits,
        P(buy)), each buyer's SKU × segment from the buy probabilities (an inverse CDF), the
        non-buyers over "no claim" and the J claims by a multinomial."""
        S = self.S
        p_buy = probs[1 + J:]
        total = float(p_buy.sum())
        n_rows = visits[rows]
        buyers = rng.split.binomial(n_rows, min(total, 1.0))
        nonbuy = np.zeros(visits.size, dtype=np.int64)
        claims = np.zeros((visits.size, J), dtype=np.int64)
        rest = n_rows - buyers
        if J:
            stay = probs[:1 + J] / max(float(probs[:1 + J].sum()), 1e-300)
            split = rng.split.multinomial(rest, stay)                  # (rows, 1 + J)
            claims[rows] = split[:, 1:]
        nonbuy[rows] = rest
        if not buyers.any():
            return Lines.empty(), nonbuy, claims
        t = np.repeat(rows, buyers)
        cum = np.cumsum(p_buy / total)
        ks = np.minimum(np.searchsorted(cum, rng.split.random(t.size), side="right"), p_buy.size - 1)
        k, s = np.divmod(ks, S)
        key, n = np.unique((k * visits.size + t) * S + s, return_counts=True)   # by SKU, tick, segment
        kt, s = np.divmod(key, S)
        k, t = np.divmod(kt, visits.size)
        return Lines(t + ch.start, k, s, np.full(key.size, c), n.astype(np.int64)), nonbuy, claims

    def _own_channels(self, ch: Chunk, lam: np.ndarray) -> list[int]:
        """Channels whose traffic `lam` (n, C) is not proportional to the stretch's common shape
        (the largest channel's): split off each cell rather than pooled. Scaling a channel (the
        day's organic boost) keeps proportions, so the answer is kept per stretch and set of
        active channels."""
        active = tuple(int(c) for c in np.flatnonzero(lam.any(axis=0)))
        key = (ch.start, ch.end, active)
        if key in self._own:
            return self._own[key]
        own = self._find_own(lam, list(active))
        if (ch.start, ch.end) in self._spans:                         # whole chunks only: a bounded cache
            self._own[key] = own
        return own

    def _find_own(self, lam: np.ndarray, active: list[int]) -> list[int]:
        if not active:
            return []
        base = lam[:, max(active, key=lambda c: lam[:, c].sum())]
        own = []
        scale = base.max()
        for c in active:
            ratio = lam[:, c].sum() / base.sum()
            gap = np.abs(lam[:, c] - ratio * base) - 1e-9 * ratio * np.abs(base)   # allclose, rtol 1e-9
            if gap.max() > 1e-12 * scale:
                own.append(c)
        return own

    # ---------------------------------------------------------------- carts
    def _release_carts(self, ch: Chunk, rng: Streams, run: _Run):
        """At the first tick of a sale phase, pooled carts pay through, spread over minutes.
        A cart keeps its coupon class (the pool is (G, K, S, C))."""
        S, C, K = self.S, self.C, self.K
        for phase, (first_tick, profile) in self.m.pay_start.items():
            if first_tick != ch.start or phase not in run.cart_pool:
                continue
            paying = rng.carts.binomial(run.cart_pool.pop(phase).ravel().astype(np.int64), self.m.cart_pay_through)
            cells = np.flatnonzero(paying)
            spread = rng.carts.multinomial(paying[cells], profile)      # (cells, W)
            ci, w = np.nonzero(spread)
            ks, c = np.divmod(cells[ci], C)
            g, ks = np.divmod(ks, K * S)
            k, s = np.divmod(ks, S)
            new = Lines(first_tick + w, k, s, c + C, spread[ci, w].astype(np.int64),   # carts: c + C
                        None, g if self.G > 1 else None)
            run.pending_carts = Lines.concat([run.pending_carts, new])

    # ------------------------------------------------------------ recording
    def _hours(self, ch: Chunk):
        per = self.m.grid.period
        return per[ch.start], per[ch.end - 1] + 1

    def _attribute(self, ch, rng, lines, served, served_n, direct, orders, pooled_pi):
        per = self.m.grid.period
        lo, hi = self._hours(ch)
        return attribute(rng.split, lines, served, served_n, direct, orders, per[lines.t] - lo, hi - lo,
                         pooled_pi, self.K, self.S, self.C, lambda t: per[t] - lo)

    def _record_traffic(self, ch: Chunk, rec: RunRecord, nonbuy: np.ndarray, buyers: np.ndarray):
        """Visits = non-buyers + buyers (carts paying are not new visits); spend and fees."""
        m = self.m
        lo, hi = self._hours(ch)
        p_tick = m.grid.period[ch.start:ch.end]
        visits = _by_period(nonbuy.astype(float), p_tick) + buyers.sum(axis=(1, 2))
        rec.by_channel["visits"][lo:hi] += visits
        rec.by_channel["ad_spend"][lo:hi] += visits * m.cpc[None, :] + _by_period(m.media_spend[ch.start:ch.end], p_tick)
        rec.by_channel["fees"][lo:hi] += _by_period(m.fees[ch.start:ch.end], p_tick)

    def _record_carts(self, ch: Chunk, rec: RunRecord, carts: np.ndarray):
        lo, hi = self._hours(ch)
        rec.by_channel["carts"][lo:hi] += carts.sum(axis=(1, 2))
        rec.by_sku["carts"][lo:hi] += carts.sum(axis=(2, 3))

    def _record_sales(self, ch: Chunk, rng: Streams, rec: RunRecord, got, price: np.ndarray,
                      return_rate: np.ndarray | None = None):
        """Orders, units, GMV, returns, refunds and commissions per hour × SKU × channel, at
        `price` (K,) per unit; `return_rate` (K,) defaults to the SKUs' return rates."""
        m = self.m
        lo, hi = self._hours(ch)
        orders = got.orders.sum(axis=2)                                # (h, K, C)
        units = got.units.sum(axis=2).astype(np.int64)
        rate = m.return_rate if return_rate is None else return_rate
        price = price[None, :, None]
        returns = rng.returns.binomial(units, rate[None, :, None])
        gmv = units * price
        refunds = returns * price
        for name, cube in (("orders", orders), ("units", units), ("gmv", gmv),
                           ("returns", returns), ("refunds", refunds)):
            rec.by_channel[name][lo:hi] += cube.sum(axis=1)
            rec.by_sku[name][lo:hi] += cube.sum(axis=2)
        rec.by_channel["commissions"][lo:hi] += (gmv - refunds).sum(axis=1) * m.commission[None, :]

    def _record_stock(self, ch: Chunk, rec: RunRecord, out):
        """Lost units, stock-out ticks, deliveries, and stock at the end of each hour."""
        lo, hi = self._hours(ch)
        p_tick = self.m.grid.period[ch.start:ch.end]
        n = ch.end - ch.start
        lines = out.lines
        key = lines.k * n + (lines.t - ch.start)
        sold = np.bincount(key, weights=out.served, minlength=self.K * n).reshape(self.K, n)
        over = np.bincount(key, weights=out.oversold, minlength=self.K * n).reshape(self.K, n)
        ends = np.flatnonzero(np.diff(p_tick))
        starts = np.r_[0, ends + 1]
        per = {}
        for name, flow in (("lost_units", out.demand - sold - over), ("stockout_ticks", out.out_ticks),
                           ("inbound", out.arrivals), ("taken", sold), ("released", out.released)):
            per[name] = np.add.reduceat(flow, starts, axis=1).T            # (K, n) → (periods, K)
            rec.by_sku[name][lo:hi] += per[name]
        net = per["inbound"] + per["released"] - per["taken"]               # whole units: exact in floats
        rec.stock[p_tick[np.r_[ends, n - 1]]] = out.start_stock[None, :] + np.cumsum(net, axis=0)


def _by_period(x: np.ndarray, p_tick: np.ndarray) -> np.ndarray:
    """Sum rows of x (n, ·) into consecutive reporting periods; returns (periods, ·)."""
    starts = np.r_[0, np.flatnonzero(np.diff(p_tick)) + 1]
    return np.add.reduceat(x, starts, axis=0) if x.shape[0] else x

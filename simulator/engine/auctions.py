"""Search-ad auctions in the fast engine (docs/auctions.md): drawn per chunk, served per stretch.

Per chunk (drawn once at its start: `plan_auctions`), reporting period inside it ("cell") and ad
group, with Λ the expected auctions:
  * impressions ~ Poisson(Λ · P(shown)) drawn by the inverse CDF of one uniform per cell
    (`streams.auctions`, nothing else drawn from it), so the same seed couples plans and
    impressions never fall when the bid rises;
  * impressions split into clicks at each position and impressions without a click (one
    multinomial), and the auctions not won (Poisson) for the win rate;
  * clicks of groups without a budget placed in a tick by the channel's calendar shape and
    priced by the generalized second price (`AuctionChannel.price`); those of budgeted groups
    go to a `ClickPool`, which draws them tick by tick as far as a budget can use them.
Budgets and pacing: per budget owner, cumulative spend S_t = min(S_{t−1} + planned_t, line_t)
(`paced`), made exact with the clicks drawn so far (`_settle`). In a tick where the line (or
the budget) binds, clicks are served in time order until the room is used: the click that
crosses pays only what is left, so spend reaches the line exactly, and the owner sits out the
rest of that tick. Cost grows with cells and the clicks bought, not with auctions, nor with
the clicks a binding budget leaves on offer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.auctions import AuctionChannel
from simulator.engine.click_pool import ClickPool
from simulator.engine.quantiles import poisson_quantile
from simulator.pacing import paced

EPS = 1e-9


class AuctionBudgets:
    """Budget state of one auction channel in one replication, per owner (O,)."""

    def __init__(self, au: AuctionChannel):
        self.au = au
        self.total_left = au.total.copy()
        self.daily_left = au.daily.copy()
        self.day_allow = np.minimum(self.daily_left, self.total_left)
        self.spent_today = np.zeros_like(self.daily_left)
        self.spent_total = np.zeros_like(self.daily_left)
        self.carried = np.zeros_like(self.daily_left)
        self.started = False

    def new_day(self) -> None:
        """Local midnight: the daily budget resets (plus what the day before left, with carry-over)."""
        self.carried = self.daily_left if self.au.carry_over and self.started else np.zeros_like(self.daily_left)
        self.daily_left = self.au.daily + self.carried
        self.day_allow = np.minimum(self.daily_left, self.total_left)
        self.spent_today[:] = 0.0
        self.started = True

    def set_budget(self, o: int, daily: float, total: float) -> None:
        """A rule sets owner `o`'s budgets now: today's budget is measured against the new one,
        spend so far today (and in the campaign) counting."""
        self.daily_left[o] = daily + self.carried[o] - self.spent_today[o]
        self.total_left[o] = total - self.spent_total[o]
        self.day_allow[o] = min(daily + self.carried[o], self.total_left[o] + self.spent_today[o])

    def lines(self, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """(n, O) how much each owner may have spent by the end of each tick from now, and the
        (O,) budget left (the day's, within the campaign's)."""
        au = self.au
        allowed = np.minimum(self.daily_left, self.total_left)
        share = au.pace[start:end]
        with np.errstate(invalid="ignore"):                    # inf − inf where a budget is unset
            daily_line = self.day_allow[None, :] * share - self.spent_today[None, :]
            total_line = au.total[None, :] * share - (au.total - self.total_left)[None, :]
            line = np.where(np.isfinite(au.daily)[None, :], daily_line, total_line)
        line = np.where(np.isfinite(share), line, np.inf)
        return np.clip(np.minimum(line, allowed[None, :]), 0.0, None), allowed


@dataclass
class AuctionPlan:
    """The auctions of one chunk [start, start + n) as they would go with no budget: drawn once
    at the chunk's start and served stretch by stretch (auctions do not depend on the store, so
    a stretch cut short takes up the same plan where it stopped). Cells: the chunk's
    reporting periods; `left_*` what a cell still holds for the ticks not yet booked."""

    start: int
    n: int
    starts: np.ndarray          # (H',) first relative tick of each cell
    period0: int                # reporting period of cell 0
    t: np.ndarray               # (N,) clicks of groups without a budget: relative tick
    cls: np.ndarray             # (N,) their class: ad group × J + position
    price: np.ndarray           # (N,) their second price
    pool: ClickPool | None      # the budgeted groups' clicks, drawn as far as needed
    J: int
    left_nonclick: np.ndarray   # (H', G) impressions without a click not yet booked
    left_lost: np.ndarray       # (H', G) auctions lost not yet booked
    left_mass: np.ndarray       # (H',) calendar weight of the cell's ticks not yet booked
    cell: np.ndarray            # (n,) the cell of each relative tick


@dataclass
class AuctionDraw:
    """One stretch [start, start + n) of one auction channel: the plan's clicks from `start`
    on, served under the budgets in force."""

    start: int
    n: int                      # ticks of the stretch
    clicks: np.ndarray          # (n,) served clicks per tick
    t: np.ndarray               # (N,) served clicks: tick relative to `start`
    g: np.ndarray               # (N,) ad group
    charge: np.ndarray          # (N,) money paid
    S: np.ndarray               # (n, O) cumulative spend per owner
    keep: np.ndarray | None     # (n, G) share of each tick a group takes part in (None: all of it)
    exhausted: list             # (relative tick, owner, the period's spend) budgets reached

    def truncate(self, keep: int) -> None:
        """Keep the first `keep` ticks (the plan serves the rest again)."""
        if keep >= self.clicks.size:
            return
        mine = self.t < keep
        self.t, self.g, self.charge = self.t[mine], self.g[mine], self.charge[mine]
        self.clicks, self.S = self.clicks[:keep], self.S[:keep]
        if self.keep is not None:
            self.keep = self.keep.copy()
            self.keep[keep:] = 0.0
        self.exhausted = [e for e in self.exhausted if e[0] < keep]


def plan_auctions(au: AuctionChannel, phase: int, start: int, end: int, period: np.ndarray,
                  volume_rng: np.random.Generator, rng: np.random.Generator) -> AuctionPlan:
    """The auctions of ticks [start, end) (one phase, one chunk); `period` (n,) the reporting
    period of each tick."""
    n, G, J = end - start, au.G, au.ctr.size
    shape = au.shape[start:end]
    starts = np.r_[0, np.flatnonzero(np.diff(period)) + 1]
    widths = np.diff(np.r_[starts, n])
    lam = np.add.reduceat(au.rate[start:end], starts, axis=0)                 # (H', G) auctions
    shown = au.shown[phase]                                                    # (G, J)
    w = shown.sum(axis=1)
    imps = poisson_quantile(volume_rng.random(lam.shape), lam * w[None, :])   # (H', G)
    lost = rng.poisson(lam * np.clip(1.0 - w, 0.0, 1.0)[None, :])
    pos_p = np.where(w[:, None] > 0, shown / np.where(w > 0, w, 1.0)[:, None], 1.0 / J)
    click_p = pos_p * au.ctr[None, :]                                          # (G, J) click at j
    p = np.concatenate([click_p, np.clip(1.0 - click_p.sum(axis=1, keepdims=True), 0.0, 1.0)], axis=1)
    split = rng.multinomial(imps, np.broadcast_to(p, imps.shape + (J + 1,)))   # (H', G, J + 1)
    clicks = split[..., :J]                                                    # the last: shown, no click
    owned = au.owner >= 0
    free = np.where(owned[None, :, None], 0, clicks)                           # groups without a budget
    GJ = G * J
    idx = np.repeat(np.arange(free.size), free.ravel())                       # each click: cell, class
    h = idx // GJ
    cls = idx - h * GJ
    t = _place(shape, starts, widths, h, rng.random(idx.size))
    price = au.price(au.price_table(phase), cls, rng.random(idx.size))
    pool = ClickPool(au, phase, clicks, starts, widths, shape, rng) if owned.any() else None
    return AuctionPlan(start=start, n=n, starts=starts, period0=int(period[0]), t=t, cls=cls, price=price,
                       pool=pool, J=J, left_nonclick=split[..., J], left_lost=lost,
                       left_mass=np.add.reduceat(shape, starts).astype(float),
                       cell=np.repeat(np.arange(starts.size), widths))


def draw_auctions(au: AuctionChannel, plan: AuctionPlan, start: int, end: int,
                  budgets: AuctionBudgets, rng: np.random.Generator) -> AuctionDraw:
    """Serve the plan's clicks of ticks [start, end) under the budgets in force: the
    closed-form line per owner (`_settle`), then the ticks where it binds, click by click in
    their order. Budget state is read, not changed (`commit_auctions` books the ticks kept)."""
    n, G, J = end - start, au.G, plan.J
    r0 = start - plan.start
    t, cls, charge = plan.t, plan.cls, plan.price                              # groups without a budget
    if r0:                                                                     # taken up after a cut
        mine = t >= r0
        t, cls, charge = t[mine] - r0, cls[mine], charge[mine]
    O = len(au.owners)
    S = np.zeros((n, O))
    keep, exhausted = None, []
    pool = plan.pool
    if pool is not None:
        line, allowed = budgets.lines(start, end)
        planned, S = _settle(au, pool, r0, line, rng)
        tol = 1e-12 * np.maximum(np.where(np.isfinite(allowed), allowed, 0.0), planned.sum(axis=0))
        S = np.where(np.isfinite(allowed) & (S >= allowed - tol), allowed, S)   # the budget exactly, once reached
        before = np.vstack([np.zeros((1, O)), S[:-1]])
        room = line - before                                                    # at each tick's start
        allowance = S - before
        closed = room <= EPS
        binding = np.where(pool.complete(r0), allowance < planned - EPS * np.maximum(1.0, planned), ~closed)
        keep_o = np.where(closed | binding, 0.0, 1.0)
        key, slot, pcls, price = pool.key, pool.slot, pool.cls, pool.price
        if r0:
            mine = key >= r0 * O
            key, slot, pcls, price = key[mine] - r0 * O, slot[mine], pcls[mine], price[mine]
        whole = ~(binding | closed).ravel()[key]                                # every click served as drawn
        hit = np.flatnonzero(binding.ravel()[key])
        ts, cs, ps = _serve(rng, key[hit], slot[hit], pcls[hit], price[hit],
                            allowance.ravel(), pool.c[r0:].ravel(), keep_o.ravel())
        if not hit.size and whole.all():
            whole = slice(None)
        tick = np.concatenate([key[whole], ts])                                 # tick·O + owner: to ticks
        if O > 1:
            tick //= O
        t, cls, charge = ((np.concatenate([a, b]) if a.size else b) for a, b in
                          ((t, tick), (cls, np.concatenate([pcls[whole], cs])),
                           (charge, np.concatenate([price[whole], ps]))))
        if (keep_o < 1.0).any():
            keep = np.ones((n, G))
            has = au.owner >= 0
            keep[:, has] = keep_o[:, au.owner[has]]
        for o in np.flatnonzero(np.isfinite(allowed) & (allowed > 0)):
            reached = np.flatnonzero(S[:, o] >= allowed[o])
            if reached.size:
                exhausted.append((int(reached[0]), int(o), float(budgets.spent_today[o] + allowed[o])))
    return AuctionDraw(start=start, n=n, clicks=np.bincount(t, minlength=n).astype(np.int64),
                       t=t, g=cls // J, charge=charge, S=S, keep=keep, exhausted=exhausted)


def _settle(au: AuctionChannel, pool: ClickPool, r0: int, line: np.ndarray, rng: np.random.Generator):
    """Draw the pool's clicks of ticks r0… until S_t = min(S_{t−1} + planned_t, line_t) is
    exact; returns the (n, O) money of the clicks drawn per tick and S.

    A tick where not every click is drawn keeps a prefix of its order whose money passes its
    room: S is then line_t whatever the rest holds. Drawn money never exceeds the true plan,
    so S from it is at most the true S and each room at least the true one: a prefix that
    passes it passes the true room, and a tick whose prefix does not is drawn further, until
    none is left (each round only adds clicks). The first round guesses each tick's need from
    the clicks' mean price (about 1.25 × what the room buys), the rounds after it double."""
    c, mean = pool.c[r0:], pool.mean[r0:]
    k, planned = pool.k[r0:], pool.sums[r0:]
    guess = planned + (c - k) * mean
    room = line - np.vstack([np.zeros((1, c.shape[1])), paced(guess, line)[:-1]])
    want = np.where(guess <= room, c, np.where(room > EPS, k + _more(room - planned, mean, c - k), k))
    while True:
        pool.grow(r0, want, au, rng)
        k, planned = pool.k[r0:], pool.sums[r0:]
        S = np.maximum(paced(planned, line), 0.0)
        room = line - np.vstack([np.zeros((1, c.shape[1])), S[:-1]])
        short = (k < c) & (planned <= room) & (room > EPS)
        if not short.any():
            return planned, S
        want = np.where(short, k + np.maximum(np.minimum(k, c - k), _more(room - planned, mean, c - k)), k)


def _more(money: np.ndarray, mean: np.ndarray, most: np.ndarray) -> np.ndarray:
    """Clicks to draw for `money` still to cover at `mean` a click: 1.25 × its worth, plus
    one, at most `most`."""
    return np.minimum(np.ceil(np.maximum(money, 0.0) / mean * 1.25) + 1.0, most).astype(np.int64)


def _place(shape: np.ndarray, starts: np.ndarray, widths: np.ndarray, h: np.ndarray, u: np.ndarray) -> np.ndarray:
    """(N,) relative tick of clicks of cells `h`, from uniforms `u`: tick τ of a cell with
    probability shape_τ / Σ_cell shape. Exact by a mixture: the cell's least weight spread evenly
    (a floor, no search) and the rest — a launch spike's excess — by its inverse CDF."""
    n = shape.size
    cell = np.repeat(np.arange(starts.size), widths)
    least = np.minimum.reduceat(shape, starts)
    mass = np.add.reduceat(shape, starts)
    p_flat = np.where(mass > 0, least * widths / np.where(mass > 0, mass, 1.0), 1.0)
    scale = widths / np.maximum(p_flat, 1e-300)                               # u < p_flat: even, u·w/p_flat
    step = (u * scale[h]).astype(np.int64)
    last = widths - 1
    t = starts[h] + np.minimum(step, last[h])
    rest = np.flatnonzero(step > last[h]) if (p_flat < 1.0 - 1e-12).any() else np.zeros(0, dtype=np.int64)
    if rest.size:                                                              # the spike's excess
        hr = h[rest]
        pr = p_flat[hr]
        ur = (u[rest] - pr) / (1.0 - pr)
        cum = np.r_[0.0, np.cumsum(shape - least[cell])]
        a, b = cum[starts[hr]], cum[starts[hr] + widths[hr]]
        found = np.searchsorted(cum, a + ur * (b - a), side="right") - 1
        t[rest] = np.clip(found, starts[hr], np.minimum(starts[hr] + widths[hr], n) - 1)
    return t


def _serve(rng: np.random.Generator, key: np.ndarray, slot: np.ndarray, cls: np.ndarray, price: np.ndarray,
           allowance: np.ndarray, count: np.ndarray, keep: np.ndarray):
    """Drawn clicks of ticks where a line binds (`key`: tick × owners + owner, `slot`: rank in
    the tick's order): each is served in order while the tick's `allowance` lasts, the
    crossing one paying only what is left. Returns the served clicks' (key, class, charge), and
    sets in `keep`, per binding key, the moment the owner stopped: the crossing click's — the
    i-th of the tick's `count` uniform moments, Beta(i, c − i + 1) — (0 when none was served)."""
    if not key.size:
        return key, cls, price
    order = np.lexsort((slot, key))
    k, p = key[order], price[order]
    cs = np.cumsum(p)
    first = np.r_[True, k[1:] != k[:-1]]
    seg = np.cumsum(first) - 1
    base = (cs - p)[first][seg]
    excl = cs - p - base                                                    # spent in the tick before it
    room = allowance[k]
    ok = excl < room - EPS
    charge = np.minimum(p, room - excl)
    last = np.flatnonzero(ok & np.r_[~ok[1:] | (k[1:] != k[:-1]), True])   # the crossing click of each tick
    rank = slot[order][last]
    keep[k[last]] = rng.beta(rank + 1, count[k[last]] - rank)
    return k[ok], cls[order][ok], charge[ok]


def commit_auctions(au: AuctionChannel, plan: AuctionPlan, d: AuctionDraw, budgets: AuctionBudgets,
                    rng: np.random.Generator, rec, keep: int) -> None:
    """Book the first `keep` ticks of a stretch: budgets, spend, events, ad-group counts. A
    cell's impressions without a click and lost auctions are shared out over its ticks by the
    calendar weight: of what the cell still holds, the booked ticks take the share of the
    weight that fell while the group took part, the ticks after them keep theirs, and the
    rest (the group sat out) is gone."""
    d.truncate(keep)
    if d.S.shape[1] and keep:
        spent = d.S[keep - 1]
        budgets.spent_today += spent
        budgets.spent_total += spent
        budgets.daily_left -= spent
        budgets.total_left -= spent
    for rel, o, value in d.exhausted:
        rec.events.append((d.start + rel, "budget_exhausted", au.owners[o], value))
    if not keep:
        return
    r0 = d.start - plan.start
    cell = plan.cell[r0:r0 + keep]                                         # (keep,) cell of each booked tick
    c0, c1 = int(cell[0]), int(cell[-1]) + 1
    shape = au.shape[d.start:d.start + keep]
    bounds = np.r_[0, np.flatnonzero(np.diff(cell)) + 1]
    used = np.add.reduceat(shape, bounds)                                   # (cells,) weight booked
    took = (np.add.reduceat(shape[:, None] * d.keep[:keep], bounds, axis=0) if d.keep is not None
            else np.repeat(used[:, None], au.G, axis=1))                    # (cells, G) of it taken part in
    left = plan.left_mass[c0:c1]
    p_take = np.clip(took / np.where(left > 0, left, 1.0)[:, None], 0.0, 1.0)
    rest = np.clip((left - used)[:, None] / np.maximum(left[:, None] - took, 1e-300), 0.0, 1.0)
    booked = {}
    for name, held in (("nonclick", plan.left_nonclick), ("lost", plan.left_lost)):
        now = rng.binomial(held[c0:c1], p_take)
        held[c0:c1] = rng.binomial(held[c0:c1] - now, rest)                # what the later ticks keep
        booked[name] = now
    plan.left_mass[c0:c1] = np.maximum(left - used, 0.0)
    key = (cell[d.t] - c0) * au.G + d.g                                   # (N,) booked cell × ad group
    clicks = np.bincount(key, minlength=(c1 - c0) * au.G).reshape(c1 - c0, au.G)
    spend = np.bincount(key, weights=d.charge, minlength=(c1 - c0) * au.G).reshape(c1 - c0, au.G)
    rows = slice(plan.period0 + c0, plan.period0 + c1)
    book = rec.ad_groups[au.name]
    book["clicks"][rows] += clicks
    book["impressions"][rows] += clicks + booked["nonclick"]
    book["auctions"][rows] += clicks + booked["nonclick"] + booked["lost"]
    book["ad_spend"][rows] += spend
    rec.by_channel["ad_spend"][rows, au.c] += spend.sum(axis=1)

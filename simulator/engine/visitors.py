"""Visitors of a stretch: visits first, then who buys what (docs/model.md, "A visit").

Every channel brings visits, and each flash sale with a surge brings extra visits of its
SKU from every channel without a media budget; each of these is a *visit row*. A stretch's
visits are drawn per tick and row (Poisson; budgeted paid search and auctions as their
budgets allow) before anything about buying is decided, so the plan's prices cannot move
them. Then, per slot (tick × row):

  * buyers B ~ Binomial(visits, P(buy)), by the inverse CDF on a keyed uniform of the slot;
  * non-buyers who claim coupon j, one binomial after another, likewise;
  * each buyer's category — SKU × segment × coupon class, cell-major — by the inverse CDF of
    the row's purchase probabilities on a keyed uniform of the buyer (slots with more buyers
    than categories, or than ONE_BY_ONE, split by one multinomial instead: cheaper there).

By Poisson thinning this is the same law as drawing each visitor's choice; it costs
ticks × rows plus min(buyers, categories) per slot. The keyed uniforms make two plans on one
seed see the same visits and, where a price moves a probability a little, mostly the same
buyers (common random numbers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.engine.busy import Busy, Grouping, busy_slots
from simulator.engine.coarse import Coarse
from simulator.engine.keyed import keyed_uniforms
from simulator.engine.lines import Lines, first_of_cell
from simulator.engine.quantiles import binomial_quantile
from simulator.plan.regimes import ad_group_rows

ONE_BY_ONE = 64       # a slot with more buyers than this (or than categories) splits by one multinomial


@dataclass(frozen=True)
class VisitRows:
    """The visit rows of a model: its C channels, one row per (flash sale with a surge, channel
    it reaches), then one per other conversion multiplier of an auction channel's ad groups (a
    channel's own row holds its first group and those converting alike). `slots` = R + C: the
    identities also count one cart row per channel."""

    channel: np.ndarray          # (R,) channel of each row
    flash: np.ndarray            # (R,) flash-sale index of a surge row, −1 elsewhere
    C: int
    intent: np.ndarray | None = None   # (R,) conversion multiplier of each row's visits (ad groups)
    group_row: dict | None = None      # auction channel → (G,) the row of each ad group

    @property
    def R(self) -> int:
        return self.channel.size

    @property
    def slots(self) -> int:
        return self.R + self.C

    def landing(self, promo) -> np.ndarray:
        """(R, K) where a visit of each row lands: the SKU choice, or a surge row's flash SKU."""
        land = np.repeat(promo.conversion.choice[None], self.R, axis=0)
        for r in np.flatnonzero(self.flash >= 0):
            land[r] = 0.0
            land[r, promo.flash[self.flash[r]].k] = 1.0
        return land

    def cart_row(self, c: np.ndarray) -> np.ndarray:
        """The identity row of carts of channel c."""
        return self.R + c

    @classmethod
    def of(cls, model) -> VisitRows:
        C = len(model.channels)
        channel, flash = list(range(C)), [-1] * C
        sales = [] if model.promo is None else model.promo.flash
        for i, f in enumerate(sales):
            if not (f.surge > 1.0).any():                 # a sale without a surge brings no visits
                continue
            for c in np.flatnonzero(model.regimes.surge_reach):   # the plan says which channels it reaches
                channel.append(int(c))
                flash.append(i)
        more, _, group_row = ad_group_rows(model.auctions, len(channel))   # the plan's rows of ad groups
        intent = np.ones(len(channel) + len(more))
        for au in model.auctions:                         # a row's multiplier: its groups'
            if au.intent is not None:
                intent[group_row[au.c]] = au.intent
        return cls(np.array(channel + more, dtype=np.int64), np.array(flash + [-1] * len(more), dtype=np.int64), C,
                   intent, group_row)

    def rates(self, model, lam: np.ndarray, start: int) -> np.ndarray:
        """(n, R) expected visits per tick of a stretch from `start`: each channel's `lam`
        (n, C), and a surge row's λ_c · choice_k · (surge − 1) inside its sale's window."""
        n = lam.shape[0]
        out = np.zeros((n, self.R))
        out[:, :self.C] = lam
        for r in np.flatnonzero(self.flash >= 0):                     # (an ad group's row: its clicks, drawn apart)
            f = model.promo.flash[self.flash[r]]
            a, b = max(start, f.t0), min(start + n, f.t1)
            if a < b:
                extra = f.surge[a - f.t0:b - f.t0] - 1.0
                out[a - start:b - start, r] = lam[a - start:b - start, self.channel[r]] * model.promo.conversion.choice[f.k] * extra
        return out


def chunk_visits(rng, chunk: int, rates: np.ndarray) -> np.ndarray:
    """(n, R) Poisson visits of a chunk, each row from its own substream ("visits", chunk, row):
    a change to one row's volume moves no other row's visits."""
    out = np.zeros(rates.shape, dtype=np.int64)
    for r in np.flatnonzero(rates.any(axis=0)):
        out[:, r] = rng.substream("visits", chunk, int(r)).poisson(rates[:, r])
    return out


@dataclass
class Tables:
    """Purchase and claim probabilities of a stretch per row: `buy` (B, R, CAT), P(a visit
    buys and falls in category k·S·G + s·G + g — SKU, segment, coupon class); `claim` (B, R,
    J), P(a visit buys nothing and claims coupon j). B = 1 (constant tables) or one table per
    reporting period of the stretch, `row_of` (n,) the table of each tick."""

    buy: np.ndarray
    claim: np.ndarray
    G: int
    row_of: np.ndarray | None = None

    @property
    def varies(self) -> bool:
        return self.buy.shape[0] > 1

    def table(self, t: np.ndarray) -> np.ndarray:
        """The table of relative ticks `t` (0 for constant tables)."""
        return self.row_of[t] if self.varies else np.zeros_like(t)

    def at(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rows of `buy` and `claim` for relative ticks `t`."""
        i = self.table(t)
        return self.buy[i], self.claim[i]


def tables(rows: VisitRows, model, phase: int, reg, n: int, start: int) -> Tables:
    """The stretch's tables from tick `start`: the regime's class shares × its purchase
    probabilities (a plan without promotions: one class, the model's reach). Where the shares
    vary by tick (per-customer limits, the wallet: `reg.Wt`), one table per reporting period
    with the period's mean shares."""
    K, S = len(model.skus), len(model.segments)
    G = reg.W.shape[0]
    W, row_of = reg.W[None], None                                                    # (B, G, K, S)
    if reg.Wt is not None:
        per = model.grid.period[start:start + n]
        new = np.r_[True, per[1:] != per[:-1]]                                      # a period's first tick
        edges = np.flatnonzero(new)
        W = np.add.reduceat(reg.Wt, edges, axis=0) / np.diff(np.r_[edges, n])[:, None, None, None]
        row_of = np.cumsum(new) - 1
    base, nobuy = reg.base[:, rows.channel], reg.nobuy[:, rows.channel]             # (G, R, K, S)
    surge = np.flatnonzero(rows.flash >= 0)
    if surge.size:                                   # a surge visit lands on its flash SKU: choice → 1
        choice = model.promo.conversion.choice[None]
        keep = np.divide(rows.landing(model.promo), choice, out=np.ones((rows.R, K)), where=choice > 0)
        base = base * keep[None, :, :, None]
        nobuy = nobuy * keep[None, :, :, None]
    if rows.intent is not None and (rows.intent != 1.0).any():   # ad groups' multipliers, P(buy) at most 1
        conv = model.buying.conversion
        cell = conv.choice[None, None, :, None] * conv.mix[rows.channel][None, :, None, :]     # (1, R, K, S)
        scaled = np.minimum(base * rows.intent[None, :, None, None], cell)
        nobuy = np.maximum(nobuy + base - scaled, 0.0)
        base = scaled
    buy = np.einsum("xgks,grks->xrksg", W, base)                                   # cell-major, class last
    J = reg.valid.size                               # claims: classes 1 … J (a held coupon's visit claims none)
    claim = np.einsum("xgks,grks->xrg", W[:, 1:J + 1], nobuy[1:J + 1])
    if row_of is not None and W.shape[0] == 1:
        row_of = None
    return Tables(buy.reshape(buy.shape[0], rows.R, K * S * G), claim, G, row_of)


@dataclass
class Split:
    """A stretch's visitors: buyer `lines`; `buyers` and `claims` per tick × row ((n, R),
    (n, R, J)); the groups of its coarse lines."""

    lines: Lines
    buyers: np.ndarray
    claims: np.ndarray
    coarse: Coarse


def split_visits(visits: np.ndarray, tab: Tables, rows: VisitRows, keys: dict, split_rng: np.random.Generator,
                 start: int, K: int, S: int, dead: np.ndarray | None = None,
                 how: Grouping | None = None) -> Split:
    """Buyers, claims and buyer lines of `visits` (n, R) from tick `start` (see module doc).

    `dead` (K,) bool, where given: SKUs that lose their whole demand in the stretch; a slot
    split by a multinomial lumps their buyers' segments (lines with s = −1: `resolve_segments`
    draws them per reporting period, where a SKU's lost units are counted). `how`, where given:
    the busy slots are grouped (`engine.busy`, `engine.coarse`; `Split.coarse` the groups)."""
    n, R = visits.shape
    G = tab.G
    CAT = K * S * G
    t_rel = np.arange(n)
    slot = (start + t_rel)[:, None] * rows.slots + np.arange(R)[None, :]          # (n, R) identity of a slot
    buy_p = tab.buy.sum(axis=2)[tab.table(t_rel)]                                    # (n, R)
    p = np.clip(buy_p, 0.0, 1.0)
    live = visits > 0
    B = np.zeros(visits.shape, dtype=np.int64)
    if live.any():
        B[live] = binomial_quantile(keyed_uniforms(keys["buy"], slot[live]), visits[live], p[live])
    J = tab.claim.shape[2]
    claims = np.zeros((n, R, J), dtype=np.int64)
    if J and tab.claim.any():
        left = visits - B
        rest = 1.0 - buy_p
        q = tab.claim[tab.table(t_rel)]
        for j in range(J):
            on = (left > 0) & (q[:, :, j] > 0)
            if on.any():
                share = np.clip(q[:, :, j][on] / np.maximum(rest[on], 1e-300), 0.0, 1.0)
                claims[:, :, j][on] = binomial_quantile(keyed_uniforms(keys["claim"], slot[on], j), left[on], share)
            left = left - claims[:, :, j]
            rest = rest - q[:, :, j]
    lines, coarse = _categories(B, tab, rows, keys, split_rng, start, slot, K, S, CAT, dead, how,
                                claims.sum(axis=(0, 1)))
    return Split(lines, B, claims, coarse)


def _categories(B, tab: Tables, rows: VisitRows, keys, split_rng, start, slot, K, S, CAT, dead, how,
                claims) -> tuple[Lines, Coarse]:
    """Buyer lines: each buyer's category by a keyed inverse CDF (slots with at most CAT and
    ONE_BY_ONE buyers) or by multinomials (busier slots, `engine.busy`: per slot, or grouped
    by `how`), grouped into lines (tick, row, category) with their j0; the groups of the
    coarse lines."""
    R = B.shape[1]
    flat = B.ravel()
    cut = min(CAT, ONE_BY_ONE)
    small = np.flatnonzero((flat > 0) & (flat <= cut))
    big = np.flatnonzero(flat > cut)
    keys_out, counts = [], []
    if small.size:
        key, cnt = _one_by_one(flat, small, tab, keys, slot, R, CAT)
        keys_out.append(key)
        counts.append(cnt)
    busy = Busy(*([np.zeros(0, dtype=np.int64)] * 2), Lines.empty(), Lines.empty(), Coarse.none())
    if big.size:
        busy = busy_slots(flat, big, tab, rows, split_rng, start, K, S, dead, how, int(flat.sum()), claims)
        keys_out.append(busy.keys)
        counts.append(busy.counts)
    if not keys_out:
        return Lines.concat([busy.lumped, busy.coarse]), busy.groups
    key = np.concatenate(keys_out)
    cnt = np.concatenate(counts).astype(np.int64)
    order = np.argsort(key, kind="stable")
    key, cnt = key[order], cnt[order]
    owner, cat = np.divmod(key, CAT)
    t_rel, r = np.divmod(owner, R)
    G = tab.G
    cell, g = np.divmod(cat, G)
    k, s = np.divmod(cell, S)
    j0 = first_of_cell(key, owner * (K * S) + cell, cnt)
    lines = Lines(start + t_rel, k, s, rows.channel[r], cnt, None, g if G > 1 else None, r, j0)
    return Lines.concat([lines, busy.lumped, busy.coarse]), busy.groups


def _one_by_one(flat, small, tab: Tables, keys, slot, R, CAT) -> tuple[np.ndarray, np.ndarray]:
    """(slot · CAT + category, buyers) of the quiet slots `small`: each buyer's category by a
    keyed inverse CDF of its row's purchase probabilities."""
    cnt = flat[small]
    owner = np.repeat(small, cnt)
    i = np.arange(owner.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    u = keyed_uniforms(keys["cell"], slot.ravel()[owner], i)
    # one CDF per table × row (one table per reporting period where they vary), laid end to end with
    # an offset of 2 between them, so that one search finds every buyer's category
    table = tab.table(owner // R) * R + owner % R
    cum = np.cumsum(tab.buy.reshape(-1, CAT), axis=1)                            # (tables, CAT)
    glob = (cum + 2.0 * np.arange(cum.shape[0])[:, None]).ravel()
    hit = np.searchsorted(glob, u * cum[table, -1] + 2.0 * table, side="right") - table * CAT
    cat = np.minimum(hit, CAT - 1)
    key = np.sort(owner * CAT + cat, kind="stable")                # slots come in order: runs merge
    first = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    return key[first], np.diff(np.r_[first, key.size])


def resolve_segments(lines: Lines, tab: Tables, gen: np.random.Generator, S: int,
                     channel: np.ndarray | None = None) -> Lines:
    """Lines of lumped segments (s = −1, `split_visits`) split over segments: the buyers of each
    (t — a time key of the caller's —, visit row, SKU, class) by one multinomial over S with
    the row's purchase probabilities (exact: a stretch's tables are constant when it lumps, so
    a buyer's segment given its SKU and class does not depend on its tick). Lines with a
    segment pass as they are. `channel` (R,), where given: each row's channel (else 0: lines
    whose channel no one reads)."""
    lump = lines.s < 0
    if not lump.any():
        return lines
    part = lines.take(lump)
    G, K = tab.G, tab.buy.shape[2] // (S * tab.G)
    key = ((part.t * tab.buy.shape[1] + part.row) * K + part.k) * G + part.cls
    uniq, inv = np.unique(key, return_inverse=True)
    n = np.bincount(inv, weights=part.n).astype(np.int64)
    g = uniq % G
    k = (uniq // G) % K
    r = (uniq // (G * K)) % tab.buy.shape[1]
    t = uniq // (G * K * tab.buy.shape[1])
    p = tab.buy[0].reshape(-1, K, S, G)[r, k, :, g]                                  # (U, S)
    split = gen.multinomial(n, p / p.sum(axis=1, keepdims=True))
    u, s = np.nonzero(split)
    z = np.zeros(u.size, dtype=np.int64)
    c = z if channel is None else channel[r[u]]
    new = Lines(t[u], k[u], s, c, split[u, s].astype(np.int64), None, g[u] if G > 1 else None, r[u], z)
    return Lines.concat([lines.take(~lump), new])

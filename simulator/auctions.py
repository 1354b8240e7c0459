"""Search-ad auctions, seed-independent (docs/auctions.md): what both engines share.

An ad group of rank r = bid × quality_score meets `count` rivals whose ad ranks are iid
lognormal(median, sigma). With A rivals above it (A ~ Binomial(count, 1 − F(r))) it is
shown at position A + 1 if that is one of the slots and its bid reaches the reserve. A
click at a position pays, by the generalized second price, the highest rival rank below r
divided by its quality score, at least the reserve — the reserve alone with no rival below.

Shapes: T ticks, P phases, G ad groups of one channel, J slots, O budget owners (the
channel, or each ad group with a budget of its own).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import special

from simulator.pacing import pace_share


@dataclass
class AuctionChannel:
    """One `paid_search` channel with ad groups (see module docstring for shapes)."""

    c: int                      # the channel's index
    name: str
    groups: list[str]           # (G,)
    bid: np.ndarray             # (G,) money per click
    cap: np.ndarray             # (P, G) the bid each phase bids: the bid, or under roi_target at most
                                #   the expected GMV of a click / the target
    worth: np.ndarray | None    # (P,) expected GMV of a click (roi_target), None otherwise
    roi_target: float | None
    quality: np.ndarray         # (G,) quality scores
    rate: np.ndarray            # (T, G) expected auctions per tick
    shape: np.ndarray           # (T,) the channel's calendar shape (auctions ∝ shape)
    median: np.ndarray          # (P, G) rivals' median rank
    sigma: np.ndarray           # (P, G)
    count: np.ndarray           # (P, G) int
    below: np.ndarray           # (P, G) F(r): P(a rival ranks at or below the group)
    shown: np.ndarray           # (P, G, J) P(an auction shows the ad at position j)
    ctr: np.ndarray             # (J,)
    reserve: float
    owner: np.ndarray           # (G,) budget owner of each group, −1: none
    owners: list[str]           # (O,) event subjects: the channel, or "channel/group"
    daily: np.ndarray           # (O,) daily budgets, inf when none
    total: np.ndarray           # (O,) total budgets, inf when none
    pace: np.ndarray            # (T, O) pacing share of the period's budget by each tick's end; inf: asap
    carry_over: bool
    pacing: str = "asap"
    intent: np.ndarray | None = None   # (G,) each group's conversion multiplier (None: all 1)

    @property
    def G(self) -> int:
        return len(self.groups)

    def expected_clicks(self) -> np.ndarray:
        """(P, G) expected clicks per auction."""
        return self.shown @ self.ctr

    def price_table(self, phase: int) -> tuple[np.ndarray, ...]:
        """Per click class (ad group g, 0-based position j; index g·J + j) in `phase`, each
        (G·J,): the exponent 1/m for the m = count − j rivals below, F(r), sigma, log(median /
        quality score) and the bid. A class with no rival below gets F(r) ≈ 0 and a log rank of
        −1000, so its price comes out as the reserve. Kept per phase on this object (a plan
        change makes a new one, `dataclasses.replace`)."""
        cache = self.__dict__.setdefault("_tables", {})
        if phase not in cache:
            cache[phase] = self._price_table(phase)
        return cache[phase]

    def mean_price(self, phase: int, points: int = 8) -> np.ndarray:
        """(G·J,) a click's mean price per class in `phase`, by the midpoint rule over `points`
        uniforms (a guess, for how many clicks a budget's room needs); kept like `price_table`."""
        cache = self.__dict__.setdefault("_means", {})
        if phase not in cache:
            GJ = self.G * self.ctr.size
            v = (np.arange(points) + 0.5) / points
            cache[phase] = self.price(self.price_table(phase), np.repeat(np.arange(GJ), points),
                                      np.tile(v, GJ)).reshape(GJ, points).mean(axis=1)
        return cache[phase]

    def _price_table(self, phase: int) -> tuple[np.ndarray, ...]:
        J = self.ctr.size
        m = self.count[phase][:, None] - np.arange(J)[None, :]
        none = (m <= 0).ravel()
        rep = lambda a: np.repeat(a, J)
        inv_m = np.where(none, 0.0, 1.0 / np.maximum(m, 1).ravel())
        below = np.where(none, 1e-300, rep(self.below[phase]))
        log_rank = np.where(none, -1000.0, rep(np.log(self.median[phase] / self.quality)))
        return inv_m, below, rep(self.sigma[phase]), log_rank, rep(self.cap[phase])

    def price(self, table: tuple[np.ndarray, ...], cls: np.ndarray, v: np.ndarray) -> np.ndarray:
        """(N,) price of clicks of classes `cls` (see `price_table`) from uniforms `v` in [0, 1]:
        the highest of the m rivals below r (its CDF (F(y)/F(r))^m, drawn by the inverse) over
        the quality score, at least the reserve, at most the bid; the reserve when m = 0 (and
        at v = 0, the lowest price)."""
        inv_m, below, sigma, log_rank, bid = table
        z = np.power(v, inv_m[cls])
        z *= below[cls]
        z = special.ndtri(z)
        np.clip(z, -40.0, 40.0, out=z)
        z *= sigma[cls]
        z += log_rank[cls]
        np.exp(z, out=z)
        np.maximum(z, self.reserve, out=z)
        return np.minimum(z, bid[cls], out=z)


def with_bid(au: AuctionChannel, g: int, bid: float) -> AuctionChannel:
    """A copy of `au` where ad group `g` bids `bid` (win and position tables redone)."""
    new = np.array(au.bid, dtype=float)
    new[g] = bid
    cap = bid_caps(new, au.worth, au.roi_target, au.median.shape[0], au.intent)
    below, shown = win_table(cap, au.quality[None, :], au.median, au.sigma, au.count,
                             au.ctr.size, au.reserve)
    return replace(au, bid=new, cap=cap, below=below, shown=shown)


def bid_caps(bid: np.ndarray, worth: np.ndarray | None, target: float | None, P: int,
             intent: np.ndarray | None = None) -> np.ndarray:
    """(P, G) the bid in each phase: `bid` (G,), or under roi_target at most worth_p × intent_g /
    target — a click priced at or below it returns at least the target in expectation (a group's
    click is worth the channel's visit times its conversion multiplier)."""
    if worth is None:
        return np.broadcast_to(bid[None, :], (P, bid.size)).copy()
    scale = np.ones(bid.size) if intent is None else intent
    return np.minimum(bid[None, :], worth[:, None] * scale[None, :] / target)


def win_table(bid: np.ndarray, quality: np.ndarray, median: np.ndarray, sigma: np.ndarray,
              count: np.ndarray, slots: int, reserve: float) -> tuple[np.ndarray, np.ndarray]:
    """F(r) (…,) and P(shown at position j) (…, J) for ranks r = bid × quality against
    lognormal rivals (ties go to the group; sigma 0: every rival at the median)."""
    # imported here: half a second of start-up that a plan without auctions never pays
    from scipy import stats

    r = bid * quality
    with np.errstate(divide="ignore"):
        z = np.where(sigma > 0, (np.log(r) - np.log(median)) / np.where(sigma > 0, sigma, 1.0), 0.0)
    below = np.where(sigma > 0, special.ndtr(z), (median <= r).astype(float))
    above = stats.binom.pmf(np.arange(slots), count[..., None], (1.0 - below)[..., None])   # A = j rivals above
    shown = np.where((bid >= reserve)[..., None], above, 0.0)
    return below, shown


def build_auctions(scenario, grid, channels: list[str], phases: list[str], shapes: dict[str, np.ndarray],
                   value: np.ndarray) -> list[AuctionChannel]:
    """The auction channels of a scenario; `shapes[name]` (T,) is a channel's calendar shape
    (intraday × phase multiplier × spikes × tick hours × scale); `value` (P, C) the expected
    GMV of a visit, which caps the bids under `roi_target` pacing."""
    out = []
    for ci, name in enumerate(channels):
        ch = scenario.channels[name]
        if getattr(ch, "ad_groups", None) is None:
            continue
        groups = list(ch.ad_groups)
        grp = [ch.ad_groups[g] for g in groups]
        bid = np.array([a.bid for a in grp])
        quality = np.array([a.quality_score for a in grp])
        riv = [[a.rivals_in(None if j == 0 else phases[j]) for a in grp] for j in range(len(phases))]
        median = np.array([[r.median for r in row] for row in riv])
        sigma = np.array([[r.sigma for r in row] for row in riv])
        count = np.array([[r.count for r in row] for row in riv], dtype=np.int64)
        worth = value[:, ci] if ch.pacing == "roi_target" else None
        intent = np.array([a.conversion for a in grp], dtype=float)
        cap = bid_caps(bid, worth, ch.roi_target, len(phases), intent)
        below, shown = win_table(cap, quality[None, :], median, sigma, count,
                                 len(ch.ctr_by_position), ch.reserve_price)
        shape = shapes[name]
        if ch.daily_budget is not None or ch.total_budget is not None:
            owner, owners, specs = np.zeros(len(groups), dtype=np.int64), [name], [ch]
        else:
            own = [g for g, a in zip(groups, grp) if a.has_budget]
            owner = np.array([own.index(g) if g in own else -1 for g in groups], dtype=np.int64)
            owners, specs = [f"{name}/{g}" for g in own], [ch.ad_groups[g] for g in own]
        daily = np.array([np.inf if s.daily_budget is None else s.daily_budget for s in specs])
        total = np.array([np.inf if s.total_budget is None else s.total_budget for s in specs])
        pace = np.stack([pace_share(ch.pacing, s.daily_budget, s.total_budget, shape, grid) for s in specs],
                        axis=1) if specs else np.zeros((grid.n_ticks, 0))
        out.append(AuctionChannel(
            c=ci, name=name, groups=groups, bid=bid, cap=cap, worth=worth, roi_target=ch.roi_target, quality=quality,
            rate=shape[:, None] * np.array([a.auctions_per_hour for a in grp])[None, :], shape=shape,
            median=median, sigma=sigma, count=count, below=below, shown=shown,
            ctr=np.asarray(ch.ctr_by_position, float), reserve=float(ch.reserve_price), owner=owner, owners=owners,
            daily=daily, total=total, pace=pace, carry_over=bool(ch.carry_over), pacing=ch.pacing, intent=intent))
    return out

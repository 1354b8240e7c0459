"""Returns of a stretch's orders (docs/model.md, "Returns"): how many units come back, what
their buyers get back, what the platform takes back, and which units go back to stock.

A unit comes back with probability min(1, return_rate + return_rate_per_discount × depth),
depth = 1 − what its buyer paid per unit / list price. A return refunds the buyer's pro-rata
share of what the order paid (after coupon, reduction and deposit expansion); the platform
takes back its share of the returned units' reduction. A share `resaleable_returns` of the
returned units is back in stock at the local midnight `return_days` after the sale (after
the campaign: in its ending stock); the rest is written off. A class row's draws are
keyed by its line and class, so plans on one seed return the same units where they sell the same.
"""

from __future__ import annotations

import numpy as np

from simulator.engine.attribution import book
from simulator.engine.keyed import keyed_uniforms
from simulator.engine.quantiles import binomial_quantile


def book_returns(m, keys: dict, rec, st, t: np.ndarray, k: np.ndarray, c: np.ndarray, units: np.ndarray,
                 price: np.ndarray, paid: np.ndarray, red: np.ndarray, key: np.ndarray, salt: np.ndarray) -> None:
    """Returns of N class rows of orders: `t` tick paid, `k` SKU, `c` channel (< C), `units`
    served (all the row's orders), `price` activity price per unit, `paid` what the buyers paid
    for the units, `red` the reductions (the platform funds its share), `key`/`salt` the row's
    identity (its keyed draws). A row's orders paid alike per unit, so its returned units are
    one binomial over all of them. Books returns,
    refunds and the platform's clawback by hour × SKU and channel, takes the returned GMV out of
    commissions, and schedules the resaleable units in `st.restocks` (after the end:
    `st.after_end`)."""
    live = np.flatnonzero(units > 0)
    if not live.size:
        return
    u = keyed_uniforms(keys["returns"], key[live], salt[live])
    k_l, units_l = k[live], units[live]
    rate = m.return_rate[k_l]
    if m.promo is not None and m.promo.return_slope.any():
        depth = np.maximum(0.0, 1.0 - paid[live] / (units_l * m.list_price[k_l]))
        rate = np.minimum(1.0, rate + m.promo.return_slope[k_l] * depth)
    back = (u > 1.0 - rate).astype(np.int64)           # one unit: the binomial quantile, in one step
    more = np.flatnonzero(units_l > 1)
    back[more] = binomial_quantile(u[more], units_l[more], rate[more])
    hit = live[back > 0]
    if not hit.size:
        return
    back = back[back > 0]
    t, k, c, units, price, paid, red, key, salt = (x[hit] for x in (t, k, c, units, price, paid, red, key, salt))
    share = back / units
    h = m.grid.period[t]
    platform = m.promo.red_platform if m.promo is not None else 0.0
    for name, v in (("returns", back), ("refunds", share * paid)):
        book(rec.by_sku[name], h, k, v)
        book(rec.by_channel[name], h, c, v)
    if platform:
        book(rec.by_sku["subsidy_clawback"], h, k, share * red * platform)
    book(rec.by_channel["commissions"], h, c, -back * price * m.commission[c])
    u = keyed_uniforms(keys["restock"], key, salt)
    share = m.resaleable[k]
    again = (u > 1.0 - share).astype(np.int64)
    more = np.flatnonzero(back > 1)
    again[more] = binomial_quantile(u[more], back[more], share[more])
    due = m.restock_tick[t]
    late = due >= m.n_ticks
    st.after_end += np.bincount(k[late], weights=again[late], minlength=st.after_end.size).astype(np.int64)
    keep = ~late & (again > 0)
    for tick, sku, n in zip(*_by_key(due[keep], k[keep], again[keep])):
        st.restocks.setdefault(int(tick), []).append((int(sku), int(n)))


def _by_key(tick: np.ndarray, k: np.ndarray, n: np.ndarray):
    """Units per (tick, SKU): (ticks, SKUs, units) of the distinct pairs."""
    if not tick.size:
        return [], [], []
    key, inv = np.unique(tick * (k.max() + 1) + k, return_inverse=True)
    units = np.bincount(inv, weights=n).astype(np.int64)
    return key // (k.max() + 1), key % (k.max() + 1), units

"""Order lines: the unit of work of the fast engine."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FIELDS = ("t", "k", "s", "c", "n", "row", "j0")


@dataclass
class Lines:
    """n buyers of SKU k in segment s at tick t from channel c. Arrays have shape (L,);
    `units` (≥ n) is drawn once a chunk's lines are final.

    C ≤ c < 2C: warm-up carts of channel c − C paying now (not new visits). `g` is the coupon
    class (0: no coupon; j + 1: holds store coupon j); None means all 0.

    Who the buyers are: `row` is the visit row they came from (a channel's row, a flash
    surge's row; for carts, the cart row of their channel), and `j0` the index of the line's
    first buyer among the buyers of its slot (tick × row) and cell (SKU × segment), counted in
    class order. A line's identity is (t, row, k·S + s, class, j0): its orders' random draws are
    keyed by it (`engine.orders`, `engine.keyed`), so plans on one seed share them.

    `grp` (None: all −1): a *coarse* line's group (`engine.coarse`): its buyers came in the
    group's ticks, not all at `t` (the group's first); −1 for a line whose buyers came at `t`.

    `via` (None: all −1): for buyers who switched to SKU k because the SKU they chose was out of
    stock (`engine.switching`), that SKU (+ K where they switched in a stretch's last tick and
    pay in the next); −1 for every other line. A line that switched does not switch again.

    `addon` (None: all −1): for the add-on units of an order (`engine.baskets`), the slot of the
    add-on among its primary SKU's `bought_with` (k is the add-on's SKU); −1 for every other
    line. An add-on line's orders are its primary's: it books units and GMV, never orders.
    """

    t: np.ndarray
    k: np.ndarray
    s: np.ndarray
    c: np.ndarray
    n: np.ndarray
    units: np.ndarray | None = None
    g: np.ndarray | None = None
    row: np.ndarray | None = None
    j0: np.ndarray | None = None
    grp: np.ndarray | None = None
    via: np.ndarray | None = None
    addon: np.ndarray | None = None

    def __post_init__(self):
        if self.row is None:
            self.row = self.c.copy()
        if self.j0 is None:
            self.j0 = np.zeros(self.t.size, dtype=np.int64)

    @classmethod
    def empty(cls) -> "Lines":
        z = np.zeros(0, dtype=np.int64)
        return cls(z, z, z, z, z)

    @property
    def cls(self) -> np.ndarray:
        """(L,) coupon class of each line."""
        return np.zeros(self.size, dtype=np.int64) if self.g is None else self.g

    @property
    def size(self) -> int:
        return self.t.size

    def take(self, idx) -> "Lines":
        return Lines(self.t[idx], self.k[idx], self.s[idx], self.c[idx], self.n[idx],
                     None if self.units is None else self.units[idx], None if self.g is None else self.g[idx],
                     self.row[idx], self.j0[idx], None if self.grp is None else self.grp[idx],
                     None if self.via is None else self.via[idx], None if self.addon is None else self.addon[idx])

    @property
    def coarse(self) -> np.ndarray:
        """(L,) bool: coarse lines (`grp` ≥ 0)."""
        return np.zeros(self.size, dtype=bool) if self.grp is None else self.grp >= 0

    @property
    def is_addon(self) -> np.ndarray:
        """(L,) bool: lines of add-on units (`addon` ≥ 0)."""
        return np.zeros(self.size, dtype=bool) if self.addon is None else self.addon >= 0

    @property
    def switched(self) -> np.ndarray:
        """(L,) bool: lines of buyers who switched SKU (`via` ≥ 0)."""
        return np.zeros(self.size, dtype=bool) if self.via is None else self.via >= 0

    @classmethod
    def concat(cls, parts: list["Lines"]) -> "Lines":
        """Lines of every part, in order (units are not carried)."""
        parts = [p for p in parts if p.size]
        if not parts:
            return cls.empty()
        g = None if all(p.g is None for p in parts) else np.concatenate([p.cls for p in parts])
        grp, via, addon = (None if all(getattr(p, f) is None for p in parts) else
                           np.concatenate([np.full(p.size, -1, dtype=np.int64) if getattr(p, f) is None
                                           else getattr(p, f) for p in parts]) for f in ("grp", "via", "addon"))
        if len(parts) == 1:
            p = parts[0]
            return Lines(p.t, p.k, p.s, p.c, p.n, None, g, p.row, p.j0, grp, via, addon)
        t, k, s, c, n, row, j0 = (np.concatenate([getattr(p, f) for p in parts]) for f in FIELDS)
        return cls(t, k, s, c, n, None, g, row, j0, grp, via, addon)


def first_of_cell(key: np.ndarray, cell_key: np.ndarray, n: np.ndarray) -> np.ndarray:
    """`j0` of lines sorted by `key` (slot, cell, class): the buyers of earlier lines of the
    same slot and cell (`cell_key`)."""
    before = np.cumsum(n) - n
    start = np.r_[True, cell_key[1:] != cell_key[:-1]] if key.size else np.zeros(0, dtype=bool)
    group_first = np.maximum.accumulate(np.where(start, np.arange(key.size), 0)) if key.size else key
    return before - before[group_first]

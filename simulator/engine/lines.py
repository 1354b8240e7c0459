"""Order lines: the unit of work of the fast engine."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

POOLED = -1   # channel of a line whose buyers come from the chunk's pooled channels


@dataclass
class Lines:
    """n buyers of SKU k in segment s at tick t from channel c. Arrays have shape (L,);
    `units` (≥ n) is drawn once a chunk's lines are final.

    c = POOLED: from one of the chunk's pooled channels, attributed after the stock is
    played; C ≤ c < 2C: warm-up carts of channel c − C paying now (not new visits).
    `g` is the coupon class (0: no coupon; j + 1: holds store coupon j); None means all 0.
    """

    t: np.ndarray
    k: np.ndarray
    s: np.ndarray
    c: np.ndarray
    n: np.ndarray
    units: np.ndarray | None = None
    g: np.ndarray | None = None

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
                     None if self.units is None else self.units[idx], None if self.g is None else self.g[idx])

    @classmethod
    def concat(cls, parts: list["Lines"]) -> "Lines":
        """Lines of every part, in order (units are not carried)."""
        parts = [p for p in parts if p.size]
        if not parts:
            return cls.empty()
        g = None if all(p.g is None for p in parts) else np.concatenate([p.cls for p in parts])
        if len(parts) == 1:
            return Lines(parts[0].t, parts[0].k, parts[0].s, parts[0].c, parts[0].n, None, g)
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("t", "k", "s", "c", "n")), None, g)

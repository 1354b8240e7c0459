"""Random streams: one `numpy.random.Generator` per random source of a replication.

A replication's `SeedSequence` is spawned into one child per source, so two plans
run on the same seed see the same draws from every source they share (common
random numbers), and adding a draw to one source never shifts another.
"""

from __future__ import annotations

import numpy as np

# New sources go last: the others keep their streams. auctions: only the one uniform per cell
# and ad group that sets impressions (so plans on one seed stay coupled); auction_detail:
# positions, clicks, moments and prices.
SOURCES = ("traffic", "orders", "split", "units", "budget", "carts", "stockout", "returns",
           "claims", "baskets", "presale", "auctions", "auction_detail")


class Streams:
    """`streams.orders`, `streams.traffic`, ...: independent generators from one seed."""

    def __init__(self, seed: int | np.random.SeedSequence):
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        ss = np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key, pool_size=ss.pool_size)   # spawn() counts
        for name, child in zip(SOURCES, ss.spawn(len(SOURCES))):   # on its object: a copy keeps runs repeatable
            setattr(self, name, np.random.Generator(np.random.PCG64(child)))

"""Random streams: one `numpy.random.Generator` per random source of a replication, and keys.

A replication's `SeedSequence` is spawned into one child per source, so two plans
run on the same seed see the same draws from every source they share (common
random numbers), and adding a draw to one source never shifts another. Draws that belong to
one visitor or one buyer are keyed instead (`keys`, `engine.keyed`): they do not depend on how
many numbers were drawn before them. Visits are drawn chunk by chunk and row by row from
substreams (`substream`), so a change to one channel's volume moves no other channel's visits.
"""

from __future__ import annotations

import numpy as np

# New sources go last: the others keep their streams. auctions: only the one uniform per cell
# and ad group that sets impressions (so plans on one seed stay coupled); auction_detail:
# positions, clicks, moments and prices; visits: parent of the per-chunk, per-row substreams.
SOURCES = ("traffic", "orders", "split", "units", "budget", "carts", "stockout", "returns",
           "claims", "baskets", "presale", "auctions", "auction_detail", "visits")
# Keyed draws, one 64-bit key each: buy (buyers of a slot), claim (claims among non-buyers),
# cell (a buyer's SKU, segment and class), units, topup, returns, queue (order of service
# in a stock-out tick), restock (whether a returned unit can be sold again), line (line-level
# units and returns where orders are not followed one by one), buy_now (a warm-up's buyers who
# pay at once), switch (who of the buyers finding their SKU out of stock switch, and to what),
# addon (which orders take which add-ons: several-SKU baskets).
KEYED = ("buy", "claim", "cell", "units", "topup", "returns", "queue", "restock", "line", "buy_now", "switch",
         "addon")


class Streams:
    """`streams.orders`, `streams.traffic`, ...: independent generators from one seed;
    `streams.keys[name]`: the replication's key of a keyed draw."""

    def __init__(self, seed: int | np.random.SeedSequence):
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        ss = np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key, pool_size=ss.pool_size)   # spawn() counts
        self._ss = ss                                              # on its object: a copy keeps runs repeatable
        for name, child in zip(SOURCES, ss.spawn(len(SOURCES))):
            setattr(self, name, np.random.Generator(np.random.PCG64(child)))
        self.keys = {name: np.uint64(self._child(len(SOURCES) + i).generate_state(1, np.uint64)[0])
                     for i, name in enumerate(KEYED)}

    def _child(self, *path: int) -> np.random.SeedSequence:
        ss = self._ss
        return np.random.SeedSequence(ss.entropy, spawn_key=ss.spawn_key + path, pool_size=ss.pool_size)

    def substream(self, source: str, *path: int) -> np.random.Generator:
        """A generator of its own for (source, *path), e.g. ("visits", chunk, row): the child
        `path` of the source's stream in the SeedSequence tree."""
        return np.random.Generator(np.random.PCG64(self._child(SOURCES.index(source), *path)))

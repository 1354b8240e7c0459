"""Keyed uniforms: a random number that belongs to one visitor, not to a place in a stream.

A fast-engine draw made from a stream (`Generator.random(size)`) depends on how many numbers
were drawn before it, so when a plan changes one count, every later draw moves. A keyed
uniform depends only on (key, a, b) — for a buyer: the replication's key for the purpose
(units, top-up, returns, …), the slot (tick × visit row) and the buyer's index in it — so two
plans on one seed give the same buyer the same numbers wherever the plan change does not
touch that buyer (common random numbers, docs/model.md "Randomness").

The numbers are SplitMix64's outputs (Steele, Lea & Flood, "Fast splittable pseudorandom
number generators", OOPSLA 2014; the generator of Java's SplittableRandom): the 64-bit
finalizer of (key + counter·γ), γ the golden-ratio constant, which passes BigCrush as a
sequence. Two counters chain two rounds. Vectorized over numpy uint64 arrays (arithmetic
modulo 2^64).
"""

from __future__ import annotations

import numpy as np

GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_ONE = np.uint64(1)
_TO_UNIT = 2.0 ** -53


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


def keyed_ids(key: np.uint64, a, b=None) -> np.ndarray:
    """64-bit identities, one per element of `a` (and `b`, broadcast): a function of (key, a, b)
    only — the bits `keyed_uniforms` turns into a number, and a key for further draws."""
    with np.errstate(over="ignore"):
        z = _mix(np.uint64(key) + (np.asarray(a).astype(np.uint64) + _ONE) * GAMMA)
        if b is not None:
            z = _mix(z + (np.asarray(b).astype(np.uint64) + _ONE) * GAMMA)
    return z


def keyed_uniforms(key: np.uint64, a, b=None) -> np.ndarray:
    """Uniforms in (0, 1), one per element of `a` (and `b`, broadcast): a function of (key, a, b)
    only. `a`, `b` are non-negative integers (int64 or uint64)."""
    return ((keyed_ids(key, a, b) >> _S11).astype(np.float64) + 0.5) * _TO_UNIT

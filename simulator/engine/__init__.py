"""Engines that play a model forward, by name: `fast` (vectorized between events) and
`reference` (every visitor a SimPy process: the oracle the fast engine is tested against)."""

from simulator.engine.fast import FastEngine
from simulator.reference import ReferenceEngine

ENGINES = {"fast": FastEngine, "reference": ReferenceEngine}

__all__ = ["ENGINES", "FastEngine", "ReferenceEngine"]

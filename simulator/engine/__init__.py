"""Engines that play a model forward, by name: `fast` (vectorized between events) and
`reference` (every visitor a SimPy process: the oracle the fast engine is tested against) and
`expected` (every draw replaced by its mean: deterministic, for calibration)."""

from simulator.engine.expected import ExpectedEngine
from simulator.engine.fast import FastEngine
from simulator.reference import ReferenceEngine

ENGINES = {"fast": FastEngine, "reference": ReferenceEngine, "expected": ExpectedEngine}

__all__ = ["ENGINES", "ExpectedEngine", "FastEngine", "ReferenceEngine"]

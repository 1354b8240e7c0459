"""Engines that play a model forward: `FastEngine` (vectorized between events)."""

from simulator.engine.fast import FastEngine

ENGINES = {"fast": FastEngine}

__all__ = ["ENGINES", "FastEngine"]

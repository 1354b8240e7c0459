"""Shared fixtures."""

from pathlib import Path

import pytest

SCENARIOS = Path(__file__).parent / "scenarios"


@pytest.fixture
def minimal():
    """`tests/scenarios/valid_minimal.yaml` loaded: two days (warmup, burst), 3 channels, 2 SKUs."""
    from simulator.scenario import load_scenario

    return load_scenario(SCENARIOS / "valid_minimal.yaml")

"""Shared fixtures."""

from pathlib import Path

import pytest

SCENARIOS = Path(__file__).parent / "scenarios"


@pytest.fixture
def minimal():
    """`tests/scenarios/valid_minimal.yaml` loaded: two days (warmup, burst), 3 channels, 2 SKUs."""
    from simulator.scenario import load_scenario

    return load_scenario(SCENARIOS / "valid_minimal.yaml")


REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"


def need_outside(path: Path, what: str) -> Path:
    """Return `path`, or skip with a reason when it is missing — except under
    PROMOSIM_CI=1 (set by .ci/run), where something missing outside the repo fails."""
    import os

    if path.exists():
        return path
    reason = f"{what} not found at ../{path.relative_to(REPO.parent)}"
    if os.environ.get("PROMOSIM_CI") == "1":
        pytest.fail(f"{reason} (required under PROMOSIM_CI=1)")
    pytest.skip(reason)

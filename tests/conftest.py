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


def need_chromium():
    """A started headless Chromium (`tests/browser.py`), or skip with the reason it cannot
    start — except under PROMOSIM_CI=1 (set by .ci/run, which installs Debian's chromium),
    where a browser that cannot start fails."""
    import os

    from tests.browser import BrowserUnavailable, Chromium

    try:
        return Chromium()
    except BrowserUnavailable as e:
        reason = f"Chromium cannot start: {e}"
        if os.environ.get("PROMOSIM_CI") == "1":
            pytest.fail(f"{reason} (required under PROMOSIM_CI=1)")
        pytest.skip(reason)


def artifacts_dir() -> Path:
    """Where tests keep files for a person to look at: $PROMOSIM_ARTIFACTS, else
    .ci/artifacts/ (git-ignored). Created on demand."""
    import os

    path = Path(os.environ.get("PROMOSIM_ARTIFACTS") or REPO / ".ci" / "artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path

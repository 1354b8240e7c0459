"""Shared fixtures."""

import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

SCENARIOS = Path(__file__).parent / "scenarios"


# ------------------------------------------------------------- running on several cores
def _shares_a_module_fixture(item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    return info is not None and any(defs and defs[-1].scope == "module" for defs in info.name2fixturedefs.values())


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Longest work first, for pytest-xdist (pyproject's addopts: `-n auto --dist loadscope
    --no-loadscope-reorder`; docs/decisions.md, "The test suite on several cores").

    xdist hands out whole modules (so a module-scoped fixture, such as the equivalence suite's
    reference runs, is built once) in the order their first test appears here. Tests marked
    `slow` go first — those that share a module fixture (a whole module's setup) first among
    them — so the longest modules start at once and the short ones fill the other core around
    them, instead of one worker finishing a long module alone at the end. Every other test keeps
    its place; in one process (`-n 0`) the order changes nothing else.
    """
    rank = {item.nodeid: (0 if _shares_a_module_fixture(item) else 1) if item.get_closest_marker("slow") else 2
            for item in items}
    items.sort(key=lambda item: rank[item.nodeid])   # stable: the collection order within a rank


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture
def minimal():
    """`tests/scenarios/valid_minimal.yaml` loaded: two days (warmup, burst), 3 channels, 2 SKUs."""
    from simulator.scenario import load_scenario

    return load_scenario(SCENARIOS / "valid_minimal.yaml")


@dataclass
class Ran:
    """What one `promosim` command did: like `subprocess.CompletedProcess`."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def promosim(capfd):
    """`promosim(*args)` runs the command line in this process (`simulator.cli.main`) and
    returns a `Ran`: the exit code as the shell would see it (a `SystemExit` included; a text
    one is printed on stderr with code 1, as Python does) and what was written to the file
    descriptors 1 and 2 (worker processes included). Saves the start-up of a fresh
    interpreter per command; tests where the process boundary is the point (spawn
    reproducibility, signals) start a real process."""
    from simulator.cli import main

    def run(*args) -> Ran:
        capfd.readouterr()                       # drop what the test printed before
        try:
            code = main([str(a) for a in args])
        except SystemExit as e:
            code = e.code
        if code is None:
            code = 0
        elif not isinstance(code, int):
            print(code, file=sys.stderr)
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        out, err = capfd.readouterr()
        return Ran(code, out, err)

    return run


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

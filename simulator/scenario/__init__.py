"""The scenario: schema, loading with clear errors, and parameter-path overrides.

The names below are imported when first used (PEP 562, as in `simulator/__init__.py`), so
`from simulator.scenario import ScenarioError` does not build the schema.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_EXPORTS = {
    "Issue": "simulator.scenario.errors",
    "ScenarioError": "simulator.scenario.errors",
    "load_scenario": "simulator.scenario.loader",
    "parse_scenario": "simulator.scenario.loader",
    "Scenario": "simulator.scenario.schema",
}
__all__ = ["Issue", "Scenario", "ScenarioError", "load_scenario", "parse_scenario"]

if TYPE_CHECKING:
    from simulator.scenario.errors import Issue, ScenarioError
    from simulator.scenario.loader import load_scenario, parse_scenario
    from simulator.scenario.schema import Scenario


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value   # later lookups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})

"""The scenario: schema, loading with clear errors, and parameter-path overrides.

The names below are imported when first used (PEP 562, as in `simulator/__init__.py`), so
`from simulator.scenario import ScenarioError` does not build the schema.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.lazy import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

"""promosim: simulate e-commerce campaigns before they launch.

`from simulator import load_scenario, simulate`. The names below are imported when first used
(PEP 562), so `import simulator` is quick and a command that only reads a scenario never loads
the engine, pandas or scipy (docs/decisions.md, "Start-up").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.lazy import lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "Scenario": "simulator.scenario.schema",
    "ScenarioError": "simulator.scenario.errors",
    "load_scenario": "simulator.scenario.loader",
    "simulate": "simulator.runner",
}
__all__ = ["Scenario", "ScenarioError", "__version__", "load_scenario", "simulate"]

if TYPE_CHECKING:
    from simulator.runner import simulate
    from simulator.scenario.errors import ScenarioError
    from simulator.scenario.loader import load_scenario
    from simulator.scenario.schema import Scenario


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

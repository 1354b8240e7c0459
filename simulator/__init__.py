"""promosim: simulate e-commerce campaigns before they launch."""

__version__ = "0.1.0"

from simulator.scenario import Scenario, ScenarioError, load_scenario  # noqa: E402
from simulator.runner import simulate  # noqa: E402

__all__ = ["Scenario", "ScenarioError", "__version__", "load_scenario", "simulate"]

"""promosim: simulate e-commerce campaigns before they launch."""

from simulator.scenario import Scenario, ScenarioError, load_scenario

__version__ = "0.1.0"

__all__ = ["Scenario", "ScenarioError", "__version__", "load_scenario"]

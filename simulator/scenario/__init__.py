"""The scenario: schema, loading with clear errors, and parameter-path overrides."""

from simulator.scenario.errors import Issue, ScenarioError
from simulator.scenario.loader import load_scenario, parse_scenario
from simulator.scenario.schema import Scenario

__all__ = ["Issue", "Scenario", "ScenarioError", "load_scenario", "parse_scenario"]

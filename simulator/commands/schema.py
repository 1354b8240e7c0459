"""`promosim schema`: the scenario JSON Schema, for editor completion."""

from __future__ import annotations

import json


def register(sub) -> None:
    s = sub.add_parser("schema", help="print the scenario JSON Schema (for editor completion)")
    s.set_defaults(func=schema)


def schema(args) -> int:
    from simulator.scenario.schema import Scenario

    print(json.dumps(Scenario.model_json_schema(), indent=2, ensure_ascii=False))
    return 0

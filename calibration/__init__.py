"""Fitting a scenario to a store's history (history loaders, losses, calibrators, backtests).

`from calibration import calibrate` (see `calibration.api`). The names below are imported when
first used (PEP 562, as in `simulator/__init__.py`): the API brings pandas and the engine.
The `calibrate:` block of a scenario is part of the scenario schema
(`simulator/scenario/calibrate_schema.py`); this package sits above the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from simulator.lazy import lazy_exports

_EXPORTS = {
    "calibrate": "calibration.api",
    "CalibrationResult": "calibration.api",
    "CalibrationError": "calibration.api",
}
__all__ = ["CalibrationError", "CalibrationResult", "calibrate"]

if TYPE_CHECKING:
    from calibration.api import CalibrationError, CalibrationResult, calibrate


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

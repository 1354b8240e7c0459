"""Fitting a scenario to a store's history (history loaders, losses, calibrators, backtests).

`from calibration import calibrate` (see `calibration.api`). The import is lazy: the scenario
schema imports `calibration.spec`, and this package must not pull the engine in with it.
"""

import simulator  # noqa: F401  — first: the scenario schema imports calibration.spec


def __getattr__(name):
    if name in ("calibrate", "CalibrationResult", "CalibrationError"):
        from calibration import api

        return getattr(api, name)
    raise AttributeError(f"module 'calibration' has no attribute {name!r}")


__all__ = ["CalibrationError", "CalibrationResult", "calibrate"]

"""Files of a calibration: `calibrated.yaml`, `fit.json`, `fit.csv`, the fit sample
(`fit_sample.json`, which `uncertainty: {from: …}` reads, and the same draws as
`fit_sample.csv`; `calibration.sample`) and the plots.

`calibrated.yaml` is the planner's own scenario file with each fitted value set at its path,
written by `simulator.optimize.plan.plan_text` (ruamel round trip: comments, key order and the
planner's wrapping kept; `catalogue:` rewritten for the new folder). On top of that the
history the fit used is recorded in `calibrate.history`: its `file` relative to the new folder
and the column map with `--map` applied, so the written scenario runs — and re-calibrates —
wherever it is written. It is loaded back and must give the calibrated scenario.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pandas as pd

from simulator.files import atomic_write_bytes, atomic_write_text, table_bytes


def calibrated_text(result, out_dir: Path) -> str:
    from simulator.optimize.plan import _keep_wrapping, _yaml, plan_text

    text = plan_text(result.source, result.settings(), result.scenario, out_dir)
    if result.source is None:
        return text
    y = _yaml(text)
    doc = y.load(text)
    hist = doc.get("calibrate", {}).get("history") if isinstance(doc.get("calibrate"), dict) else None
    if hist is None:
        return text
    if result.history_file is not None:
        target = Path(result.history_file).resolve()
        hist["file"] = Path(os.path.relpath(target, Path(out_dir).resolve())).as_posix()
    if result.columns and dict(hist.get("columns") or {}) != result.columns:
        from simulator.optimize.plan import _flow

        hist["columns"] = _flow(dict(result.columns))
    buf = io.StringIO()
    y.dump(doc, buf)
    return _keep_wrapping(text, buf.getvalue())


def write_calibrated(result, path: Path) -> Path:
    """Write `calibrated.yaml` atomically and check that it loads as the calibrated scenario."""
    from simulator.scenario.loader import load_scenario

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, calibrated_text(result, path.parent))
    again = load_scenario(path)
    skip = {"optimize": True, "catalogue": True, "calibrate": True, "uncertainty": {"from_"}}
    if again.model_dump(exclude=skip) != result.scenario.model_dump(exclude=skip):
        raise RuntimeError(f"{path} does not reproduce the calibrated scenario; please report this "
                           "(the fitted values are in fit.json)")
    return path


def fit_frame(result) -> pd.DataFrame:
    """One row per target × period × SKU (or store) fitted or held out: observed, simulated
    mean and band, and whether the cell was fitted."""
    h, rows = result.history, []
    for t, obs in result.obs.items():
        sim = result.sim.mean(t)
        lo = result.band.quantile(t, 0.05) if result.band is not None else None
        hi = result.band.quantile(t, 0.95) if result.band is not None else None
        cols = [None] if obs.ndim == 1 else result.replay.skus
        for i, period in enumerate(h.periods):
            for k, sku in enumerate(cols):
                o = obs[i] if sku is None else obs[i, k]
                if pd.isna(o):
                    continue
                at = (i,) if sku is None else (i, k)
                rows.append({"target": t, "period": period.isoformat(), "label": h.label(period),
                             "sku": sku or "(store)", "observed": float(o), "simulated": float(sim[at]),
                             "band_low": float(lo[at]) if lo is not None else None,
                             "band_high": float(hi[at]) if hi is not None else None,
                             "fitted": bool(result.mask[i])})
    return pd.DataFrame(rows)


def write_outputs(result, out: Path, *, plots: bool = True, final: Path | None = None) -> dict[str, str]:
    """calibrated.yaml, fit.json, fit.csv, fit_sample.json and .csv (with a sample) and (with
    `plots`) the PNG plots in `out`. `final`:
    the folder `out` will become (`promosim calibrate` writes into a fresh folder beside it
    and swaps it in), which the listed paths name."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    shown = Path(final) if final is not None else out
    files = {"scenario": str(write_calibrated(result, out / "calibrated.yaml"))}
    payload = result.to_json()
    frame = fit_frame(result)
    atomic_write_bytes(out / "fit.csv", table_bytes(frame, "csv"))
    files["table"] = str(out / "fit.csv")
    if result.sample is not None:
        atomic_write_text(out / "fit_sample.json", result.sample.to_text())
        table = pd.DataFrame(result.sample.draws, columns=result.sample.parameters)
        table.insert(0, "draw", range(len(table)))
        atomic_write_bytes(out / "fit_sample.csv", table_bytes(table, "csv"))
        files["sample"] = str(out / "fit_sample.json")
        files["sample_table"] = str(out / "fit_sample.csv")
    if plots:
        from calibration.plots import write_plots

        files.update(write_plots(result, frame, out))
    files = {k: str(shown / Path(v).name) for k, v in files.items()}
    payload["files"] = dict(files, fit=str(shown / "fit.json"))
    atomic_write_text(out / "fit.json", json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    files["fit"] = str(shown / "fit.json")
    return files

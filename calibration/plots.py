"""Plots of a calibration (matplotlib, Agg): observed vs simulated per target with the
simulated 5–95 % band, residuals on the log scale, and each parameter's interval within its
declared range."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

MAX_PANELS = 12


def write_plots(result, frame: pd.DataFrame, out: Path) -> dict[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files: dict[str, str] = {}
    frame = frame.assign(when=pd.to_datetime(frame["period"], utc=True))
    for t, g in frame.groupby("target", sort=False):
        series = list(dict.fromkeys(g["sku"]))[:MAX_PANELS]
        n = len(series)
        cols = min(n, 3)
        rows = -(-n // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(5 * cols, 2.6 * rows), squeeze=False, sharex=True)
        for ax, s in zip(axes.ravel(), series):
            d = g[g["sku"] == s]
            if d["band_low"].notna().any():
                ax.fill_between(d["when"], d["band_low"], d["band_high"], color="tab:orange", alpha=0.25,
                                lw=0, label="simulated 5–95 %")
            ax.plot(d["when"], d["observed"], ".", ms=3, color="k", label="observed")
            ax.plot(d["when"], d["simulated"], "-", lw=1, color="tab:orange", label="simulated mean")
            held = d[~d["fitted"]]
            if len(held):
                ax.axvspan(held["when"].min(), held["when"].max(), color="tab:blue", alpha=0.08, label="held out")
            ax.set_title(s, fontsize=9)
        for ax in axes.ravel()[n:]:
            ax.axis("off")
        axes.ravel()[0].legend(fontsize=7, loc="upper left")
        fig.suptitle(f"{t}: observed vs simulated")
        fig.tight_layout()
        path = out / f"fit_{t}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        files[f"plot_fit_{t}"] = str(path)

    fig, ax = plt.subplots(figsize=(9, 3.5))
    for t, g in frame.groupby("target", sort=False):
        r = np.log1p(g["simulated"]) - np.log1p(g["observed"])
        ax.plot(g["when"], r, ".", ms=2.5, alpha=0.6, label=t)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_ylabel("log(1 + sim) − log(1 + obs)")
    ax.set_title("Residuals")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = out / "residuals.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    files["plot_residuals"] = str(path)

    from calibration.calibrators import to_unit

    us = result.unknowns
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(us) + 1.2))
    for i, u in enumerate(us):
        iv = result.intervals[u.name]
        x = to_unit(u, result.values[u.name])
        color = "tab:blue" if iv.identified else "tab:red"
        if np.isfinite(iv.low) and np.isfinite(iv.high):
            ax.plot([to_unit(u, iv.low), to_unit(u, iv.high)], [i, i], "-", color=color, lw=3, alpha=0.5)
        ax.plot([x], [i], "o", color=color)
        ax.text(1.02, i, f"{result.values[u.name]:.4g}  [{iv.low:.3g}, {iv.high:.3g}]", va="center", fontsize=7)
    ax.set_yticks(range(len(us)))
    ax.set_yticklabels([u.name for u in us], fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_xlabel("position in the declared range (log scale where log: true)")
    ax.set_title("Fitted parameters with 95 % intervals (red: not identified)")
    ax.invert_yaxis()
    fig.tight_layout()
    path = out / "parameters.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    files["plot_parameters"] = str(path)
    return files

"""The experiment report's figures: cost against accuracy with error bars and the Pareto front; a heat map."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from labnb.analysis.pngfig import chart, figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure


def _err(rows: list[dict]) -> np.ndarray:
    return np.array([[r["accuracy"] - r["accuracy_ci_low"] for r in rows],
                     [r["accuracy_ci_high"] - r["accuracy"] for r in rows]])


@chart
def cost_accuracy(rows: list[dict], numbers: dict[str, int]) -> Figure | None:
    """Accuracy (95% CI bars) against cost, cells labelled by rank, the Pareto front as a line; ``None`` when
    fewer than two cells have both, or when every cost is the same (then cost says nothing: see ``accuracy_bars``)."""
    data = [r for r in rows if r["accuracy"] is not None and r["cost_usd"] is not None]
    if len(data) < 2 or len({r["cost_usd"] for r in data}) < 2:
        return None
    fig = figure(9, 4.8)
    ax = fig.add_subplot()
    x = [r["cost_usd"] for r in data]
    ax.errorbar(x, [r["accuracy"] for r in data], yerr=_err(data), fmt="o", color="tab:blue", ecolor="#9ab",
                capsize=3, label="cell (95% Wilson interval)")
    front = sorted((r for r in data if r["pareto"]), key=lambda r: r["cost_usd"])
    ax.plot([r["cost_usd"] for r in front], [r["accuracy"] for r in front], color="tab:orange", lw=1.5,
            drawstyle="steps-post", marker="o", markersize=11, markerfacecolor="none", label="Pareto front")
    for r in data:
        ax.annotate(f"#{numbers[r['cell']]}", (r["cost_usd"], r["accuracy"]), textcoords="offset points",
                    xytext=(5, 4), fontsize=8)
    ax.set_xlim(left=0, right=max(x) * 1.08)
    ax.set_xlabel("cost of the run (USD)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(max(0.0, min(r["accuracy_ci_low"] for r in data) - 0.05), 1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig


@chart
def accuracy_bars(rows: list[dict], numbers: dict[str, int]) -> Figure | None:
    """Accuracy per cell with its 95% CI, best at the top; ``None`` when no cell has an accuracy."""
    data = [r for r in rows if r["accuracy"] is not None]
    if not data:
        return None
    fig = figure(9, max(2.0, 0.32 * len(data) + 1.2))
    ax = fig.add_subplot()
    y = np.arange(len(data))
    ax.errorbar([r["accuracy"] for r in data], y, xerr=_err(data), fmt="o", color="tab:blue", ecolor="#9ab",
                capsize=3)
    ax.set_yticks(y, [f"#{numbers[r['cell']]} {r['cell']}" for r in data], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(max(0.0, min(r["accuracy_ci_low"] for r in data) - 0.05), 1.0)
    ax.set_xlabel("accuracy (95% Wilson interval)")
    ax.grid(axis="x", alpha=0.3)
    return fig


@chart
def heatmap(table: pd.DataFrame, label_name: str) -> Figure | None:
    """Cells down, gold labels across, accuracy in each square (annotated when there is room)."""
    if table.empty:
        return None
    n_rows, n_cols = table.shape
    fig = figure(min(13.5, max(6.0, 0.42 * n_cols + 4.5)), max(2.2, 0.3 * n_rows + 2.0))
    ax = fig.add_subplot()
    values = table.to_numpy(dtype=float)
    image = ax.imshow(np.ma.masked_invalid(values), cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(n_cols), [str(c) for c in table.columns], rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n_rows), [str(r) for r in table.index], fontsize=8)
    ax.set_xlabel(f"gold {label_name}")
    if n_rows * n_cols <= 800:
        for i in range(n_rows):
            for j in range(n_cols):
                if not np.isnan(values[i, j]):
                    ax.text(j, i, f"{values[i, j]:.0%}", ha="center", va="center", fontsize=6.5)
    fig.colorbar(image, ax=ax, shrink=0.8, label="accuracy")
    return fig

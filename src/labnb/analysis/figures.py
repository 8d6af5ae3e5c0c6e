"""The report's matplotlib figures, rendered to base64 PNG without pyplot (no global backend change)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from labnb.analysis.pngfig import chart
from labnb.analysis.pngfig import figure as _figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MIN_CALLS_FOR_HISTOGRAM = 3  # one or two calls make a histogram of one or two bars: listed in words instead


@chart
def cost_vs_accuracy(side: pd.DataFrame, ylabel: str = "accuracy") -> Figure | None:
    """One point per run with both a cost and an accuracy; ``None`` when no run has both, or when every such
    run cost the same (all $0, say): then cost says nothing, see ``accuracy_by_run``."""
    data = side.dropna(subset=["cost_usd", "accuracy"])
    if data.empty or data["cost_usd"].nunique() < 2:
        return None
    fig = _figure(6.5, 4)
    ax = fig.add_subplot()
    ax.scatter(data["cost_usd"], data["accuracy"], s=50, color="tab:blue")
    for _, row in data.iterrows():
        ax.annotate(_label(row["run_id"], row["model"], "\n"), (row["cost_usd"], row["accuracy"]),
                    textcoords="offset points", xytext=(6, 4), fontsize=7)
    ax.set_xlabel("cost (USD)")
    ax.set_ylabel(ylabel)
    ax.set_ylim(0, 1.05)
    ax.set_xlim(-0.04 * data["cost_usd"].max(), data["cost_usd"].max() * 1.35)  # a $0 run off the axis line
    ax.grid(alpha=0.3)
    return fig


def _label(name: str, model: str, between: str = " ") -> str:
    """A run's name, with its model unless the name is the model."""
    return name if str(name).startswith(str(model)) else f"{name}{between}({model})"


@chart
def accuracy_by_run(side: pd.DataFrame, xlabel: str = "accuracy") -> Figure | None:
    """Horizontal bars of accuracy per run (for runs that all cost the same); ``None`` when none has one."""
    data = side.dropna(subset=["accuracy"])
    if data.empty:
        return None
    fig = _figure(6.5, max(1.8, 0.4 * len(data) + 1))
    ax = fig.add_subplot()
    y = np.arange(len(data))
    ax.barh(y, data["accuracy"].astype(float), color="tab:blue")
    ax.set_yticks(y, [_label(r, m) for r, m in zip(data["run_id"], data["model"])], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    return fig


@chart
def per_label_accuracy(table: pd.DataFrame, label: str = "label") -> Figure | None:
    """Grouped horizontal bars: rows of ``table`` are labels, columns are runs, values in [0, 1]."""
    if table.empty:
        return None
    n_cat, n_run = table.shape
    fig = _figure(7, max(2.5, 0.45 * n_cat * max(1, n_run / 2) + 1))
    ax = fig.add_subplot()
    height = 0.8 / n_run
    y = np.arange(n_cat)
    for k, run in enumerate(table.columns):
        ax.barh(y + k * height, table[run].fillna(0).to_numpy(dtype=float), height=height, label=str(run))
    ax.set_yticks(y + height * (n_run - 1) / 2, [str(c) for c in table.index], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel(f"accuracy per gold {label}")
    # above the axes: inside, it would hide the bars of a label; below, it met the axis title on short figures
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(n_run, 2), frameon=False)
    ax.grid(axis="x", alpha=0.3)
    return fig


@chart
def confusion_heatmap(matrix: pd.DataFrame, title: str, label: str = "label") -> Figure | None:
    """Counts as a heat map: gold labels down, predicted across, each cell annotated."""
    if matrix.empty:
        return None
    n_rows, n_cols = matrix.shape
    fig = _figure(max(4, 0.6 * n_cols + 2.5), max(3, 0.45 * n_rows + 2))
    ax = fig.add_subplot()
    values = matrix.to_numpy()
    image = ax.imshow(values, cmap="Blues", aspect="auto")
    ax.set_xticks(range(n_cols), [str(c) for c in matrix.columns], rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(n_rows), [str(r) for r in matrix.index], fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel(f"gold {label}")
    ax.set_title(title, fontsize=9)
    top = values.max() if values.size else 0
    for i in range(n_rows):
        for j in range(n_cols):
            ax.text(j, i, str(values[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if top and values[i, j] > top / 2 else "black")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


@chart
def latency_distribution(latencies: dict[str, list[float]]) -> Figure | None:
    """Overlaid step histograms of call latencies (ms), one per run with at least ``MIN_CALLS_FOR_HISTOGRAM``
    calls; ``None`` when no run has that many."""
    data = {name: values for name, values in latencies.items() if len(values) >= MIN_CALLS_FOR_HISTOGRAM}
    if not data:
        return None
    fig = _figure(6.5, 3.5)
    ax = fig.add_subplot()
    every = np.concatenate([np.asarray(v, dtype=float) for v in data.values()])
    bins = list(np.linspace(every.min(), every.max(), 30)) if every.max() > every.min() else 10
    for name, values in data.items():
        ax.hist(values, bins=bins, histtype="step", linewidth=1.5, label=f"{name} (n={len(values)})")
    ax.set_xlabel("latency per call (ms)")
    ax.set_ylabel("calls")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return fig

"""matplotlib figures rendered to base64 PNG without pyplot (no global backend change), for offline HTML."""

from __future__ import annotations

import base64
import html
import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 100


def figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)  # Agg canvas attached to this figure only
    return fig


def to_png_base64(fig: Figure) -> str:
    """The figure as a base64 PNG, ready for ``<img src="data:image/png;base64,...">``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def img(fig: Figure | None, alt: str) -> str:
    """An ``<img>`` holding ``fig`` inline; empty for no figure."""
    if fig is None:
        return ""
    return f'<img alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{to_png_base64(fig)}">'

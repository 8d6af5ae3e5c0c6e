"""matplotlib figures rendered to base64 PNG without pyplot (no global backend change), for offline HTML.

matplotlib is optional (``pip install matplotlib``, or the ``charts`` extra; requirements-dev.txt has it): without
it every chart function decorated with ``chart`` returns no figure and the reports say so in one line (``MISSING``).
"""

from __future__ import annotations

import base64
import functools
import html
import io
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec

try:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
except ImportError:  # ~100 MB installed with its fonts and Pillow: kept out of the first install
    FigureCanvasAgg = Figure = None  # type: ignore[assignment,misc]

if TYPE_CHECKING:
    from matplotlib.figure import Figure as FigureType

MISSING = "Charts need matplotlib, which is not installed (pip install matplotlib): this report shows its tables only."
P = ParamSpec("P")

DPI = 100


def available() -> bool:
    """Whether matplotlib is installed, so charts can be drawn."""
    return Figure is not None


def chart(draw: Callable[P, FigureType | None]) -> Callable[P, FigureType | None]:
    """``draw`` when matplotlib is installed; otherwise a function that returns no figure."""

    @functools.wraps(draw)
    def drawn(*args: P.args, **kwargs: P.kwargs) -> FigureType | None:
        return draw(*args, **kwargs) if available() else None

    return drawn


def figure(width: float, height: float) -> FigureType:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)  # Agg canvas attached to this figure only
    return fig


def to_png_base64(fig: FigureType) -> str:
    """The figure as a base64 PNG, ready for ``<img src="data:image/png;base64,...">``."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def img(fig: FigureType | None, alt: str) -> str:
    """An ``<img>`` holding ``fig`` inline; empty for no figure."""
    if fig is None:
        return ""
    return f'<img alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{to_png_base64(fig)}">'

"""The CI gate: a cell (``best`` or a name), a leaderboard metric and a minimum; one line when it falls short."""

from __future__ import annotations

from labnb.errors import UsageError
from labnb.experiments.leaderboard import Leaderboard
from labnb.experiments.spec import Gate

EXIT_GATE_FAILED = 4


def parse_fail_under(text: str, metrics: tuple[str, ...]) -> Gate:
    """``METRIC=VALUE`` from ``--fail-under``: a gate on the best cell; METRIC one of ``metrics``."""
    metric, sep, value = text.partition("=")
    if not sep or metric not in metrics:
        raise UsageError(f"--fail-under: expected METRIC=VALUE with METRIC one of {', '.join(metrics)}, "
                         f"got {text!r}")
    try:
        return Gate("best", metric, float(value))
    except ValueError:
        raise UsageError(f"--fail-under: {value!r} is not a number") from None


def check(gate: Gate, board: Leaderboard) -> str | None:
    """``None`` when the gate passes, else the line CI prints: ``gate failed: CELL METRIC VALUE < MIN``."""
    if gate.cell == "best":
        best = board.best
        row = best.row if best else (board.rows[0] if board.rows else None)
    else:
        row = board.row(gate.cell)
    name = row["cell"] if row else gate.cell
    value = row.get(gate.metric) if row else None
    if value is None:
        return f"gate failed: {name} {gate.metric} n/a < {gate.min:g}"
    if value < gate.min:
        return f"gate failed: {name} {gate.metric} {value:.3f} < {gate.min:g}"
    return None

"""The cells of a grid: every combination of its lists' values, in grid order, each named ``k=v,k=v``.

A value's own ``,``, ``=`` and ``\\`` are escaped with a backslash (``fields=brand\\,description``), so two cells
never share a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CellPlan:
    """One cell before it runs: its name, its grid values (as written) and every run option (resolved)."""

    index: int  # 1-based, grid order
    name: str
    values: dict[str, Any]
    options: dict[str, Any]


_SEPARATORS = str.maketrans({"\\": "\\\\", ",": "\\,", "=": "\\="})


def show(value: Any) -> str:
    """A grid value as people read it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def cell_name(values: dict[str, Any]) -> str:
    return ",".join(f"{k}={show(v).translate(_SEPARATORS)}" for k, v in values.items())


def combinations(grid: dict[str, list[Any]]) -> list[tuple[Any, ...]]:
    """Every combination of the grid's values, the last key varying fastest."""
    combos: list[tuple[Any, ...]] = [()]
    for values in grid.values():
        combos = [(*combo, value) for combo in combos for value in values]
    return combos


def cell_names(grid: dict[str, list[Any]]) -> list[str]:
    return [cell_name(dict(zip(grid, combo))) for combo in combinations(grid)]


def expand(options: dict[str, Any], grid: dict[str, list[Any]], resolve: Any = None) -> list[CellPlan]:
    """Every cell of ``grid`` over the shared ``options``; ``resolve(key, value)`` turns grid values into options."""
    cells = []
    for index, combo in enumerate(combinations(grid), start=1):
        values = dict(zip(grid, combo))
        resolved = {k: resolve(k, v) if resolve else v for k, v in values.items()}
        cells.append(CellPlan(index, cell_name(values), values, {**options, **resolved}))
    return cells

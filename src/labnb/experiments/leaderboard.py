"""The leaderboard: one row per cell, every number read from its run folder, with error bars and McNemar."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import pandas as pd

from labnb.experiments import items, stats
from labnb.experiments.cells import CellState
from labnb.experiments.grid import show
from labnb.experiments.scheduler import run_json
from labnb.experiments.usecases import UseCase

DIGITS = 6
HEAD = ("cell", "run_id")
SCORES = ("n", "accuracy", "accuracy_ci_low", "accuracy_ci_high")
RUN_NUMBERS = ("cost_usd", "cost_per_1k_items", "total_tokens", "wall_seconds", "p95_latency_ms", "failed")
TAIL = ("pareto", "mcnemar_p")


@dataclass
class CellResult:
    """A cell with its run's per-item table and correctness, and its leaderboard row."""

    cell: CellState
    table: pd.DataFrame
    correct: dict[str, bool]
    row: dict[str, Any]


@dataclass
class Leaderboard:
    use_case: UseCase
    grid_keys: list[str]
    results: list[CellResult]  # best accuracy first

    @property
    def columns(self) -> list[str]:
        return [*HEAD, *self.grid_keys, *SCORES, *(name for name, _ in self.use_case.metrics), *RUN_NUMBERS, *TAIL]

    @property
    def rows(self) -> list[dict[str, Any]]:
        return [r.row for r in self.results]

    @property
    def best(self) -> CellResult | None:
        first = self.results[0] if self.results else None
        return first if first is not None and first.row["accuracy"] is not None else None

    def row(self, cell: str) -> dict[str, Any] | None:
        return next((r.row for r in self.results if r.row["cell"] == cell), None)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, DIGITS)


def _num(data: dict[str, Any], key: str) -> float | None:
    value = data.get(key)
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _row(cell: CellState, use: UseCase, correct: dict[str, bool]) -> dict[str, Any]:
    summary = run_json(cell.run_dir, "metadata/run_summary.json") if cell.run_dir else {}
    usage = run_json(cell.run_dir, "outputs/token_usage.json") if cell.run_dir else {}
    timing = run_json(cell.run_dir, "outputs/timing.json") if cell.run_dir else {}
    metrics = run_json(cell.run_dir, "outputs/metrics.json") if cell.run_dir else {}
    counts = summary.get("counts") or {}
    n, k = len(correct), sum(correct.values())
    ci = stats.wilson(k, n)
    cost = _num(usage, "cost_usd")
    run_items = int(counts.get("total", 0)) - int(counts.get("not_run", 0))
    row: dict[str, Any] = {"cell": cell.name, "run_id": cell.run_id or "", **cell.values, "n": n,
                           "accuracy": _round(k / n) if n else None,
                           "accuracy_ci_low": _round(ci[0]) if ci else None,
                           "accuracy_ci_high": _round(ci[1]) if ci else None}
    for name, keys in use.metrics:
        row[name] = next((_num(metrics, key) for key in keys if _num(metrics, key) is not None), None)
    row.update({
        "cost_usd": cost,
        "cost_per_1k_items": _round(cost / run_items * 1000) if cost is not None and run_items > 0 else None,
        "total_tokens": usage.get("total_tokens"),
        "wall_seconds": _num(timing, "total_duration_seconds"),
        "p95_latency_ms": _num(timing, "latency_p95_ms"),
        "failed": int(counts.get("invalid", 0)) + int(counts.get("error", 0)) if counts else None,
    })
    return row


def build(use: UseCase, grid_keys: list[str], cells: list[CellState]) -> Leaderboard:
    """Read every cell's run folder and rank: best accuracy first, then lower cost, then grid order."""
    results = []
    for cell in cells:
        table = items.read_table(cell.run_dir) if cell.run_dir else pd.DataFrame()
        correct = items.scored(table, use)
        results.append(CellResult(cell, table, correct, _row(cell, use, correct)))

    def rank(r: CellResult) -> tuple:
        acc, cost = r.row["accuracy"], r.row["cost_usd"]
        return (acc is None, -(acc or 0.0), cost is None, cost or 0.0, r.cell.index)

    results.sort(key=rank)
    front = stats.pareto_front([(r.row["cost_usd"], r.row["accuracy"]) for r in results])
    best = results[0] if results and results[0].row["accuracy"] is not None else None
    for r, on_front in zip(results, front):
        r.row["pareto"] = on_front
        if best is None or r.row["accuracy"] is None:
            r.row["mcnemar_p"] = None
        else:
            r.row["mcnemar_p"] = 1.0 if r is best else _round(stats.mcnemar_exact(
                *stats.discordant(best.correct, r.correct)))
    return Leaderboard(use, grid_keys, results)


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def to_csv(board: Leaderboard) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(board.columns)
    for row in board.rows:
        writer.writerow([_csv_value(row.get(c)) for c in board.columns])
    return buf.getvalue()


def verdict(board: Leaderboard, row: dict[str, Any]) -> str:
    """How a cell stands against the best: the words that keep 'A beats B' from being read off noise."""
    best = board.best
    if best is None or row["mcnemar_p"] is None:
        return ""
    if row is best.row:
        return "best"
    if row["mcnemar_p"] >= 0.05:
        return "indistinguishable from the best at 5%"
    return "worse than the best at 5%"


def fmt(column: str, value: Any) -> str:
    """A leaderboard value for people."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "yes" if value else ""
    if column.startswith("accuracy") or column.endswith(("accuracy", "f1")):
        return f"{value:.1%}"
    if column in ("cost_usd", "cost_per_1k_items"):
        return f"${value:.4f}" if value >= 0.01 or value == 0 else f"${value:.6f}"
    if column == "mcnemar_p":
        return f"{value:.3g}"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def to_markdown(board: Leaderboard, title: str) -> str:
    columns = [*board.columns, "vs best"]
    lines = [f"# {title}", ""]
    best = board.best
    if best is not None:
        lines += [f"Best: `{best.row['cell']}` at {fmt('accuracy', best.row['accuracy'])} "
                  f"(95% CI {fmt('accuracy', best.row['accuracy_ci_low'])}–"
                  f"{fmt('accuracy', best.row['accuracy_ci_high'])}, n = {best.row['n']}). "
                  "mcnemar_p is McNemar's exact test against the best cell on the items both scored; a cell marked "
                  "\"indistinguishable from the best at 5%\" (p ≥ 0.05) may differ from it by noise alone.", ""]
    else:
        lines += ["No cell has gold labels: accuracy cannot be ranked.", ""]
    lines.append("| " + " | ".join(columns) + " |")
    lines.append("|" + "|".join("---" if c in HEAD or c in board.grid_keys or c == "vs best" else "---:"
                                for c in columns) + "|")
    for row in board.rows:
        cells = [fmt(c, row.get(c)) if c not in HEAD and c not in board.grid_keys
                 else "–" if row.get(c) is None else show(row.get(c)) for c in board.columns]
        lines.append("| " + " | ".join([*cells, verdict(board, row)]).replace("\n", " ") + " |")
    return "\n".join(lines) + "\n"

"""The experiment report: one self-contained HTML file (inline PNG figures, inline CSS), opens offline."""

from __future__ import annotations

import html
from collections import defaultdict
from datetime import UTC, datetime

import pandas as pd

from labnb.analysis.pngfig import MISSING, available, img
from labnb.experiments import charts as figures
from labnb.experiments import items
from labnb.experiments.leaderboard import Leaderboard, fmt, verdict

MOST_WRONG = 25
STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; color: #222; max-width: 1320px; padding: 0 1em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.78em; width: 100%; }
th, td { border: 1px solid #ccc; padding: 2px 5px; text-align: left; vertical-align: top; overflow-wrap: break-word; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.id { font-size: 0.85em; color: #666; }
tr.best td { background: #eef7ee; }
p.note { color: #555; font-style: italic; }
img { max-width: 100%; }
"""


def _esc(text: object) -> str:
    return html.escape(str(text))


def _breakable(name: str) -> str:
    """A cell name that may wrap after its commas."""
    return ",<wbr>".join(_esc(part) for part in name.split(","))


def _leaderboard(board: Leaderboard, numbers: dict[str, int]) -> str:
    # The cell name holds the grid values, and the run id goes under it: fewer, wider columns.
    columns = [c for c in board.columns if c not in board.grid_keys and c != "run_id"]
    head = "<th>#</th>" + "".join(f"<th>{'_<wbr>'.join(_esc(w) for w in c.split('_'))}</th>" for c in columns)
    head += "<th>vs best</th>"
    body = []
    for row in board.rows:
        cells = [f'<td class="num">{numbers[row["cell"]]}</td>']
        for c in columns:
            if c == "cell":
                cells.append(f"<td>{_breakable(row['cell'])}<br><span class=\"id\">{_esc(row['run_id'] or 'not run')}"
                             "</span></td>")
            else:
                cells.append(f'<td class="num">{_esc(fmt(c, row.get(c)))}</td>')
        cells.append(f"<td>{_esc(verdict(board, row))}</td>")
        best = ' class="best"' if verdict(board, row) == "best" else ""
        body.append(f"<tr{best}>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def label_accuracy(board: Leaderboard) -> pd.DataFrame:
    """Cells x gold labels (the use case's first gold column): the share of each label's items answered right."""
    use, rows = board.use_case, {}
    for r in board.results:
        if not r.correct:
            continue
        golds = pd.Series(r.table[use.gold_columns[0]].values, index=items.ids(r.table, use).values)
        outcome = pd.Series(r.correct)
        rows[r.row["cell"]] = outcome.groupby(golds.reindex(outcome.index).tolist()).mean()
    return pd.DataFrame(rows).T.sort_index(axis=1) if rows else pd.DataFrame()


def _most_wrong(board: Leaderboard, numbers: dict[str, int]) -> str:
    use = board.use_case
    scored = [r for r in board.results if r.correct]
    if not scored:
        return _note("No cell has gold labels.")
    wrong: dict[str, int] = defaultdict(int)
    for r in scored:
        for item, ok in r.correct.items():
            wrong[item] += not ok
    worst = sorted((i for i in wrong if wrong[i]), key=lambda i: (-wrong[i], i))[:MOST_WRONG]
    if not worst:
        return _note("Every cell answered every scored item right.")
    answers = {r.row["cell"]: items.answers(r.table, use) for r in scored}
    golds, texts = (_first_per_item(pd.concat([view(r.table, use) for r in scored]))
                    for view in (items.gold, items.texts))
    body = []
    for item in worst:
        grouped: dict[str, list[str]] = defaultdict(list)
        for cell, series in answers.items():
            if item in series.index:
                grouped[str(series[item])].append(f"#{numbers[cell]}")
        gold = str(golds.get(item, ""))
        shown = "<br>".join(f"{'✓' if a == gold else '✗'} {_esc(a)}: {', '.join(cs)}" for a, cs in
                            sorted(grouped.items(), key=lambda kv: (kv[0] != gold, -len(kv[1]), kv[0])))
        body.append(f"<tr><td>{_esc(item)}</td><td>{_esc(texts.get(item, ''))}</td><td>{_esc(gold)}</td>"
                    f'<td class="num">{wrong[item]} of {len(scored)}</td><td>{shown}</td></tr>')
    head = "".join(f"<th>{h}</th>" for h in (use.id_column, use.text_column, "gold", "wrong in",
                                              "answers (cells by #)"))
    more = _note(f"The {len(worst)} items most often wrong, of {sum(1 for v in wrong.values() if v)} "
                 "wrong in at least one cell.")
    return f"{more}<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _first_per_item(series: pd.Series) -> pd.Series:
    return series[~series.index.duplicated()]


def _note(text: str) -> str:
    return f'<p class="note">{_esc(text)}</p>'


def _section(title: str, *parts: str) -> str:
    return f"<section><h2>{_esc(title)}</h2>{''.join(p for p in parts if p)}</section>"


def _cost_section(board: Leaderboard, numbers: dict[str, int]) -> str:
    rows = board.rows
    if not available():
        return _section("Cost against accuracy", _note(MISSING))
    fig = figures.cost_accuracy(rows, numbers)
    if fig is not None:
        return _section("Cost against accuracy", img(fig, "cost against accuracy"),
                        _note("Bars: 95% Wilson intervals. Line: the Pareto front (no cell is both cheaper and "
                              "more accurate). Labels: the leaderboard's #."))
    costs = {r["cost_usd"] for r in rows if r["cost_usd"] is not None}
    why = (f"Every cell cost ${next(iter(costs)):.6f}, so cost says nothing: accuracy alone is shown."
           if len(costs) == 1 else "Fewer than two cells have both a cost and an accuracy.")
    return _section("Accuracy by cell", img(figures.accuracy_bars(rows, numbers), "accuracy by cell"), _note(why))


def render(board: Leaderboard, title: str) -> str:
    """The report's HTML."""
    numbers = {r["cell"]: i for i, r in enumerate(board.rows, start=1)}
    label = board.use_case.gold_columns[0].removeprefix("expected_")
    table = label_accuracy(board)
    sections = [
        _section("Leaderboard", _leaderboard(board, numbers),
                 _note("mcnemar_p: McNemar's exact test against the best cell on the items both scored. "
                       "'indistinguishable from the best at 5%' means the difference may be noise.")),
        _cost_section(board, numbers),
        _section(f"Accuracy per gold {label}", img(figures.heatmap(table, label), f"accuracy per {label}")
                 or _note("No gold labels: no per-label accuracy." if table.empty or available() else MISSING)),
        _section("Items most often wrong", _most_wrong(board, numbers)),
    ]
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    keys = ", ".join(board.grid_keys)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_esc(title)}</title><style>{STYLE}</style></head><body><h1>{_esc(title)}</h1>"
            f"{_note(f'{len(board.rows)} cells over {keys}; generated {stamp}')}{'' if available() else _note(MISSING)}"
            f"{''.join(sections)}</body></html>\n")




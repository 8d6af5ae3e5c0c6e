"""One self-contained HTML report of one or more runs: tables and embedded PNG figures, no external resources."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from labnb.analysis import figures
from labnb.analysis.compare import compare_runs, run_names, task_of
from labnb.analysis.pngfig import img as _img
from labnb.analysis.runs import DEFAULT_RUNS_DIR, load_readable
from labnb.errors import InputError

MAX_DISAGREEMENTS = 500  # keep the page light; the CSV from `compare --out` has them all
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1200px; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.8em; max-width: 100%; }
th, td { border: 1px solid #ccc; padding: 3px 6px; text-align: left; vertical-align: top; overflow-wrap: break-word; }
td { overflow-wrap: anywhere; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
p.note { color: #666; font-style: italic; }
img { max-width: 100%; }
"""


def _cell(value: object) -> tuple[str, bool]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "", False
    if isinstance(value, bool):
        return str(value), False
    if isinstance(value, float) and value.is_integer():
        return str(int(value)), True  # token counts in a column pandas made float by a missing value
    if isinstance(value, float):
        return f"{value:.6g}", True
    if isinstance(value, int):
        return str(value), True
    return str(value), False


def html_table(df: pd.DataFrame, index: bool = False) -> str:
    """``df`` as an escaped HTML table; numbers right-aligned, missing values blank."""
    frame = df.reset_index() if index else df
    # headers may wrap at their underscores, so a wide table still fits the page
    head = "".join(f"<th>{'_<wbr>'.join(html.escape(w) for w in str(c).split('_'))}</th>" for c in frame.columns)
    body = []
    for row in frame.itertuples(index=False):
        cells = []
        for value in row:
            text, numeric = _cell(value.item() if hasattr(value, "item") else value)
            cells.append(f"<td class=\"num\">{html.escape(text)}</td>" if numeric else f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


def _call_latencies(df: pd.DataFrame) -> list[float]:
    """One latency per call: rows of a batch share their call's latency, so keep one row per call_id."""
    if "latency_ms" not in df.columns or df.empty:
        return []
    rows = df.loc[df["latency_ms"].notna() & (df["latency_ms"] > 0)]
    if "call_id" in rows.columns:
        keyed = rows.loc[rows["call_id"].fillna("") != ""].drop_duplicates("call_id")
        rows = pd.concat([keyed, rows.loc[rows["call_id"].fillna("") == ""]])
    return [float(v) for v in rows["latency_ms"]]


def _label_table(runs: list[pd.DataFrame], names: list[str]) -> pd.DataFrame:
    """Labels x runs: per-label recall (the share of a label's gold items put in it)."""
    columns = {}
    for df, name in zip(runs, names):
        per = df.attrs.get("metrics", {}).get(task_of(df).per_label_metric, {})
        columns[name] = pd.Series({cat: m.get("recall") for cat, m in per.items() if m.get("support")}, dtype=float)
    table = pd.DataFrame(columns)
    return table.astype(float) if not table.empty else table


def _section(title: str, *parts: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{''.join(p for p in parts if p)}</section>"


def _cost_section(side: pd.DataFrame, accuracy: str) -> str:
    fig = figures.cost_vs_accuracy(side, accuracy)
    if fig is not None:
        return _section("Cost vs accuracy", _img(fig, "cost vs accuracy"))
    costs = side["cost_usd"].dropna().unique()
    if len(costs) == 1 and side["accuracy"].notna().any():
        return _section("Accuracy", _img(figures.accuracy_by_run(side, accuracy), "accuracy by run"),
                        _note(f"Every run cost ${costs[0]:.6f}, so cost says nothing: accuracy alone is shown."))
    return _section("Cost vs accuracy", _note("No run has both a cost and an accuracy (gold labels needed)."))


def _latency_section(latencies: dict[str, list[float]]) -> str:
    few = [f"{name}: {len(v)} call{'s' if len(v) != 1 else ''} ({', '.join(f'{x:,.0f} ms' for x in v)})"
           for name, v in latencies.items() if 0 < len(v) < figures.MIN_CALLS_FOR_HISTOGRAM]
    fig = figures.latency_distribution(latencies)
    notes = [_note(f"Too few calls for a histogram: {line}.") for line in few]
    if fig is None and not few:
        notes = [_note("No latencies recorded.")]
    return _section("Latency distribution", _img(fig, "latency"), *notes)


def render_report(runs: Sequence[pd.DataFrame]) -> str:
    """The report's HTML for loaded runs (``load_run``)."""
    runs = list(runs)
    names = run_names(runs)
    comparison = compare_runs(runs)
    task = task_of(runs[0])
    noun, label = f"{task.item_noun}s", task.label_noun
    answer = " + ".join(task.answer_columns)
    side = comparison.runs
    sections = [_section("Runs", html_table(side))]
    if len(runs) > 1:
        sections.append(_section(
            "Agreement between runs", html_table(comparison.pairs),
            _note(f"Agreement and Cohen's kappa on ({', '.join(task.answer_columns)}) over {noun} both runs "
                  "answered."),
        ))
    sections.append(_cost_section(side, f"accuracy ({answer})"))
    cats = _label_table(runs, names)
    sections.append(_section(
        f"Per-{label} accuracy", _img(figures.per_label_accuracy(cats, label), f"per-{label} accuracy"),
        html_table(cats.rename_axis(label), index=True) if not cats.empty
        else _note(f"No gold labels: no per-{label} accuracy."),
    ))
    matrices = []
    for df, name in zip(runs, names):
        has_gold = all(c in df.columns for c in task.gold_columns)
        matrix = task.confusion_matrix(df) if has_gold else None
        matrix = pd.DataFrame() if matrix is None else matrix
        matrices.append(_img(figures.confusion_heatmap(matrix, name, label), f"confusion matrix of {name}")
                        or _note(f"{name}: no gold labels."))
    sections.append(_section(f"Confusion matrices ({label} level; (none) = failed answer)", *matrices))
    sections.append(_latency_section({name: _call_latencies(df) for df, name in zip(runs, names)}))
    if len(runs) > 1:
        dis = comparison.disagreements
        shown = dis.head(MAX_DISAGREEMENTS)
        more = _note(f"First {MAX_DISAGREEMENTS} of {len(dis)} shown.") if len(dis) > len(shown) else ""
        shared = comparison.pairs["n_both"].max() if len(comparison.pairs) else 0
        agree = (f"The runs share no {task.item_noun}: there is nothing to compare." if not shared else
                 f"The runs agree on every {task.item_noun} they share.")
        sections.append(_section(f"Disagreements ({len(dis)} {noun})", html_table(shown) if len(dis) else
                                 _note(agree), more))
    title = "Run report: " + ", ".join(names)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{_note('Generated ' + stamp)}{''.join(sections)}</body></html>\n"
    )


def write_report(run_dirs: Sequence[str | Path], out_path: str | Path, runs_dir: str | Path = DEFAULT_RUNS_DIR) -> Path:
    """Load ``run_dirs`` (paths or run ids) and write the HTML report to ``out_path``; unreadable runs are skipped."""
    if not run_dirs:
        raise InputError("report: no runs given")
    from labnb.terminal.console import warn

    runs, skipped = load_readable([str(r) for r in run_dirs], runs_dir)
    for line in skipped:
        warn(f"skipped {line}")
    if not runs:
        raise InputError("report: none of the runs given is readable")
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(runs), encoding="utf-8")
    return out

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
from labnb.analysis.pngfig import MISSING, available
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
table.runs td, table.runs th { white-space: nowrap; overflow-wrap: normal; }
span.id { color: #666; font-size: 0.85em; }
div.scroll { overflow-x: auto; }
td.right { color: #1a7f37; } td.wrong { color: #b42318; }
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
    """One latency per call, from ``outputs/calls.jsonl``: what timing.json's percentiles (the runs table) are of.

    A row's ``latency_ms`` is its share of a batch call, so rows would disagree with the runs table."""
    from labnb.store.jsonio import read_jsonl

    calls = read_jsonl(Path(str(df.attrs.get("path", ""))) / "outputs" / "calls.jsonl")
    return [float(c["latency_ms"]) for c in calls if isinstance(c.get("latency_ms"), (int, float))]


def display_names(runs: list[pd.DataFrame]) -> list[str]:
    """How the report names runs: the first tag, else the model alias; ``#2``, ``#3``… when two share one."""
    bases = []
    for df in runs:
        summary = df.attrs.get("summary", {})
        tags = summary.get("tags") or []
        bases.append(str(tags[0]) if tags else str(summary.get("model_alias") or df.attrs.get("run_id", "run")))
    names = []
    for i, base in enumerate(bases):
        n = bases[:i].count(base) + 1
        names.append(base if bases.count(base) == 1 else f"{base} #{n}")
    return names


def _label_table(runs: list[pd.DataFrame], names: list[str]) -> pd.DataFrame:
    """Gold labels x runs: the share of each gold label's items whose whole answer is right (what the
    experiment report's "Accuracy per gold ..." shows too)."""
    columns = {}
    for df, name in zip(runs, names):
        task = task_of(df)
        per = df.attrs.get("metrics", {}).get(task.per_label_metric, {})
        columns[name] = pd.Series({label: m.get(task.per_label_accuracy) for label, m in per.items()
                                   if m.get("support")}, dtype=float)
    table = pd.DataFrame(columns)
    return table.astype(float) if not table.empty else table


def _percent(value: float | None) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{float(value):.1%}"


def _runs_table(side: pd.DataFrame, run_ids: list[str]) -> str:
    """One row per run, numbers rounded as the summary line rounds them; never wrapped."""
    def num(value: object, fmt: str) -> str:
        return "" if value is None or (isinstance(value, float) and math.isnan(value)) else fmt.format(value)

    head = ("run (folder)", "model", "status", "items", "ok", "failed", "accuracy", "cost", "tokens", "duration",
            "latency p50", "latency p95")
    rows = []
    for (_, r), run_id in zip(side.iterrows(), run_ids):
        cells = [(r["model"], ""), (r["status"], ""), (num(r["items"], "{:,.0f}"), "num"),
                 (num(r["ok"], "{:,.0f}"), "num"), (num(r["failures"], "{:,.0f}"), "num"),
                 (_percent(r["accuracy"]), "num"), (num(r["cost_usd"], "${:.6f}"), "num"),
                 (num(r["total_tokens"], "{:,.0f}"), "num"), (num(r["duration_s"], "{:.1f} s"), "num"),
                 (num(r["latency_p50_ms"], "{:,.0f} ms"), "num"), (num(r["latency_p95_ms"], "{:,.0f} ms"), "num")]
        name = f'<td>{html.escape(str(r["run_id"]))}<br><span class="id">{html.escape(run_id)}</span></td>'
        rows.append(f"<tr>{name}" + "".join(f'<td class="{c}">{html.escape(str(v))}</td>' for v, c in cells)
                    + "</tr>")
    header = "".join(f"<th>{h}</th>" for h in head)
    # never wrapped: on a narrow window the table scrolls sideways rather than break "completed" in two
    return (f'<div class="scroll"><table class="runs"><thead><tr>{header}</tr></thead><tbody>{"".join(rows)}'
            "</tbody></table></div>")


def _pairs_table(pairs: pd.DataFrame) -> str:
    shown = pd.DataFrame({"run A": pairs["run_a"], "run B": pairs["run_b"], "items in both": pairs["n_both"],
                          "both answered": pairs["n_compared"], "same answer": pairs["n_agree"],
                          "agreement": [_percent(v) for v in pairs["agreement"]],
                          "Cohen's kappa": ["" if v is None or v != v else f"{v:.3f}" for v in pairs["kappa"]]})
    return html_table(shown)


def _disagreement_table(dis: pd.DataFrame, names: list[str]) -> str:
    """The disagreements, each answer marked ✓ (the gold label) or ✗ (not it) where there is a gold label."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in dis.columns)
    body = []
    for _, row in dis.iterrows():
        cells = []
        for column, value in row.items():
            text, css = str(value), ""
            if column in names and row.get("gold"):
                right = text == row["gold"]
                text, css = f"{'✓' if right else '✗'} {text}", "right" if right else "wrong"
            cells.append(f'<td class="{css}">{html.escape(text)}</td>' if css else f"<td>{html.escape(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _section(title: str, *parts: str) -> str:
    return f"<section><h2>{html.escape(title)}</h2>{''.join(p for p in parts if p)}</section>"


def _cost_section(side: pd.DataFrame, accuracy: str) -> str:
    if not available():
        return _section("Cost vs accuracy", _note(MISSING))
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
        notes = [_note("No latencies recorded." if available() else MISSING)]
    return _section("Latency distribution", _img(fig, "latency"), *notes)


def render_report(runs: Sequence[pd.DataFrame]) -> str:
    """The report's HTML for loaded runs (``load_run``)."""
    runs = list(runs)
    names = display_names(runs)
    comparison = compare_runs(runs)
    renamed = dict(zip(run_names(runs), names))  # compare names runs by id; a reader knows them by tag or model
    comparison.runs["run_id"] = names
    comparison.pairs[["run_a", "run_b"]] = comparison.pairs[["run_a", "run_b"]].replace(renamed)
    comparison.disagreements = comparison.disagreements.rename(columns=renamed)
    task = task_of(runs[0])
    noun, label = f"{task.item_noun}s", task.label_noun
    answer = " + ".join(task.answer_columns)
    side = comparison.runs
    sections = [_section("Runs", _runs_table(side, [str(df.attrs.get("run_id", "")) for df in runs]),
                         _note("Runs are named by their first tag (--tag), else their model. Latencies are per call "
                               "(a batch is one call)."))]
    if len(runs) > 1:
        sections.append(_section(
            "Agreement between runs", _pairs_table(comparison.pairs),
            _note(f"Agreement and Cohen's kappa on ({', '.join(task.answer_columns)}) over {noun} both runs "
                  "answered."),
        ))
    sections.append(_cost_section(side, f"accuracy ({answer})"))
    cats = _label_table(runs, names)
    whole = f"whole answer ({answer})" if len(task.answer_columns) > 1 else "answer"
    sections.append(_section(
        f"Accuracy per gold {label}", _img(figures.per_label_accuracy(cats, label), f"accuracy per gold {label}"),
        _note(f"The share of each gold {label}'s {noun} whose {whole} is right, as in an experiment's report.")
        if not cats.empty else "",
        html_table(cats.map(_percent).rename_axis(label), index=True) if not cats.empty
        else _note(f"No gold labels: no accuracy per gold {label}."),
    ))
    matrices = []
    for df, name in zip(runs, names):
        has_gold = all(c in df.columns for c in task.gold_columns)
        matrix = task.confusion_matrix(df) if has_gold else None
        matrix = pd.DataFrame() if matrix is None else matrix
        matrices.append(_img(figures.confusion_heatmap(matrix, name, label), f"confusion matrix of {name}")
                        or _note(f"{name}: no gold labels." if matrix.empty or available() else MISSING))
    sections.append(_section(f"Confusion matrices ({label} level; (none) = failed answer)", *matrices))
    sections.append(_latency_section({name: _call_latencies(df) for df, name in zip(runs, names)}))
    if len(runs) > 1:
        dis = comparison.disagreements
        shown = dis.head(MAX_DISAGREEMENTS)
        more = _note(f"First {MAX_DISAGREEMENTS} of {len(dis)} shown.") if len(dis) > len(shown) else ""
        shared = comparison.pairs["n_both"].max() if len(comparison.pairs) else 0
        agree = (f"The runs share no {task.item_noun}: there is nothing to compare." if not shared else
                 f"The runs agree on every {task.item_noun} they share.")
        marks = _note("✓: the answer is the gold label; ✗: it is not.") if len(dis) and "gold" in dis else ""
        sections.append(_section(f"Disagreements ({len(dis)} {noun})", _disagreement_table(shown, names)
                                 if len(dis) else _note(agree), marks, more))
    title = "Run report: " + ", ".join(names)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{_note('Generated ' + stamp)}{'' if available() else _note(MISSING)}"
        f"{''.join(sections)}</body></html>\n"
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

"""analyze_runs.py: list, compare and report on run folders.

    python src/analyze_runs.py list [--runs-dir DIR] [--json]
    python src/analyze_runs.py compare RUN RUN [RUN...] [--out disagreements.csv] [--json]
    python src/analyze_runs.py report RUN [RUN...] -o report.html
    python src/analyze_runs.py export RUN --xlsx classifications.xlsx
    python src/analyze_runs.py diff RUN_A RUN_B [--out differences.csv]
    python src/analyze_runs.py export-mlflow RUN_OR_EXPERIMENT... [--tracking-uri URI]

RUN is a run folder path or a run id under --runs-dir (default: the project's runs/, as the runner).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

from labnb.errors import LabError, UsageError
from labnb.store.scrub import keep_typed_paths
from labnb.terminal.console import error, invoked_as, safe, warn

LIST_COLUMNS = ("run_id", "model", "status", "items", "failures", "accuracy", "cost_usd", "duration_s",
                "total_tokens", "input", "batch_size", "labels", "tags")


def _plain(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN to None."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _records(df: Any) -> list[dict[str, Any]]:
    return [{str(k): _plain(v) for k, v in row.items()} for row in df.to_dict("records")]


def _fmt(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # token counts in a column pandas made float by a missing value
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1 else f"{value:.2f}"  # small costs keep their digits
    return str(value)


def _text_table(rows: list[dict[str, Any]], columns: tuple[str, ...] | list[str]) -> str:
    cells = [[safe(c) for c in columns]] + [[safe(_fmt(r.get(c))) for c in columns] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in cells)


def _dump(data: Any) -> None:
    print(json.dumps(data, sort_keys=True, indent=2))


def cmd_list(args: argparse.Namespace) -> int:
    from labnb.analysis.runs import run_records

    records = run_records(args.runs_dir)
    if args.json:
        _dump(records)
    elif not records:
        print(f"no runs under {safe(args.runs_dir)}/")
    else:
        in_experiments = ("experiment",) if any("experiment" in r for r in records) else ()
        print(_text_table(records, (*LIST_COLUMNS, *in_experiments)))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    if len(args.runs) < 2:
        raise UsageError("compare: give at least two runs")
    from labnb.analysis.runs import load_readable

    runs, skipped = load_readable(args.runs, args.runs_dir)  # bad RUNs fail before the slow imports below
    for line in skipped:
        warn(f"skipped {line}")
    if len(runs) < 2:
        raise UsageError(f"compare: {len(runs)} readable run{'s' if len(runs) != 1 else ''}; give at least two")
    from labnb.analysis.compare import compare_runs

    result = compare_runs(runs)
    if args.out:
        result.disagreements.to_csv(args.out, index=False)
    if args.json:
        _dump({"runs": _records(result.runs), "pairs": _records(result.pairs),
               "disagreements": _records(result.disagreements)})
        return 0
    side = _records(result.runs)
    metrics = [c for c in result.runs.columns if c != "run_id"]
    print(_text_table([{"": m, **{r["run_id"]: r[m] for r in side}} for m in metrics],
                      ["", *[r["run_id"] for r in side]]))
    print()
    for pair in _records(result.pairs):
        print(f"{safe(pair['run_a'])} vs {safe(pair['run_b'])}: agreement {_fmt(pair['agreement'])} "
              f"({pair['n_agree']}/{pair['n_compared']} items both answered), kappa {_fmt(pair['kappa'])}")
    n = len(result.disagreements)
    where = f"; written to {args.out}" if args.out else " (--out FILE.csv saves them)"
    print(f"{n} item{'s' if n != 1 else ''} with differing answers{where}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from labnb.analysis.runs import resolve_run

    for ref in args.runs:  # bad RUNs fail before the slow imports below
        resolve_run(ref, args.runs_dir)
    from labnb.analysis.report import write_report

    print(f"wrote {safe(write_report(args.runs, args.output, args.runs_dir))}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from labnb.analysis.export import export_xlsx

    path, rows = export_xlsx(args.run, args.xlsx, args.runs_dir)
    print(f"wrote {safe(path)}: {rows} rows, every cell as text")
    return 0


def cmd_diff(args: argparse.Namespace) -> int:
    from labnb.analysis.runs import resolve_run
    from labnb.experiments.diff import diff_runs, headline

    result = diff_runs(resolve_run(args.run_a, args.runs_dir), resolve_run(args.run_b, args.runs_dir))
    if args.out:
        result.items.to_csv(args.out, index=False)
    print(headline(result))
    if len(result.items):
        print(_text_table(_records(result.items), list(result.items.columns)))
    return 0


def cmd_export_mlflow(args: argparse.Namespace) -> int:
    from labnb.analysis.runs import resolve_run
    from labnb.experiments.mlflow_export import default_tracking_uri, export, is_experiment
    from labnb.store.scrub import redact_url

    if not args.timeout > 0:
        raise UsageError(f"--timeout must be a positive number of seconds, got {args.timeout}")
    refs = [Path(r) if is_experiment(r) else resolve_run(r, args.runs_dir) for r in args.runs]
    uri = args.tracking_uri or default_tracking_uri(args.runs_dir)
    results = export(refs, uri, timeout=args.timeout)
    for r in results:
        print(f"{r.action}: {r.run_id} -> experiment '{r.experiment}', MLflow run {r.mlflow_run_id}")
    counts = {a: sum(r.action == a for r in results) for a in ("exported", "updated", "already there")}
    print(f"{counts['exported']} exported, {counts['updated']} updated, {counts['already there']} already there "
          f"| {redact_url(uri)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from labnb.analysis.runs import DEFAULT_RUNS_DIR

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--runs-dir", default=str(DEFAULT_RUNS_DIR), metavar="DIR",
                        help=f"where run ids are looked up (default: {DEFAULT_RUNS_DIR})")
    parser = argparse.ArgumentParser(prog=invoked_as("analyze_runs.py"),
                                     description="List, compare and report on run folders.")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("list", parents=[common], help="one line per run under --runs-dir")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("compare", parents=[common], help="side by side, agreement, kappa, disagreements")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folder or run id (two or more)")
    p.add_argument("--out", metavar="CSV", help="write the disagreements table to this CSV file")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_compare)
    p = sub.add_parser("report", parents=[common], help="one self-contained HTML report")
    p.add_argument("runs", nargs="+", metavar="RUN", help="run folder or run id")
    p.add_argument("-o", "--output", required=True, metavar="HTML", help="the report file to write")
    p.set_defaults(func=cmd_report)
    p = sub.add_parser("export", parents=[common], help="a run's classifications as an all-text Excel file")
    p.add_argument("run", metavar="RUN", help="run folder or run id")
    p.add_argument("--xlsx", required=True, metavar="FILE", help="the .xlsx file to write (Excel never evaluates it)")
    p.set_defaults(func=cmd_export)
    p = sub.add_parser("diff", parents=[common], help="items whose answers differ; what B fixed and broke; McNemar")
    p.add_argument("run_a", metavar="RUN_A")
    p.add_argument("run_b", metavar="RUN_B")
    p.add_argument("--out", metavar="CSV", help="write the differing items to this CSV file")
    p.set_defaults(func=cmd_diff)
    p = sub.add_parser("export-mlflow", parents=[common], help="log runs or experiments as MLflow runs")
    p.add_argument("runs", nargs="+", metavar="RUN_OR_EXPERIMENT", help="run folder, run id or experiment folder")
    p.add_argument("--tracking-uri", metavar="URI",
                   help="MLflow tracking URI (default: sqlite:///RUNS_DIR/mlflow.db, embedded, no server)")
    p.add_argument("--timeout", type=float, default=30.0, metavar="SECONDS",
                   help="limit of each request to a tracking server, never retried (default 30)")
    p.set_defaults(func=cmd_export_mlflow)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    keep_typed_paths(sys.argv[1:] if argv is None else argv)  # a path the user typed is printed as typed
    try:
        return args.func(args)
    except LabError as exc:
        error(exc)
        return exc.exit_code
    except BrokenPipeError:  # `| head` stopped reading: not an error (recipe from the signal module docs)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # writing --out / -o: a bad path is the user's to fix, not a traceback
        error(f"{exc.filename or ''}: {exc.strerror or exc}")
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

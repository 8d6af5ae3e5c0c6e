"""run_experiment.py: a grid of ordinary runs from one spec, a leaderboard, a report and a CI gate."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from labnb.errors import LabError, UsageError
from labnb.store import runlock
from labnb.store.scrub import keep_typed_paths
from labnb.terminal.console import invoked_as, safe

EPILOG = """exit codes: 0 every cell done; 1 some cell not done (failed, skipped for the budget);
2 bad spec or usage (nothing run); 4 a gate failed; 130 interrupted (continue with --resume EXP_DIR)."""
DEFAULT_RUNS = Path(__file__).resolve().parents[3] / "runs"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog=invoked_as("run_experiment.py"), epilog=EPILOG,
                description="Run every cell of an experiment spec (every combination of its grid's values) "
                            "as an ordinary run.")
    p.add_argument("spec", nargs="?", metavar="SPEC.yaml", help="the experiment spec")
    p.add_argument("--dry-run", action="store_true", help="price every cell and the total; run nothing, no folder")
    p.add_argument("--max-cost", type=float, metavar="USD", help="cap the whole experiment: no cell starts past it")
    p.add_argument("--parallel", type=int, default=1, metavar="N", help="cells at once (default 1)")
    p.add_argument("--resume", metavar="EXP_DIR", help="continue an interrupted experiment in its folder")
    p.add_argument("--runs-dir", metavar="DIR", help=f"experiments go to DIR/experiments/ (default {DEFAULT_RUNS})")
    p.add_argument("--fail-under", action="append", default=[], metavar="METRIC=VALUE",
                   help="gate the best cell: exit 4 when its METRIC is below VALUE (repeatable)")
    return p


def _run(args: argparse.Namespace) -> int:
    from labnb.experiments import experiment
    from labnb.experiments.gate import parse_fail_under
    from labnb.experiments.spec import load_spec

    if (args.spec is None) == (args.resume is None):
        raise UsageError("give exactly one of SPEC.yaml or --resume EXP_DIR")
    if args.parallel < 1:
        raise UsageError(f"--parallel must be at least 1, got {args.parallel}")
    if args.max_cost is not None and args.max_cost <= 0:
        raise UsageError(f"--max-cost must be positive, got {args.max_cost}")
    if args.resume:
        spec, folder, header, cells = experiment.reopen(args.resume)
        todo = [c for c in cells if c.state != "done" and not c.run_dir]
    else:
        spec = load_spec(args.spec)
        cells = experiment.new_cells(spec)
        todo = cells
    extra = [parse_fail_under(text, spec.use_case.gate_metrics) for text in args.fail_under]
    # every cell to start is checked (options, inputs, API keys) before anything runs
    projections = experiment.price(spec, todo, require_keys=not args.dry_run)
    if args.dry_run:
        print(experiment.dry_run_table(spec, todo, projections))
        return 0
    if not args.resume:
        folder, header, cells = experiment.start(spec, Path(args.runs_dir or DEFAULT_RUNS).resolve() / "experiments")
    cut = sum(c.state != "done" and bool(c.run_dir) for c in cells)
    print(safe(f"experiment {folder.id}: {len(cells)} cells, {len(todo)} to start"
               + (f", {cut} to resume" if cut else "") + f" | {folder.path}"), flush=True)
    gates = ([spec.gate] if spec.gate else []) + extra
    try:
        outcome = experiment.run(spec, folder, header, cells, parallel=args.parallel, max_cost=args.max_cost,
                                 projections=projections, gates_=gates, say=lambda s: print(safe(s), flush=True))
    except KeyboardInterrupt:
        print(safe(f"interrupted | continue with: python src/run_experiment.py --resume {folder.path}"), flush=True)
        return 130
    for line in outcome.line.splitlines():
        print(safe(line))
    return outcome.exit_code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    keep_typed_paths(argv)  # a path the user typed is printed as typed, never redacted
    try:
        return _run(args)
    except LabError as exc:
        print(f"error: {safe(exc)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    finally:
        runlock.release_all()

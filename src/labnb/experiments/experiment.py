"""An experiment end to end: validate, price, create the folder, run the cells, rank, report, gate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from labnb.errors import InputError
from labnb.experiments import gate as gates
from labnb.experiments import leaderboard
from labnb.experiments.cells import CellState, cell_plan, missing_keys, refuse_missing_keys
from labnb.experiments.folder import ExperimentFolder
from labnb.experiments.scheduler import Scheduler, run_cost
from labnb.experiments.spec import Gate, Spec, load_spec
from labnb.run.dryrun import Projection
from labnb.store.jsonio import write_text_atomic

EXIT_CELLS_UNFINISHED = 1


@dataclass
class Outcome:
    folder: ExperimentFolder
    board: leaderboard.Leaderboard
    exit_code: int
    line: str


def price(spec: Spec, cells: list[CellState], cache_argv: list[str] | None = None, *,
          require_keys: bool = False) -> dict[int, Projection]:
    """Each cell's dry-run projection (what the response cache answers left out); a cell that cannot run (bad
    alias, bad input, with ``require_keys`` a missing API key) fails here, before any run."""
    from labnb.run.dryrun import project

    projections: dict[int, Projection] = {}
    needs: dict[str, list[str]] = {}
    for cell in cells:
        plan = cell_plan(spec, cell, cache_argv)
        projections[cell.index] = project(plan.entry, plan)
        for env in missing_keys(plan):
            needs.setdefault(env, []).append(cell.name)
    if require_keys:
        refuse_missing_keys(spec, needs)
    return projections


def cache_argv(runs_dir: Path, *, off: bool) -> list[str]:
    """What every cell is told about the response cache: the one of the experiments' runs dir, or none."""
    from labnb.cache import default_path

    return ["--no-cache"] if off else ["--cache-db", str(default_path(runs_dir))]


def dry_run_table(spec: Spec, cells: list[CellState], projections: dict[int, Projection]) -> str:
    header = ("cell", "requests", "input tok", "output tok", "cost USD", "with cache", "batch API")
    rows = [(c.name, *(f"{v:,}" for v in (p.requests, p.input_tokens, p.output_tokens)),
             *(f"{v:.6f}" for v in (p.cost_uncached, p.cost_cached, p.cost_batch_api)))
            for c in cells for p in [projections[c.index]]]
    total = [sum(p.requests for p in projections.values()), sum(p.input_tokens for p in projections.values()),
             sum(p.output_tokens for p in projections.values())]
    costs = [sum(getattr(p, a) for p in projections.values()) for a in ("cost_uncached", "cost_cached",
                                                                         "cost_batch_api")]
    rows.append(("total", *(f"{v:,}" for v in total), *(f"{v:.6f}" for v in costs)))
    hits = sum(p.from_cache for p in projections.values())
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
             for r in [header, *rows]]
    head = (f"dry run: experiment '{spec.name}', {len(cells)} cell{'s' if len(cells) != 1 else ''} of "
            f"{spec.use_case.name}; nothing was sent, "
            "no folder was created")
    note = ("--max-cost budgets against the dearer of 'cost USD' (no cache) and 'with cache' ('batch API' with "
            "--batch-api), as each run's --dry-run projects them.")
    cached = ([f"{hits:,} request{'s' if hits != 1 else ''} answered by the response cache: not counted or priced "
               "above (--no-cache to price every request)"] if hits else [])
    return "\n".join([head, *lines, note, *cached])


def new_cells(spec: Spec) -> list[CellState]:
    return [CellState.of(plan) for plan in spec.cells()]


def start(spec: Spec, experiments_dir: Path) -> tuple[ExperimentFolder, dict, list[CellState]]:
    cells = new_cells(spec)
    folder = ExperimentFolder.create(experiments_dir, spec.name, spec.path.read_bytes())
    folder.lock()
    header = {"experiment_id": folder.id, "name": spec.name, "use_case": spec.use_case.name,
              "spec_dir": str(spec.path.parent), "grid_keys": list(spec.grid)}
    return folder, header, cells


def reopen(exp_dir: str | Path) -> tuple[Spec, ExperimentFolder, dict, list[CellState]]:
    """The experiment in ``exp_dir``: its spec copy (paths relative to where the spec was) and its cells."""
    folder = ExperimentFolder.open(exp_dir)
    folder.lock()  # before reading cells.json: one process runs an experiment's cells, never two
    header, cells = folder.load()
    spec = load_spec(folder.path / "experiment.yaml", base=Path(header["spec_dir"]))
    if [c.name for c in cells] != [c.name for c in new_cells(spec)]:
        raise InputError(f"{folder.path / 'cells.json'}: its cells do not match experiment.yaml")
    for cell in cells:  # a run folder made just before the crash, not yet in cells.json: continue it
        home = folder.runs_dir(cell)
        found = sorted(p for p in home.iterdir() if p.is_dir()) if home.is_dir() else []
        if found and not cell.run_dir and cell.state != "done":
            cell.run_dir, cell.run_id = str(found[0]), found[0].name
    return spec, folder, header, cells


def finish(spec: Spec, folder: ExperimentFolder, cells: list[CellState], gates_: list[Gate]) -> Outcome:
    """Rank the cells, write leaderboard.csv/.md and report.html, apply the gates."""
    from labnb.experiments.report_html import render

    board = leaderboard.build(spec.use_case, list(spec.grid), cells)
    write_text_atomic(folder.path / "leaderboard.csv", leaderboard.to_csv(board))
    write_text_atomic(folder.path / "leaderboard.md", leaderboard.to_markdown(board, f"Experiment {folder.id}"))
    write_text_atomic(folder.path / "report.html", render(board, folder.id))
    done = sum(c.state == "done" for c in cells)
    others = {s: sum(c.state == s for c in cells) for s in ("skipped", "failed", "interrupted")}
    parts = [f"experiment: {done}/{len(cells)} cells done"] + [f"{n} {s}" for s, n in others.items() if n]
    best = board.best
    head = ", ".join(parts)
    unscored = "no accuracy (no gold labels)" if done else "no accuracy (no cell finished)"
    tail = [f"best {best.row['cell']} accuracy {best.row['accuracy']:.3f}" if best else unscored,
            f"${sum(run_cost(c) for c in cells if c.run_dir):.6f}", str(folder.path)]
    line = " | ".join([head, *tail])
    failures = [m for m in (gates.check(g, board) for g in gates_) if m]
    if failures:
        return Outcome(folder, board, gates.EXIT_GATE_FAILED, "\n".join([line, *failures]))
    return Outcome(folder, board, 0 if done == len(cells) else EXIT_CELLS_UNFINISHED, line)


def run(spec: Spec, folder: ExperimentFolder, header: dict, cells: list[CellState], *, parallel: int,
        max_cost: float | None, projections: dict[int, Projection], gates_: list[Gate],
        say: Callable[[str], None] = print) -> Outcome:
    scheduler = Scheduler(spec, folder, header, cells, parallel=parallel, max_cost=max_cost, projections=projections,
                          say=say)
    for cell in cells:
        if cell.index in projections:
            cell.projected_cost_usd = projections[cell.index].cost_uncached
    scheduler.save()
    scheduler.run()
    return finish(spec, folder, cells, gates_)

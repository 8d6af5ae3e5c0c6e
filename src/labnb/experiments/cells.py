"""One cell: its recorded state, its dry-run projection, and its run as an ordinary CLI process."""

from __future__ import annotations

import contextlib
import io
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from labnb.errors import LabError, MissingKeyError
from labnb.experiments.grid import CellPlan
from labnb.experiments.spec import Spec, SpecError
from labnb.run.dryrun import Projection

if TYPE_CHECKING:
    from labnb.run.plan import Plan

FINAL_STATUSES = ("completed", "completed_with_errors", "budget_exhausted")
TAKEOVER_SECONDS = 30.0  # a stopped run gives in-flight calls 5 s, then writes everything
POLL_SECONDS = 0.05


@dataclass
class CellState:
    """A cell as ``cells.json`` records it. ``state``: pending | running | done | skipped | failed | interrupted."""

    index: int
    name: str
    values: dict[str, Any]
    options: dict[str, Any]
    state: str = "pending"
    run_id: str | None = None
    run_dir: str | None = None
    exit_code: int | None = None
    message: str = ""
    projected_cost_usd: float | None = None
    max_cost_usd: float | None = None
    resumed: int = 0

    @classmethod
    def of(cls, plan: CellPlan) -> CellState:
        return cls(plan.index, plan.name, plan.values, plan.options)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CellState:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def budget_cost(projection: Projection, batch_api: bool) -> float:
    """The most a cell is expected to cost: cache writes can make 'with cache' the dearer one."""
    return projection.cost_batch_api if batch_api else max(projection.cost_uncached, projection.cost_cached)


def cell_plan(spec: Spec, cell: CellState, cache_argv: list[str] | None = None) -> Plan:
    """The plan of ``cell``'s run, as its ``--dry-run`` makes it (no key needed); a cell that cannot run fails."""
    from labnb.registry import task_class
    from labnb.run.cli import options_of
    from labnb.run.plan import prepare

    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            args = spec.use_case.build_parser().parse_args([*spec.argv(cell.options), *(cache_argv or [])])
        task = task_class(spec.use_case.name)
        return prepare(task(), options_of(task, args), require_key=False)
    except SystemExit:  # argparse: its one line is on stderr
        message = (err.getvalue().strip().splitlines() or ["bad options"])[-1]
        raise SpecError(f"{spec.path}: cell {cell.name}: {message.removeprefix('error: ')}") from None
    except LabError as exc:
        raise SpecError(f"{spec.path}: cell {cell.name}: {exc}") from None


def missing_keys(plan: Plan) -> list[str]:
    """The environment variables a cell's models need and that are not set."""
    missing = []
    for entry in (plan.entry, plan.escalation):
        try:
            if entry is not None:
                entry.api_key()
        except MissingKeyError:
            missing.append(entry.key_env or "" if entry is not None else "")
    return missing


def refuse_missing_keys(spec: Spec, needs: dict[str, list[str]]) -> None:
    """One line naming every cell that cannot start for want of a key, and the variable, before anything runs."""
    if not needs:
        return
    parts = [f"cell{'s' * (len(cells) > 1)} {', '.join(cells)} need{'s' * (len(cells) == 1)} {env}"
             for env, cells in needs.items()]
    them = "them" if len(needs) > 1 else "it"
    raise MissingKeyError(f"{spec.path}: {'; '.join(parts)}: set {them} in the environment, or take those models "
                          "out of the grid (nothing was run)")


def _die_with(parent: int) -> Callable[[], None]:
    def die_with_parent() -> None:
        """In the child: get SIGTERM when the experiment process dies (even by kill -9), so no cell runs orphaned;
        a cell whose parent died before this ran stops at once."""
        if sys.platform.startswith("linux"):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:
            os._exit(130)

    return die_with_parent


def wait_for_run(run_dir: str, say: Callable[[str], None], *, grace: float = TAKEOVER_SECONDS) -> str | None:
    """Wait until no process holds ``run_dir``'s lock: a cell of a killed experiment is still writing (it got
    SIGTERM with its parent). After ``grace`` seconds it gets SIGTERM again, then SIGKILL; None once the run is
    free, else why not."""
    from labnb.store.runlock import holder

    pid = holder(Path(run_dir))
    if pid is None:
        return None
    say(f"waiting for pid {pid} to finish writing {run_dir} (a cell of the earlier session)")
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None and pid > 0 and _runs_in(pid, run_dir):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if holder(Path(run_dir)) is None:
                return None
            time.sleep(POLL_SECONDS)
    return f"{run_dir}: still in use by pid {pid}; resume the experiment again once it has ended"


def _runs_in(pid: int, run_dir: str) -> bool:
    """Whether process ``pid`` is a run of ``run_dir`` (its command line names the folder or its parent)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return False
    return any(arg in (run_dir, str(Path(run_dir).parent)) for arg in cmdline)


@dataclass
class CellProcess:
    """A running cell: its process, and the folder its run folder will appear in (its own, so never ambiguous)."""

    cell: CellState
    process: subprocess.Popen
    runs_dir: Path

    def discover(self) -> bool:
        """Record the cell's run folder once it appears; True when it is known."""
        if self.cell.run_dir is None and self.runs_dir.is_dir():
            found = sorted(p for p in self.runs_dir.iterdir() if p.is_dir())
            if found:
                self.cell.run_dir, self.cell.run_id = str(found[0]), found[0].name
        return self.cell.run_dir is not None


def start(spec: Spec, cell: CellState, runs_dir: Path, log: Path, max_cost: float | None,
          cache_argv: list[str] | None = None) -> CellProcess:
    """Start ``cell`` as an ordinary run in ``runs_dir`` (or resume its run folder), stderr appended to ``log``."""
    command = spec.use_case.command()
    if cell.run_dir:
        argv = [*command, "--resume", cell.run_dir]
    else:
        argv = [*command, *spec.argv(cell.options), "--runs-dir", str(runs_dir), *(cache_argv or [])]
    if max_cost is not None:
        argv += ["--max-cost", cap_text(max_cost)]
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**spec.use_case.environment(), "PYTHONUNBUFFERED": "1"}
    with open(log, "ab") as err:
        process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, text=True,
                                   preexec_fn=_die_with(os.getpid()), env=env)
    return CellProcess(cell, process, runs_dir)


def cap_text(max_cost: float) -> str:
    """A cell's ``--max-cost``, rounded down to a millionth of a dollar: a cap never exceeds what is left."""
    return f"{math.floor(max_cost * 1e6 + 1e-6) / 1e6:.6f}"


def last_line(path: Path) -> str:
    """The last non-empty line of a log (progress bars end with carriage returns, not newlines)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    lines = [seg.strip() for line in text.splitlines() for seg in line.split("\r") if seg.strip()]
    return lines[-1] if lines else ""

"""Run an experiment's cells: N at a time, under the experiment's budget, recording each state as it changes."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labnb.experiments.cells import (
    FINAL_STATUSES,
    POLL_SECONDS,
    CellProcess,
    CellState,
    budget_cost,
    last_line,
    start,
    wait_for_run,
)
from labnb.experiments.folder import ExperimentFolder
from labnb.experiments.spec import Spec
from labnb.run.dryrun import Projection
from labnb.store.jsonio import read_json

STOP_GRACE_SECONDS = 30  # a run gives in-flight calls 5 s after a signal, then writes everything


def run_json(run_dir: str | None, relative: str) -> dict[str, Any]:
    try:
        data = read_json(Path(str(run_dir)) / relative)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def run_cost(cell: CellState) -> float:
    return float(run_json(cell.run_dir, "outputs/token_usage.json").get("cost_usd") or 0.0)


@dataclass
class Scheduler:
    spec: Spec
    folder: ExperimentFolder
    header: dict[str, Any]
    cells: list[CellState]
    parallel: int = 1
    max_cost: float | None = None
    projections: dict[int, Projection] = field(default_factory=dict)
    say: Callable[[str], None] = print
    running: list[CellProcess] = field(default_factory=list)
    _signal: int | None = None

    def save(self) -> None:
        self.folder.save(self.header, self.cells)

    def run(self) -> None:
        """Every cell not done yet: cut cells resumed in their run folder, the others started."""
        queue = [c for c in self.cells if c.state != "done" and not self._settled(c)]
        previous = signal.signal(signal.SIGTERM, self._on_term)
        try:
            while queue or self.running:
                self._poll()
                if queue and self._may_start():
                    self._launch(queue.pop(0))
                time.sleep(POLL_SECONDS)
        except KeyboardInterrupt:
            self._stop()
            raise
        finally:
            signal.signal(signal.SIGTERM, previous)
            self.save()

    def _on_term(self, signum: int, frame: Any) -> None:
        self._signal = signum
        raise KeyboardInterrupt

    def _settled(self, cell: CellState) -> bool:
        """A cut cell whose run did finish (the experiment died after it): done, nothing to run."""
        status = run_json(cell.run_dir, "metadata/run_summary.json").get("status") if cell.run_dir else None
        if status in FINAL_STATUSES:
            cell.state, cell.exit_code = "done", 0 if status == "completed" else 1
            cell.message = f"{status} (recorded on resume)"
            return True
        return False

    def _may_start(self) -> bool:
        return len(self.running) < self.parallel

    def _launch(self, cell: CellState) -> None:
        cap = None
        if self.max_cost is not None and not cell.run_dir:
            spent = sum(run_cost(c) for c in self.cells if c.state == "done")
            reserved = sum(cp.cell.max_cost_usd or 0.0 for cp in self.running)
            available = self.max_cost - spent - reserved
            projection = budget_cost(self.projections[cell.index], bool(cell.options.get("batch_api")))
            if projection > available + 1e-12:
                cell.state = "skipped"
                cell.message = (f"not started: projected ${projection:.6f} > ${max(available, 0):.6f} left "
                                f"of --max-cost {self.max_cost:g}")
                self._report(cell)
                return
            # One cell at a time may use all that is left; parallel cells each get their projection.
            cap = None if projection == 0 else (available if self.parallel == 1 else projection)
        cell.max_cost_usd = cap if not cell.run_dir else cell.max_cost_usd
        if cell.run_dir:
            busy = wait_for_run(cell.run_dir, self.say)  # a cell of a killed session may still be writing
            if busy or self._settled(cell):
                if busy:
                    cell.state, cell.message = "interrupted", busy
                self._report(cell)
                self.save()
                return
            cell.resumed += 1
        cell.state, cell.exit_code, cell.message = "running", None, ""
        self.running.append(start(self.spec, cell, self.folder.runs_dir(cell), self.folder.log(cell), cap))
        self.save()

    def _poll(self) -> None:
        for cp in list(self.running):
            known = cp.cell.run_dir is not None
            if cp.discover() and not known:
                self.save()
            if cp.process.poll() is not None:
                self._finish(cp)

    def _finish(self, cp: CellProcess) -> None:
        code = cp.process.wait()
        out = (cp.process.stdout.read() if cp.process.stdout else "").strip().splitlines()
        line = out[-1] if out else ""
        cell = cp.cell
        if " | " in line and Path(line.rsplit(" | ", 1)[1]).is_dir():  # the summary line ends with the folder
            cell.run_dir = line.rsplit(" | ", 1)[1]
            cell.run_id = Path(cell.run_dir).name
        else:
            cp.discover()
        status = run_json(cell.run_dir, "metadata/run_summary.json").get("status") if cell.run_dir else None
        cell.exit_code = code
        if status in FINAL_STATUSES:
            cell.state = "done"
        elif code == 130 or status in ("interrupted", "running"):
            cell.state = "interrupted"
        else:
            cell.state = "failed"
        cell.message = line or last_line(self.folder.log(cell)) or f"exit {code}"
        self.running.remove(cp)
        self._report(cell)
        self.save()

    def _report(self, cell: CellState) -> None:
        self.say(f"[{cell.index}/{len(self.cells)}] {cell.name}: {cell.message}")

    def _stop(self) -> None:
        """Ctrl-C reached the cells too (same process group); SIGTERM is passed on. Wait for them to write."""
        for cp in self.running:
            if self._signal is not None and cp.process.poll() is None:
                cp.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for cp in list(self.running):
            try:
                cp.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except Exception:  # still writing after the grace time: leave it to --resume
                continue
            self._finish(cp)

"""``metadata/run_summary.json``: the run's status, kept current with a heartbeat.

A run is ``running`` until it ends ``completed``, ``completed_with_errors``, ``failed``,
``interrupted`` or ``budget_exhausted``; a ``running`` run whose ``updated_at`` is stale crashed.
"""

from __future__ import annotations

import asyncio
from typing import Any

from labnb.store.records import RunSummary
from labnb.store.runfolder import SUMMARY, RunFolder
from labnb.store.timeutil import utc_now

HEARTBEAT_SECONDS = 5.0
STALE_AFTER_SECONDS = 6 * HEARTBEAT_SECONDS  # six missed heartbeats: the one rule for "this run crashed"
FINAL_STATUSES = ("completed", "completed_with_errors", "failed", "interrupted", "budget_exhausted")


class RunRecorder:
    """Owns the summary dict of a run and writes it (atomically) on every change."""

    def __init__(self, folder: RunFolder, summary: dict[str, Any]) -> None:
        self.folder = folder
        self.summary = summary

    @classmethod
    def load(cls, folder: RunFolder) -> RunRecorder:
        path = folder.file(SUMMARY)
        return cls(folder, RunSummary.read(path) or RunSummary.from_dict(None, str(path)))

    def save(self) -> None:
        self.summary["updated_at"] = utc_now()
        self.summary = RunSummary.build(self.summary).to_dict()
        self.folder.write_json(SUMMARY, self.summary)

    def update(self, **fields: Any) -> None:
        self.summary.update(fields)
        self.save()

    async def heartbeat(self, interval: float = HEARTBEAT_SECONDS) -> None:
        """Refresh ``updated_at`` until cancelled, so a crashed run is told apart from a slow one."""
        while True:
            await asyncio.sleep(interval)
            self.save()

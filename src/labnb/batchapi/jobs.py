"""A run's batches: requests split into provider-sized parts, created exactly once, polled, downloaded.

Everything lives in one directory (a run's ``outputs/batch/``): ``requests-NNN.jsonl`` (exactly what
is sent), ``items-NNN.json`` (custom_id -> the caller's references), the raw downloads, and
``batches.json``, the manifest of every part's ids and state, rewritten atomically after each step.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from labnb.batchapi.base import BatchAPIError, BatchPart, BatchProvider
from labnb.errors import InputError
from labnb.store.jsonio import read_json, write_json
from labnb.store.timeutil import utc_now

MANIFEST = "batches.json"
MAX_POLL_FAILURES = 10  # transient errors in a row (after the SDK's own retries) before polling gives up
sleep = time.sleep  # the pause between polls; a module attribute so a test can stand in for Ctrl-C there


@dataclass(frozen=True)
class BatchItem:
    """One request of a job: its id, the synchronous request body, and what it stands for (item ids)."""

    custom_id: str
    body: dict[str, Any]
    refs: list[str]


class BatchJob:
    def __init__(self, directory: Path, provider: BatchProvider, run_id: str) -> None:
        self.directory = Path(directory)
        self.provider = provider
        self.run_id = run_id
        manifest = self.directory / MANIFEST
        self.parts = [BatchPart.from_dict(p) for p in read_json(manifest)["parts"]] if manifest.exists() else []

    def save(self) -> None:
        write_json(self.directory / MANIFEST, {"provider": self.provider.name, "run_id": self.run_id,
                                               "parts": [p.to_dict() for p in self.parts]})

    @property
    def requests(self) -> int:
        return sum(p.count for p in self.parts)

    def add(self, items: Iterable[BatchItem], submission: int = 1) -> list[BatchPart]:
        """Write ``items`` into new parts within the provider's limits; one manifest write commits them all."""
        self.directory.mkdir(parents=True, exist_ok=True)
        new: list[BatchPart] = []
        handle: IO[bytes] | None = None
        refs: dict[str, list[str]] = {}

        def close() -> None:
            assert handle is not None
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            write_json(self.directory / new[-1].items_file, refs)

        for item in items:
            data = (json.dumps(self.provider.line(item.custom_id, item.body), ensure_ascii=False,
                               separators=(",", ":")) + "\n").encode()
            if len(data) > self.provider.max_bytes:
                raise InputError(f"request {item.custom_id} alone is {len(data):,} bytes, over the "
                                 f"{self.provider.name} batch limit of {self.provider.max_bytes:,}")
            part = new[-1] if new else None
            if part is None or part.count >= self.provider.max_requests or \
                    part.size_bytes + len(data) > self.provider.max_bytes:
                if handle is not None:
                    close()
                index = len(self.parts) + len(new) + 1
                part = BatchPart(index, f"requests-{index:03d}.jsonl", f"items-{index:03d}.json", 0, 0, submission)
                new.append(part)
                handle, refs = open(self.directory / part.requests_file, "wb"), {}
            handle.write(data)  # type: ignore[union-attr]
            part.count += 1
            part.size_bytes += len(data)
            refs[item.custom_id] = item.refs
        if handle is not None:
            close()
        self.parts.extend(new)
        self.save()
        return new

    def items(self, part: BatchPart) -> dict[str, list[str]]:
        return read_json(self.directory / part.items_file)

    def metadata(self, part: BatchPart) -> dict[str, str]:
        return {"run_id": self.run_id, "part": str(part.index)}

    def unsubmitted(self) -> list[BatchPart]:
        return [p for p in self.parts if p.state in ("pending", "creating")]

    def submit(self) -> None:
        """Create every part not created yet; one whose create call may have gone through is looked up first."""
        known = {p.batch_id for p in self.parts if p.batch_id}
        for part in self.unsubmitted():
            if part.state == "creating":
                found = self.provider.find(part, self.metadata(part), known)
                if found:
                    part.batch_id, part.state = found, "submitted"
                    self.provider.refresh(part)
                    self.save()
                    known.add(found)
                    continue
            path = self.directory / part.requests_file
            if self.provider.uploads and not part.file_id:
                self.provider.upload(part, path)
                self.save()
            part.state, part.intent_at = "creating", utc_now()
            self.save()  # from here on, a resume asks the provider before creating again
            self.provider.create(part, path, self.metadata(part))
            part.state = "submitted"
            self.save()
            known.add(part.batch_id)

    def wait(self, interval: float, *, show: bool = True) -> None:
        """Poll the submitted parts until every one has ended; the first poll is immediate."""
        active = tracked = [p for p in self.parts if p.state == "submitted"]
        bar = _bar(sum(p.count for p in active), f"{self.provider.name} batches", show and bool(active))
        failures = 0
        try:
            while active:
                for part in active:
                    before = (part.provider_status, part.done)
                    try:
                        self.provider.refresh(part)
                        failures = 0
                    except BatchAPIError as exc:
                        failures += 1
                        if not exc.transient or failures >= MAX_POLL_FAILURES:
                            raise
                        print(f"warning: {exc}; polling again", file=sys.stderr)
                        continue
                    if self.provider.ended(part):
                        part.state = "ended"
                    if part.state == "ended" or (part.provider_status, part.done) != before:
                        self.save()
                if bar is not None:
                    bar.n = sum(p.done for p in tracked)
                    ended = sum(p.state == "ended" for p in tracked)
                    bar.set_postfix_str(f"{ended}/{len(tracked)} batches ended, "
                                        f"failed={sum(p.failed for p in tracked)}")
                active = [p for p in active if p.state == "submitted"]
                if active:
                    sleep(interval)
        finally:
            if bar is not None:
                bar.close()

    def download(self) -> None:
        """Save the raw results of every ended part, exactly as the provider sent them."""
        for part in self.parts:
            if part.state == "ended":
                part.result_files = self.provider.download(part, self.directory)
                part.state = "downloaded"
                self.save()

    def mark(self, part: BatchPart, state: str) -> None:
        part.state = state
        self.save()


def _bar(total: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="request", file=sys.stderr, dynamic_ncols=True, leave=False)

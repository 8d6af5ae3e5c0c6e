"""Kill -9 of a streamed run's driver once it has recorded some parts (waits for the record, not for seconds)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def kill_after_parts(driver: subprocess.Popen, runs: Path, parts: int = 2) -> Path:
    """SIGKILL ``driver`` once its run under ``runs`` has recorded ``parts`` parts; returns its parts.jsonl."""
    try:
        deadline = time.monotonic() + 600
        while True:
            journal = list(runs.glob("*/outputs/parts.jsonl"))
            if journal and journal[0].read_text().count("\n") >= parts:
                break
            assert driver.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(driver.pid, signal.SIGKILL)
    finally:
        driver.wait(30)
    return journal[0]

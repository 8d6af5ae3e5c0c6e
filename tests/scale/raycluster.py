"""The scale tests' local Ray (2 CPUs), started once for the whole session: Ray takes seconds to start,
every test shares it."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ray_address(tmp_path_factory):
    """A Ray head with 2 CPUs (``ray start --head --block``), stopped by its own pid at the end."""
    port = _free_port()
    temp = Path(tempfile.mkdtemp(prefix="lr", dir="/tmp"))  # short: Ray's socket paths must fit in 107 bytes
    log = tmp_path_factory.mktemp("ray") / "head.log"
    ray_cli = Path(sys.executable).with_name("ray")
    # A throwaway cluster on this machine: no token (Ray 2.5x+ turns token auth on once a token exists in
    # ~/.ray); the drivers the tests start inherit the setting.
    saved = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    # Actors at normal priority (Ray's default is nice 15), as a local Ray of --engine ray runs them.
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "PYTHONPATH": str(ROOT / "src"), "RAY_worker_niceness": "0"}
    with open(log, "w") as out:
        head = subprocess.Popen(
            [str(ray_cli), "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
             "--include-dashboard=false", "--disable-usage-stats",
             f"--temp-dir={temp}"], stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while not (found := re.search(r"--address='([^']+)'", log.read_text(errors="replace"))):
            assert head.poll() is None, f"ray start failed:\n{log.read_text(errors='replace')[-2000:]}"
            assert time.monotonic() < deadline, "ray start did not report within 180 s"
            time.sleep(0.2)
        yield found.group(1)  # the address Ray announces (this machine's IP and the port)
    finally:
        if saved is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved
        os.killpg(head.pid, signal.SIGTERM)  # --block stops the processes it started
        try:
            head.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait(10)

"""Where a run came from: interpreter, platform, package versions, git commit. Never the environment."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

CORE_PACKAGES = (
    "openai", "anthropic", "pyyaml", "lxml", "pandas", "tqdm", "tiktoken", "quicktok-v1", "scikit-learn",
)


def package_versions(names: tuple[str, ...] | list[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def system_info(extra_packages: tuple[str, ...] = ()) -> dict[str, Any]:
    """Interpreter, OS and package versions; deliberately no environment variables or host secrets."""
    return {
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "packages": package_versions(list(dict.fromkeys(CORE_PACKAGES + extra_packages))),
    }


def git_info(path: Path) -> dict[str, Any] | None:
    """The commit and dirty flag of the checkout holding ``path``; ``None`` outside git."""
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=path, capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "dirty": dirty}

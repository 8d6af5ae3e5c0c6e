"""Where labnb keeps caches that may be deleted at any time (node embeddings, token vocabularies)."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "LABNB_CACHE_DIR"


def cache_dir(kind: str) -> Path:
    """``$LABNB_CACHE_DIR/<kind>``, else ``$XDG_CACHE_HOME/labnb/<kind>`` (``~/.cache/labnb/<kind>``)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]) / kind
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "labnb" / kind

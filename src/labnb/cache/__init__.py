"""The response cache: LLM answers kept across runs, so an unchanged request is paid for once.

``key`` names a request (sha256 over provider, model, base URL, the full request and a replicate index),
``store`` is the SQLite database that holds the answers (``runs/.cache/responses.sqlite``), ``client`` wraps
a chat client's ``generate`` with it. Only clean answers are kept: errors, refusals, truncated and malformed
answers never are (the classifier decides, after judging the answer, with ``CachingClient.keep``).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from labnb.cache.store import ResponseCache
    from labnb.run.options import RunOptions

CACHE_FILE = Path(".cache") / "responses.sqlite"


def default_path(runs_dir: str | Path) -> Path:
    """Where runs in ``runs_dir`` keep their cache: ``<runs_dir>/.cache/responses.sqlite``."""
    return Path(runs_dir) / CACHE_FILE


def cache_path(options: RunOptions) -> Path:
    """The cache file of a run: ``--cache-db``, else ``<runs_dir>/.cache/responses.sqlite``."""
    return Path(options.cache_db) if options.cache_db else default_path(options.runs_dir)


def for_run(options: RunOptions, *, readonly: bool = False) -> ResponseCache | None:
    """The response cache a run uses, or None (``--no-cache``, ``--batch-api``, or a cache it cannot open);
    ``readonly``: a dry run's look, which never creates or changes the file."""
    if options.no_cache or options.batch_api:
        return None
    from labnb.cache.store import ResponseCache

    cache = ResponseCache(cache_path(options), readonly=readonly)
    return cache if cache.enabled else None

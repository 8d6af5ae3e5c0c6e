"""``analyze_runs.py cache stats|prune --older-than 30d|clear``: look after the response cache."""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import Any

from labnb.cache import default_path
from labnb.errors import UsageError

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """``30d``, ``12h``, ``90m``, ``2w`` or ``45s`` in seconds; anything else is a usage error."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text or "")
    if not match:
        raise UsageError(f"--older-than takes an age like 30d, 12h, 90m or 2w, got '{text}'")
    return float(match.group(1)) * UNITS[match.group(2)]


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """The ``cache`` sub-command of analyze_runs (and of any command that reuses its parser)."""
    p = sub.add_parser("cache", parents=[common], help="the response cache: stats, prune old entries, clear")
    p.add_argument("action", choices=("stats", "prune", "clear"))
    p.add_argument("--older-than", metavar="AGE", help="with prune: entries written more than AGE ago (30d, 12h)")
    p.add_argument("--cache-db", metavar="FILE", help="the cache file (default RUNS_DIR/.cache/responses.sqlite)")
    p.add_argument("--json", action="store_true", help="stats as JSON")
    p.set_defaults(func=run)


def _when(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(stamp)) if stamp else "-"


def stats_text(stats: dict[str, Any]) -> str:
    lines = [f"response cache {stats['path']}: {stats['entries']:,} answers, {stats['bytes'] / 1e6:.1f} MB; "
             f"they cost ${stats['cost_usd']:.6f} when paid; {stats['hits']:,} hits served, "
             f"${stats['saved_usd']:.6f} not paid again"]
    lines += [f"  {m['model']}: {m['entries']:,} answers (${m['cost_usd']:.6f}), {m['hits']:,} hits "
              f"(${m['saved_usd']:.6f}), written {_when(m['oldest'])} to {_when(m['newest'])}" for m in stats["models"]]
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from labnb.cache.store import ResponseCache

    path = Path(args.cache_db) if args.cache_db else default_path(args.runs_dir)
    if args.action != "prune" and args.older_than:
        raise UsageError("--older-than only applies to prune")
    if args.action == "prune" and not args.older_than:
        raise UsageError("prune needs --older-than AGE (e.g. 30d); clear empties the whole cache")
    if not path.is_file():
        print(f"response cache {path}: no cache yet (runs create it)")
        return 0
    cache = ResponseCache(path, readonly=args.action == "stats")
    try:
        if args.action == "stats":
            stats = cache.stats()
            print(json.dumps(stats, sort_keys=True, indent=2) if args.json else stats_text(stats))
        elif args.action == "prune":
            removed = cache.prune(parse_age(args.older_than))
            print(f"response cache {path}: {removed:,} answers older than {args.older_than} removed")
        else:
            print(f"response cache {path}: {cache.clear():,} answers removed")
    finally:
        cache.close()
    return 0

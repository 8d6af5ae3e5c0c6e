"""Where the CPU goes: the CLI and the bare loop under cProfile, summed by package (for throughput.py)."""

from __future__ import annotations

import pstats
from pathlib import Path

# First match wins: (label, substrings of a profiled function's file name or name).
BUCKETS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("waiting for the network (epoll)", ("'poll' of 'select.epoll'",)),
    ("socket send/recv", ("_socket.socket",)),
    ("assign_cat (ours)", ("/src/assign_cat/",)),
    ("labnb (ours)", ("/src/labnb/",)),
    ("openai SDK", ("/openai/",)),
    ("HTTP stack (httpx2, httpcore2, h11, anyio)", ("/httpx2/", "/httpcore2/", "/h11/", "/anyio/")),
    ("pydantic", ("/pydantic/", "/pydantic_core/")),
    ("typing (SDK type introspection)", ("/typing.py",)),
    ("imports", ("<frozen importlib", "marshal.loads", "builtins.exec", "builtins.compile", "<frozen zipimport")),
    ("json", ("/json/",)),
    ("asyncio", ("/asyncio/",)),
    ("csv, tqdm, yaml, lxml, tiktoken", ("/tqdm/", "/yaml/", "lxml", "tiktoken", "_csv")),
)


OTHER = "other (stdlib, builtins called from stdlib)"


def _bucket(key: tuple[str, int, str]) -> str:
    text = f"{key[0]}:{key[2]}"
    for label, needles in BUCKETS:
        if any(needle in text for needle in needles):
            return label
    return OTHER


def by_package(path: Path) -> dict[str, float]:
    """Own time (seconds) of every profiled function, summed by ``BUCKETS``.

    Builtins and other stdlib functions (isinstance, getattr...) count for the package that called them.
    """
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    out: dict[str, float] = {}
    for key, (_calls, _primitive, tottime, _cumtime, callers) in stats.items():
        label = _bucket(key)
        if label != OTHER or not callers:
            out[label] = out.get(label, 0.0) + tottime
            continue
        for caller, (_cc, _nc, caller_tt, _ct) in callers.items():
            owner = _bucket(caller)
            out[owner] = out.get(owner, 0.0) + caller_tt
    return out


def top_ours(path: Path, min_calls: int, limit: int = 8) -> list[tuple[str, int, float]]:
    """Our functions (src/) with the most cumulative time: (``module:function``, calls, seconds)."""
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    rows = []
    for (filename, _line, name), (calls, _primitive, _tottime, cumtime, _callers) in stats.items():
        if ("/src/assign_cat/" in filename or "/src/labnb/" in filename) and not name.startswith("<"):
            module = filename.split("/src/", 1)[1].removesuffix(".py").replace("/", ".")
            rows.append((f"{module}:{name}", calls, cumtime))
    # The per-call path (workers, classify, generate) wraps the SDK; start at what runs once per result.
    skip = ("executor:worker", "runner:work", "llm_classifier:", "openai_client:generate", "runner:_process",
            "runner:execute", "runner:run_new", "cli:", "runner:<lambda>")
    rows = [r for r in rows if not any(s in r[0] for s in skip) and r[1] >= min_calls]
    return sorted(rows, key=lambda r: -r[2])[:limit]


def section(ours: Path, bare: Path, n: int) -> list[str]:
    """Markdown: profiled ms per product by package, ours next to bare, and our costliest functions."""
    mine, theirs = by_package(ours), by_package(bare)
    labels = sorted(set(mine) | set(theirs), key=lambda k: -(mine.get(k, 0.0) + theirs.get(k, 0.0)))
    lines = ["| where | bare ms/product | ours ms/product |", "|---|---:|---:|"]
    for label in labels:
        lines.append(f"| {label} | {theirs.get(label, 0.0) / n * 1000:.2f} | {mine.get(label, 0.0) / n * 1000:.2f} |")
    busy = [k for k in labels if not k.startswith("waiting")]
    lines.append(f"| **total CPU (without waiting)** | {sum(theirs.get(k, 0.0) for k in busy) / n * 1000:.2f} "
                 f"| {sum(mine.get(k, 0.0) for k in busy) / n * 1000:.2f} |")
    lines += ["", "Our costliest per-result functions (cumulative, profiled):", "",
              "| function | calls | ms/product |", "|---|---:|---:|"]
    lines += [f"| `{name}` | {calls} | {seconds / n * 1000:.2f} |" for name, calls, seconds in top_ours(ours, n // 2)]
    return lines

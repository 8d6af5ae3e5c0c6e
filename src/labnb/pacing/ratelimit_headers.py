"""The rate-limit headers of OpenAI and Anthropic responses, read into one reading per bucket.

OpenAI: ``x-ratelimit-{limit,remaining,reset}-{requests,tokens}``, resets as Go durations (``1.2s``, ``6m0s``).
Anthropic: ``anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset}``, resets as
RFC 3339 times. Either way ``reset`` is when the bucket is full again, so (limit - remaining) / reset is how fast
it refills: nothing here assumes the window is a minute.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

KINDS = ("requests", "tokens", "input_tokens", "output_tokens")
_OPENAI, _ANTHROPIC = "x-ratelimit-", "anthropic-ratelimit-"
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ms|us|µs|ns|h|m|s)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}


@dataclass(frozen=True, slots=True)
class Reading:
    """One bucket as a response saw it: ``reset`` is seconds until it is full again."""

    kind: str
    limit: float
    remaining: float
    reset: float


def duration_seconds(text: str) -> float | None:
    """Seconds of a Go-style duration (``1.2s``, ``6m0s``, ``20ms``, ``1h2m3.5s``) or a plain number."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or sum(len(n) + len(u) for n, u in parts) != len(text):
        return None
    return sum(float(n) * _UNIT[u] for n, u in parts)


def rfc3339_seconds(text: str, now: float | None = None) -> float | None:
    """Seconds from ``now`` (wall clock) until an RFC 3339 time such as ``2026-12-01T19:05:03Z``."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return max(moment.timestamp() - (time.time() if now is None else now), 0.0)


def readings(headers: Iterable[tuple[str, str]], now: float | None = None) -> list[Reading]:
    """Every complete bucket in ``headers`` (lower-case names, as httpx gives them); [] when none are sent."""
    fields: dict[str, dict[str, str]] = {}
    anthropic = False
    for name, value in headers:  # one pass over the headers: this runs for every response
        if name.startswith(_OPENAI):
            field, _, kind = name[len(_OPENAI):].partition("-")
        elif name.startswith(_ANTHROPIC):
            kind, _, field = name[len(_ANTHROPIC):].rpartition("-")
            kind, anthropic = kind.replace("-", "_"), True
        else:
            continue
        if kind in KINDS:
            fields.setdefault(kind, {})[field] = value
    out = []
    for kind, values in fields.items():
        try:
            limit, remaining = float(values["limit"]), float(values["remaining"])
        except (KeyError, ValueError):
            continue
        raw = values.get("reset", "0")
        reset = rfc3339_seconds(raw, now) if anthropic else duration_seconds(raw)
        if reset is not None and limit > 0:
            out.append(Reading(kind, limit, max(remaining, 0.0), reset))
    return out

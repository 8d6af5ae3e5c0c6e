"""How long a run will take, for ``--dry-run``: always an estimate, and it says what it is based on.

With an earlier run of the same model in the runs folder: the rate limits that run learnt (token_usage.json)
and its median latency (timing.json). Otherwise concurrency and a typical latency. Either way the run takes the
longer of two bounds: waves of concurrent requests, and (demand - bucket size) / refill rate + one latency.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labnb.pacing.concurrency import AUTO, AUTO_MAX, AUTO_START
from labnb.pacing.ratebucket import Bucket

TYPICAL_LATENCY = 1.0  # seconds per request of a hosted model, when no earlier run says better


@dataclass(frozen=True)
class Demand:
    """What the run will ask for: requests and tokens (as --dry-run counts them)."""

    requests: int
    input_tokens: int
    output_tokens: int

    def of(self, kind: str) -> int:
        return {"requests": self.requests, "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
                }.get(kind, self.input_tokens + self.output_tokens)


@dataclass(frozen=True)
class DurationEstimate:
    seconds: float
    basis: str  # what the figure rests on, in words
    run_id: str | None = None

    @property
    def text(self) -> str:
        """``~45s``, ``~3m10s``, ``~2h05m``: one word, for a table cell."""
        s = max(1, round(self.seconds))
        if s < 60:
            return f"~{s}s"
        if s < 3600:
            return f"~{s // 60}m{s % 60:02d}s"
        return f"~{s // 3600}h{s % 3600 // 60:02d}m"


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def last_run(runs_dir: str | Path, model_used: str) -> Path | None:
    """The most recent finished run folder in ``runs_dir`` that used ``model_used`` and answered at least one
    item (a run whose every call failed measured how fast errors come back, not answers)."""
    best: tuple[str, Path] | None = None
    root = Path(runs_dir)
    if not root.is_dir():
        return None
    for summary_path in root.glob("*/metadata/run_summary.json"):
        summary = _json(summary_path)
        folder = summary_path.parent.parent
        if summary.get("model_used") != model_used or not (folder / "outputs" / "timing.json").exists():
            continue
        if not (summary.get("counts") or {}).get("ok"):
            continue
        key = str(summary.get("started_at") or "")
        if best is None or key > best[0]:
            best = (key, folder)
    return best[1] if best else None


def waves(requests: int, concurrency: int | str) -> int:
    """Rounds of concurrent requests: fixed, or ``auto`` doubling from 8 to 64."""
    if concurrency != AUTO:
        return math.ceil(requests / max(1, int(concurrency)))
    width, rounds, left = AUTO_START, 0, requests
    while left > 0:
        left, rounds, width = left - width, rounds + 1, min(AUTO_MAX, width * 2)
    return rounds


def limit_bound(demand: Demand, limits: Mapping[str, Mapping[str, Any]], latency: float) -> float:
    """Seconds the buckets need: (demand - bucket size) / refill rate, plus one latency, for the tightest one."""
    worst = 0.0
    for name, limit in limits.items():
        size, rate = limit.get("limit"), limit.get("refill_per_second")
        if size and rate:
            need = demand.of(name.removeprefix("cap_")) - float(size)
            worst = max(worst, need / float(rate) + latency if need > 0 else 0.0)
    return worst


def estimate_duration(demand: Demand, concurrency: int | str, runs_dir: str | Path, model_used: str,
                      caps: Mapping[str, Mapping[str, Any]] | None = None, *, server: bool = False) -> DurationEstimate:
    """The estimate for a run of ``demand`` on ``model_used``; ``caps``: models.yaml rpm/tpm as limits; ``server``:
    a server of the user's own (``base_url``), where auto concurrency starts at 1 and grows only while the server
    does not queue, so without an earlier run to say how many it serves at once, one at a time is assumed."""
    folder = last_run(runs_dir, model_used)
    limits: dict[str, Any] = dict(caps or {})
    latency, run_id, settled = TYPICAL_LATENCY, None, None
    if folder is not None:
        rate_limits = _json(folder / "outputs" / "token_usage.json").get("rate_limits", {})
        limits.update({k: v for k, v in rate_limits.get("limits", {}).items() if not k.startswith("cap_")})
        p50 = _json(folder / "outputs" / "timing.json").get("latency_p50_ms")
        latency = p50 / 1000 if isinstance(p50, (int, float)) and p50 > 0 else TYPICAL_LATENCY
        run_id = folder.name
        decided = rate_limits.get("concurrency") or {}
        final = decided.get("final") if decided.get("mode") == AUTO else None
        settled = final if server and isinstance(final, int) and final > 0 else None
    if concurrency == AUTO and settled is not None:  # what auto settled on at this server last time
        seconds, width = math.ceil(demand.requests / settled) * latency, f"auto ({settled} in flight, as in that run)"
    elif concurrency == AUTO and server:
        seconds, width = demand.requests * latency, "auto, counted as 1 in flight (a server of your own: auto " \
            "starts at 1 and grows only while the server does not queue)"
    else:
        seconds = waves(demand.requests, concurrency) * latency
        width = "auto (8 to 64)" if concurrency == AUTO else str(concurrency)
    seconds = max(seconds, limit_bound(demand, limits, latency))
    if run_id:
        learnt_text = ", ".join(f"{k.replace('_', ' ')} {v['limit']:,.0f} per {v['window_seconds']:g} s"
                                for k, v in limits.items() if v.get("window_seconds")) or "no limits"
        basis = (f"from run {run_id} (limits learnt: {learnt_text}; median latency {latency:.2f} s) and "
                 f"concurrency {width}")
    else:
        basis = f"from concurrency {width} and a typical latency of {latency:g} s per request (no earlier run)"
    return DurationEstimate(seconds, basis, run_id)


def cap_limits(rpm: int | None, tpm: int | None) -> dict[str, dict[str, Any]]:
    """models.yaml caps in the shape of learnt limits, as the rate limiter paces them."""
    return {f"cap_{kind}": Bucket.cap(kind, per_minute, 0.0).describe()
            for kind, per_minute in (("requests", rpm), ("tokens", tpm)) if per_minute}


def basis_note(estimates: list[DurationEstimate]) -> str:
    """What the estimates of a --dry-run table rest on, in one phrase."""
    if len({e.basis for e in estimates}) <= 1:
        return estimates[0].basis if estimates else ""
    return (f"{estimates[0].basis} for the first model; the others from their own last run where there is one, "
            f"else a typical latency of {TYPICAL_LATENCY:g} s")

"""What the rate limiter and the concurrency control saw, per run session and summed over a run's sessions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

SESSION_KEY = "rate"  # where a session of run_summary.json keeps its RateStats


@dataclass
class RateStats:
    """One session: limits learnt (or capped), 429s, time held back by the pacer, concurrency."""

    limits: dict[str, dict[str, Any]] = field(default_factory=dict)
    rate_limited_responses: int = 0  # 429s that were not "quota exhausted"
    rate_limit_waits: int = 0  # requests held back by the pacer
    rate_limit_wait_seconds: float = 0.0  # wall time during which a request was held back
    retry_after_seconds: float = 0.0  # retry-after waits the 429s asked for (after the cap)
    concurrency: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"limits": self.limits, "rate_limited_responses": self.rate_limited_responses,
                "rate_limit_waits": self.rate_limit_waits,
                "rate_limit_wait_seconds": round(self.rate_limit_wait_seconds, 3),
                "retry_after_seconds": round(self.retry_after_seconds, 3), "concurrency": self.concurrency}


def _summed(sessions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    stats = [s[SESSION_KEY] for s in sessions if isinstance(s.get(SESSION_KEY), dict)]
    total = {k: sum(st.get(k, 0) for st in stats) for k in
             ("rate_limited_responses", "rate_limit_waits", "rate_limit_wait_seconds", "retry_after_seconds")}
    total["rate_limit_wait_seconds"] = round(total["rate_limit_wait_seconds"], 3)
    total["retry_after_seconds"] = round(total["retry_after_seconds"], 3)
    learnt = [st["limits"] for st in stats if st.get("limits")]
    total["limits"] = learnt[-1] if learnt else {}
    total["concurrency"] = stats[-1].get("concurrency", {}) if stats else {}
    return total


def usage_fields(sessions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """For token_usage.json: the limits learnt (latest session), the number of 429s and what concurrency did
    (``--concurrency auto``: whether it saw the server queue, and how many it kept in flight)."""
    total = _summed(sessions)
    return {"rate_limits": {"limits": total["limits"], "rate_limited_responses": total["rate_limited_responses"],
                            "concurrency": total["concurrency"]}}


def timing_fields(sessions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """For timing.json: seconds waiting for the rate limit, 429s, retry-after waits, concurrency."""
    total = _summed(sessions)
    return {"rate_limit": {k: total[k] for k in ("rate_limit_wait_seconds", "rate_limit_waits",
                                                 "rate_limited_responses", "retry_after_seconds", "concurrency",
                                                 "limits")}}

"""Rate limits of the fake API: token buckets that start full and refill continuously, as the providers do.

``RateLimits(requests=N, tokens=M, window=W)``: N requests and M tokens (input + output) per W seconds. Every
model call is admitted or refused when it arrives; either way the answer carries the provider's headers
(OpenAI ``x-ratelimit-*`` with Go-duration resets, Anthropic ``anthropic-ratelimit-*`` with RFC 3339 resets), and
a refusal is a 429 with ``retry-after`` (whole seconds, rounded up) and the provider's error body.
A request larger than a whole bucket is admitted when that bucket is full (it then goes negative).
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

KINDS = ("requests", "tokens", "input_tokens", "output_tokens")


@dataclass
class RateLimits:
    requests: int | None = None
    tokens: int | None = None
    window: float = 60.0
    headers: bool = True  # False: an OpenAI-compatible server that sends no rate-limit headers


@dataclass
class Verdict:
    admitted: bool
    headers: dict[str, str]
    kind: str = ""  # the bucket that refused
    retry_after: float = 0.0
    limit: float = 0.0
    used: float = 0.0
    requested: float = 0.0


@dataclass
class _Bucket:
    capacity: float
    rate: float
    level: float
    stamp: float
    lowest: float = field(default=math.inf)

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + self.rate * (now - self.stamp))
        self.stamp = now


class RateLimiter:
    """The server side: thread-safe buckets, and what they saw (``admitted``, ``refused``, lowest levels)."""

    def __init__(self, limits: RateLimits, clock: Any = time.monotonic) -> None:
        self.limits, self.clock = limits, clock
        now = clock()
        sizes = {"requests": limits.requests, "tokens": limits.tokens, "input_tokens": limits.tokens,
                 "output_tokens": limits.tokens}
        self.buckets = {k: _Bucket(n, n / limits.window, n, now) for k, n in sizes.items() if n}
        self.admitted = 0
        self.refused: dict[str, int] = {}
        self._lock = threading.Lock()

    def check(self, provider: str, tokens_in: int, tokens_out: int) -> Verdict:
        costs = {"requests": 1, "tokens": tokens_in + tokens_out, "input_tokens": tokens_in,
                 "output_tokens": tokens_out}
        with self._lock:
            now = self.clock()
            refusing = None
            for kind, bucket in self.buckets.items():
                bucket.refill(now)
                if bucket.level < min(costs[kind], bucket.capacity) and refusing is None:
                    refusing = kind
            if refusing is None:
                self.admitted += 1
                for kind, bucket in self.buckets.items():
                    bucket.level -= costs[kind]
                    bucket.lowest = min(bucket.lowest, bucket.level)
            else:
                self.refused[refusing] = self.refused.get(refusing, 0) + 1
            headers = self._headers(provider) if self.limits.headers else {}
            if refusing is None:
                return Verdict(True, headers)
            bucket = self.buckets[refusing]
            need = min(costs[refusing], bucket.capacity) - bucket.level
            wait = need / bucket.rate
            headers["retry-after"] = str(max(1, math.ceil(wait)))
            return Verdict(False, headers, refusing, wait, bucket.capacity, bucket.capacity - bucket.level,
                           costs[refusing])

    def _headers(self, provider: str) -> dict[str, str]:
        out = {}
        for kind, bucket in self.buckets.items():
            remaining = max(0, math.floor(bucket.level))
            reset = (bucket.capacity - bucket.level) / bucket.rate
            if provider == "openai":
                if kind in ("requests", "tokens"):
                    out[f"x-ratelimit-limit-{kind}"] = str(int(bucket.capacity))
                    out[f"x-ratelimit-remaining-{kind}"] = str(remaining)
                    out[f"x-ratelimit-reset-{kind}"] = go_duration(reset)
            else:
                name = kind.replace("_", "-")
                out[f"anthropic-ratelimit-{name}-limit"] = str(int(bucket.capacity))
                out[f"anthropic-ratelimit-{name}-remaining"] = str(remaining)
                out[f"anthropic-ratelimit-{name}-reset"] = rfc3339(time.time() + reset)
        return out

    def lowest(self, kind: str) -> float:
        """The lowest level the bucket of ``kind`` reached after an admission."""
        return self.buckets[kind].lowest


def go_duration(seconds: float) -> str:
    """A duration as OpenAI writes it (Go's time.Duration, to the millisecond): ``20ms``, ``1.2s``, ``6m0s``."""
    ms = max(0, round(seconds * 1000))
    if ms < 1000:
        return f"{ms}ms"
    hours, rest = divmod(ms, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".")
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def rfc3339(moment: float) -> str:
    """An RFC 3339 UTC time to the millisecond, as in ``anthropic-ratelimit-*-reset``."""
    text = datetime.fromtimestamp(moment, UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def error_body(provider: str, verdict: Verdict, model: str, rid: str) -> dict[str, Any]:
    """The provider's 429 body for a refused request."""
    if provider == "openai":
        unit = {"requests": "requests per min (RPM)"}.get(verdict.kind, "tokens per min (TPM)")
        message = (f"Rate limit reached for {model} in organization org-fake on {unit}: Limit "
                   f"{verdict.limit:.0f}, Used {verdict.used:.0f}, Requested {verdict.requested:.0f}. Please try "
                   f"again in {go_duration(verdict.retry_after)}. Visit https://platform.openai.com/account/"
                   "rate-limits to learn more.")
        kind = "requests" if verdict.kind == "requests" else "tokens"
        return {"error": {"message": message, "type": kind, "param": None, "code": "rate_limit_exceeded"}}
    what = verdict.kind.replace("_", " ")
    message = (f"This request would exceed the rate limit for your organization (org-fake) of {verdict.limit:.0f} "
               f"{what} per window. For details, refer to: https://docs.claude.com/en/api/rate-limits.")
    return {"type": "error", "error": {"type": "rate_limit_error", "message": message}, "request_id": rid}

"""One token bucket as the client sees it: learnt from response headers, or a fixed cap from models.yaml.

A provider's bucket holds ``capacity`` units and refills continuously at ``rate`` units a second. We keep a copy
that we draw down as we send, and re-align with the provider's own count on every response: its ``remaining``
plus the refill since that request was sent, minus what we have sent since.
"""

from __future__ import annotations

from labnb.pacing.ratelimit_headers import Reading

_DECAY = 0.9  # weight of earlier readings in the refill-rate estimate


def cost_of(kind: str, costs: tuple[float, float, float]) -> float:
    """What a request of (requests, input tokens, output tokens) ``costs`` takes from a bucket of ``kind``."""
    requests, tokens_in, tokens_out = costs
    if kind == "requests":
        return requests
    if kind == "input_tokens":
        return tokens_in
    if kind == "output_tokens":
        return tokens_out
    return tokens_in + tokens_out


class Bucket:
    __slots__ = ("_den", "_num", "capacity", "deepest", "kind", "learnt", "level", "rate", "stamp")

    def __init__(self, kind: str, capacity: float | None = None, rate: float | None = None, *,
                 learnt: bool = True, now: float = 0.0) -> None:
        self.kind, self.capacity, self.rate, self.learnt = kind, capacity, rate, learnt
        self.level, self.stamp = capacity or 0.0, now
        self.deepest = 0.0  # the largest share of the bucket seen used (refill rates are measured on deep ones)
        self._num = self._den = 0.0

    @classmethod
    def cap(cls, kind: str, per_minute: float, now: float) -> Bucket:
        """A models.yaml cap: ``per_minute`` spread evenly, with bursts of at most one second's worth."""
        rate = per_minute / 60
        return cls(kind, max(rate, 1.0), rate, learnt=False, now=now)

    @property
    def known(self) -> bool:
        return self.capacity is not None and bool(self.rate)

    @property
    def window(self) -> float | None:
        """Seconds for an empty bucket to fill: the provider's window (60 for "per minute")."""
        return self.capacity / self.rate if self.known else None  # type: ignore[operator]

    def _refill(self, now: float) -> None:
        if now > self.stamp:
            capacity, rate = self.capacity or 0.0, self.rate or 0.0  # an unknown bucket never waits
            self.level = min(capacity, self.level + rate * (now - self.stamp))
            self.stamp = now

    def delay(self, cost: float, now: float, reserve: float) -> float:
        """Seconds until ``cost`` fits while keeping ``reserve`` (a fraction of the capacity) untouched."""
        if not self.known or cost <= 0:
            return 0.0
        self._refill(now)
        capacity: float = self.capacity  # type: ignore[assignment]
        # A request larger than the whole bucket goes when the bucket is full (providers let it through then).
        need = min(cost + reserve * capacity, capacity) - self.level
        return need / self.rate if need > 1e-9 else 0.0  # type: ignore[operator]

    def take(self, cost: float) -> None:
        self.level -= cost

    def observe(self, reading: Reading, sent_since: float, age: float, now: float) -> None:
        """Re-align with ``reading`` of a request sent ``age`` seconds ago, ``sent_since`` units sent after it."""
        self.capacity = reading.limit
        # ``remaining`` is rounded down: on average half a unit more is left than it says.
        deficit = reading.limit - reading.remaining - 0.5
        self.deepest = max(self.deepest, deficit / reading.limit)
        if deficit > 0 and reading.reset >= 0.05:  # shorter resets are too coarse (whole ms) to go by
            # Deficit-weighted: a nearly empty bucket (a long reset) says the most about the refill rate.
            self._num = self._num * _DECAY + deficit
            self._den = self._den * _DECAY + reading.reset
            self.rate = self._num / self._den
        if not self.rate:
            return
        self.level = min(reading.limit, reading.remaining + self.rate * age) - sent_since
        self.stamp = now

    def describe(self) -> dict[str, float | str | None]:
        """The limit as learnt (or capped), for token_usage.json."""
        # A bucket never drawn below 90% tells its size, not (precisely) how fast it refills.
        rate = self.rate if not self.learnt or self.deepest >= 0.1 else None
        return {
            "limit": self.capacity, "refill_per_second": round(rate, 3) if rate else None,
            "window_seconds": round(self.capacity / rate, 3) if rate and self.capacity else None,
            "per_minute": round(rate * 60, 1) if rate else None,
            "source": "response headers" if self.learnt else "models.yaml cap",
        }

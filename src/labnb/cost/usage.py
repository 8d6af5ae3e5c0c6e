"""Token usage records and their price in USD."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from labnb.config import Pricing

PER_MILLION = 1_000_000


@dataclass(frozen=True)
class Usage:
    """Tokens of one or more calls, as the API reported them.

    ``input_tokens`` counts every input token, cached and cache-written ones included
    (OpenAI reports it that way; Anthropic's separate counts are added in by its client).
    """

    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cached_tokens + other.cached_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Usage:
        """A usage record as written; a count that is not a non-negative integer reads as 0 (older folders)."""
        data = data if isinstance(data, dict) else {}
        return cls(**{k: token_count(data.get(k, 0)) or 0 for k in cls.__dataclass_fields__})


def token_count(value: Any) -> int | None:
    """``value`` as a token count, or None when it is not one: missing, a string, a bool, a float (NaN and
    Infinity included) or negative. Servers do send such counts; none of them may become a cost."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


def reported_usage(*counts: Any) -> Usage | None:
    """A ``Usage`` from a server's counts (input, output, cached, cache write; missing ones are 0 only when
    the server left them out as None), or None when any count given is not a token count: usage unknown."""
    values = [token_count(0 if c is None and i >= 2 else c) for i, c in enumerate(counts)]
    if any(v is None for v in values):
        return None
    return Usage(*values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Cost:
    """The USD price of a ``Usage``, split by kind of token."""

    uncached_input: float
    cached_input: float
    cache_write: float
    output: float
    batch_discount_applied: bool = False

    @property
    def total(self) -> float:
        return self.uncached_input + self.cached_input + self.cache_write + self.output

    def to_dict(self) -> dict[str, float | bool]:
        return {
            "uncached_input_usd": round(self.uncached_input, 10),
            "cached_input_usd": round(self.cached_input, 10),
            "cache_write_usd": round(self.cache_write, 10),
            "output_usd": round(self.output, 10),
            "total_usd": round(self.total, 10),
            "batch_discount_applied": self.batch_discount_applied,
        }


def price(usage: Usage, pricing: Pricing, *, batch: bool = False) -> Cost:
    """Price ``usage`` at ``pricing`` (USD per 1M tokens); ``batch`` applies the batch discount."""
    factor = (1.0 - pricing.batch_discount) if batch else 1.0
    uncached = max(usage.input_tokens - usage.cached_tokens - usage.cache_write_tokens, 0)
    return Cost(
        uncached_input=uncached * pricing.input * factor / PER_MILLION,
        cached_input=usage.cached_tokens * pricing.cached_input * factor / PER_MILLION,
        cache_write=usage.cache_write_tokens * pricing.cache_write * factor / PER_MILLION,
        output=usage.output_tokens * pricing.output * factor / PER_MILLION,
        batch_discount_applied=batch,
    )

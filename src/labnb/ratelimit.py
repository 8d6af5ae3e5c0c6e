"""Client-side request and token rate limits (per model, from models.yaml)."""

from __future__ import annotations

from aiolimiter import AsyncLimiter


class RateLimiter:
    """Waits so that at most ``rpm`` requests and ``tpm`` tokens start per minute."""

    def __init__(self, rpm: int | None, tpm: int | None, period: float = 60.0) -> None:
        self.rpm, self.tpm = rpm, tpm
        self._requests = AsyncLimiter(rpm, period) if rpm else None
        self._tokens = AsyncLimiter(tpm, period) if tpm else None

    async def acquire(self, tokens: int) -> None:
        if self._requests is not None:
            await self._requests.acquire()
        if self._tokens is not None:
            # A request larger than the whole budget could never start; let it take the full minute.
            await self._tokens.acquire(min(max(tokens, 1), self.tpm or 1))

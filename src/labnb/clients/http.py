"""The HTTP client handed to both SDKs: their defaults, plus a cap on ``retry-after`` waits."""

from __future__ import annotations

import email.utils
import time
from types import ModuleType
from typing import Any


def _seconds(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        return None if parsed is None else email.utils.mktime_tz(parsed) - time.time()


QUOTA_MARKERS = (b"insufficient_quota", b"billing_hard_limit_reached", b"credit balance is too low")


def cap_retry_after(max_wait: float):
    """A response hook that shortens any ``retry-after`` above ``max_wait`` seconds.

    The Anthropic SDK honours any retry-after, however long; a provider asking for an hour
    would stall a run silently, so we wait at most ``max_wait`` and let the retry decide.
    A 429 that means "no quota left" is marked not to be retried: waiting cannot fix it.
    """

    async def hook(response: Any) -> None:
        headers = response.headers
        if response.status_code in (400, 402, 429):
            await response.aread()  # error bodies are small; the SDK reads the cached content afterwards
            if any(marker in response.content for marker in QUOTA_MARKERS):
                headers["x-should-retry"] = "false"
                return
        ms = headers.get("retry-after-ms")
        if ms is not None and (_seconds(ms) or 0) / 1000 > max_wait:
            headers["retry-after-ms"] = str(int(max_wait * 1000))
        value = headers.get("retry-after")
        if value is not None:
            secs = _seconds(value)
            if secs is not None and secs > max_wait:
                headers["retry-after"] = str(int(max_wait))

    return hook


def http_client(sdk: ModuleType, max_wait: float) -> Any:
    """The SDK's default async HTTP client with the retry-after cap installed."""
    return sdk.DefaultAsyncHttpxClient(event_hooks={"response": [cap_retry_after(max_wait)]})

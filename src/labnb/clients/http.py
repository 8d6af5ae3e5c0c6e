"""What every SDK client is built with: key, retries, timeout, and an HTTP client that caps ``retry-after``.

The async HTTP client also paces every request by the rate limiter of the unit it belongs to and feeds every
response's rate-limit headers back to it (labnb.pacing.ratelimit).
"""

from __future__ import annotations

import email.utils
import time
from types import ModuleType
from typing import Any

from labnb.config import ModelEntry
from labnb.pacing import ratelimit
from labnb.store.scrub import register_secret


def _seconds(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        return None if parsed is None else email.utils.mktime_tz(parsed) - time.time()


QUOTA_MARKERS = (b"insufficient_quota", b"billing_hard_limit_reached", b"credit balance is too low")


def _adjust(response: Any, max_wait: float) -> bool:
    """Cap ``retry-after`` at ``max_wait`` seconds; mark "no quota left" answers not to be retried.

    The Anthropic SDK honours any retry-after, however long; a provider asking for an hour
    would stall a run silently, so we wait at most ``max_wait`` and let the retry decide.
    Waiting cannot fix an exhausted quota, so such a 429 gets ``x-should-retry: false``; returns True for it.
    """
    headers = response.headers
    if response.status_code in (400, 402, 429) and any(m in response.content for m in QUOTA_MARKERS):
        headers["x-should-retry"] = "false"
        return True
    ms = headers.get("retry-after-ms")
    if ms is not None and (_seconds(ms) or 0) / 1000 > max_wait:
        headers["retry-after-ms"] = str(int(max_wait * 1000))
    value = headers.get("retry-after")
    if value is not None:
        secs = _seconds(value)
        if secs is not None and secs > max_wait:
            headers["retry-after"] = str(int(max_wait))
    return False


def http_client(sdk: ModuleType, max_wait: float, *, sync: bool = False) -> Any:
    """The SDK's default HTTP client (async, or sync for batch jobs) with ``_adjust`` as a response hook."""
    if sync:
        def hook(response: Any) -> None:
            if response.status_code in (400, 402, 429):
                response.read()  # error bodies are small; the SDK reads the cached content afterwards
            _adjust(response, max_wait)

        return sdk.DefaultHttpxClient(event_hooks={"response": [hook]})

    async def async_hook(response: Any) -> None:
        if response.status_code in (400, 402, 429):
            await response.aread()
        if not _adjust(response, max_wait):  # an exhausted quota stops the run; it says nothing about pacing
            ratelimit.after_response(response)

    return sdk.DefaultAsyncHttpxClient(event_hooks={"request": [ratelimit.before_send], "response": [async_hook]})


def sdk_options(sdk: ModuleType, entry: ModelEntry, *, sync: bool = False, timeout: float | None = None) -> dict:
    """Constructor arguments every official SDK client takes: key, retries, timeout, base_url, HTTP client."""
    key = entry.api_key()
    register_secret(key)
    options: dict[str, Any] = {
        "api_key": key, "max_retries": entry.max_retries, "timeout": timeout or entry.timeout,
        "http_client": http_client(sdk, entry.max_retry_wait, sync=sync),
    }
    if entry.base_url:
        options["base_url"] = entry.base_url
    return options

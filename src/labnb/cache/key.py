"""The cache key of a request: what was asked, of whom, where, and which repeat of it."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from labnb.clients.base import ChatRequest
from labnb.config import ModelEntry

# Where the official SDKs send a request when neither models.yaml nor their environment variable says.
SDK_BASE_URL = {"openai": ("OPENAI_BASE_URL", "https://api.openai.com/v1"),
                "anthropic": ("ANTHROPIC_BASE_URL", "https://api.anthropic.com")}


def base_url(entry: ModelEntry) -> str:
    """The base URL the SDK will really use for ``entry`` (models.yaml, else the SDK's variable, else its default)."""
    if entry.base_url:
        return entry.base_url.rstrip("/")
    env, default = SDK_BASE_URL.get(entry.provider, ("", ""))
    return (os.environ.get(env, "").strip() if env else "").rstrip("/") or default


def request_fields(entry: ModelEntry, request: ChatRequest) -> dict[str, Any]:
    """Everything that decides the answer: the provider, model and endpoint, the messages, the schema and the
    sampling settings (``cache_key`` is left out: it only names OpenAI's prompt cache)."""
    return {
        "provider": entry.provider, "model": entry.model, "base_url": base_url(entry),
        "system": request.system, "messages": [{"role": "user", "content": request.user}],
        "schema": request.schema, "schema_name": request.schema_name,
        "sampling": {"temperature": entry.temperature, "max_tokens": request.max_tokens or entry.max_tokens,
                     "logprobs": request.logprobs},
    }


def request_key(entry: ModelEntry, request: ChatRequest, replicate: int = 0) -> str:
    """sha256 of the request's fields and ``replicate``: the n-th time a run asks the same thing is its own key,
    so deliberate repeats (asked N times to measure variance) stay N answers."""
    payload = {**request_fields(entry, request), "replicate": replicate}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class Replicates:
    """Counts the requests a run has asked, so each repeat of one gets the next replicate index."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def key(self, entry: ModelEntry, request: ChatRequest, *, count: bool = True) -> str:
        """The key of the next repeat of ``request``; ``count=False`` only looks (nothing is asked yet)."""
        first = request_key(entry, request, 0)
        index = self._seen.get(first, 0)
        if count:
            self._seen[first] = index + 1
        return first if index == 0 else request_key(entry, request, index)

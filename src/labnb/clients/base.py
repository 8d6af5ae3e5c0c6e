"""The one interface every chat-model provider implements."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from labnb.config import ModelEntry
from labnb.cost.usage import Usage
from labnb.errors import CallError
from labnb.pacing import ratelimit


@dataclass(frozen=True)
class ChatRequest:
    """One structured-output request: a stable system prefix, a user turn, a JSON schema."""

    system: str
    user: str
    schema: dict[str, Any]
    schema_name: str = "answer"
    cache_key: str | None = None
    max_tokens: int | None = None
    logprobs: bool = False  # ask for the answer tokens' log probabilities (OpenAI only; others ignore it)


@dataclass(frozen=True)
class ChatResponse:
    """What a call returned: the parsed answer (``data``), the raw text and the usage.

    ``finish`` is ``stop``, ``length`` (truncated at max tokens) or ``refusal``. ``token_logprobs`` is
    empty unless the request asked for logprobs and the provider gives them (Anthropic never does).
    """

    text: str
    data: dict[str, Any] | None
    usage: Usage
    finish: str = "stop"
    refusal: str | None = None
    retries: int = 0
    request_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    token_logprobs: tuple[tuple[str, float], ...] = ()  # (token, logprob) of the answer, when asked and given
    cached_from: str = ""  # a response-cache hit: the id of the run that paid for it
    usage_known: bool = True  # False: the server's usage was missing or not token counts (``usage`` is then 0)


class ModelClient(ABC):
    """A chat model behind an official SDK; subclasses implement ``generate`` only."""

    def __init__(self, entry: ModelEntry) -> None:
        self.entry = entry

    def sdk_options(self, sdk: ModuleType) -> dict[str, Any]:
        """Constructor arguments for the SDK's async client (key, retries, timeout, capped retry-after)."""
        from labnb.clients.http import sdk_options

        return sdk_options(sdk, self.entry)

    @abstractmethod
    async def generate(self, request: ChatRequest) -> ChatResponse:
        """Send ``request``; raise ``CallError`` for a failed call, ``RunAborted`` to stop the run."""

    async def call(self, request: ChatRequest) -> ChatResponse:
        """``generate`` under one deadline for the whole call, retries included (the entry's ``timeout``).

        The SDKs' own timeout limits each read, so a server that trickles its answer a few bytes at a time
        could hold a call for minutes; past the deadline the call is cut off and is a ``timeout`` error.
        """
        try:
            async with asyncio.timeout(self.entry.timeout):
                return await self.generate(request)
        except CallError as exc:
            if exc.error_type == "timeout":  # the SDK's own read timeout
                ratelimit.record_timeout()
            raise
        except TimeoutError:
            ratelimit.record_timeout()  # auto concurrency halves for a server that sends no rate-limit headers
            raise CallError("timeout", f"no complete answer within the {self.entry.timeout:g} s deadline "
                                       "(--timeout, or timeout in models.yaml)") from None

    async def aclose(self) -> None:
        """Release connections; the default has nothing to release."""

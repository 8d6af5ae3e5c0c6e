"""A chat client that answers from the response cache when it can, and asks the provider otherwise."""

from __future__ import annotations

from labnb.cache.key import Replicates
from labnb.cache.store import ResponseCache
from labnb.clients.base import ChatRequest, ChatResponse, ModelClient
from labnb.cost.usage import price


class CachingClient(ModelClient):
    """Wraps ``inner``: ``generate`` returns a kept answer (``cached_from`` = the run that paid for it) or
    sends the request. A sent answer is kept only when the classifier calls ``keep`` after judging it clean.
    With ``read`` False (a replay, which re-asks the model by design) nothing is answered from the cache."""

    def __init__(self, inner: ModelClient, cache: ResponseCache, run_id: str, *, read: bool = True) -> None:
        super().__init__(inner.entry)
        self.inner, self.cache, self.run_id, self.read = inner, cache, run_id, read
        self.replicates = Replicates()
        self._unsettled: dict[int, str] = {}  # id(response) -> its key, until judged

    def lookup(self, request: ChatRequest) -> tuple[str, ChatResponse | None]:
        """The request's key (the next replicate of it) and the kept answer, if there is one."""
        key = self.replicates.key(self.entry, request)
        hit = self.cache.get(key) if self.read else None
        return key, None if hit is None else hit.response

    def answers(self, request: ChatRequest) -> bool:
        """Whether the cache holds the answer to the next ``request`` (a budget does not reserve for it)."""
        return self.read and bool(self.cache.contains([self.replicates.key(self.entry, request, count=False)]))

    async def generate(self, request: ChatRequest) -> ChatResponse:
        key, hit = self.lookup(request)
        if hit is not None:
            return hit
        response = await self.inner.generate(request)
        self._unsettled[id(response)] = key
        return response

    def keep(self, response: ChatResponse) -> None:
        """Keep a sent answer the classifier judged clean (never an error, refusal, truncated or malformed one)."""
        key = self._unsettled.pop(id(response), None)
        if key is None or response.cached_from or response.finish != "stop" or response.data is None:
            return
        self.cache.put(key, provider=self.entry.provider, model=self.entry.model, run_id=self.run_id,
                       response=response, cost_usd=price(response.usage, self.entry.pricing).total)

    async def aclose(self) -> None:
        self.cache.close()
        await self.inner.aclose()

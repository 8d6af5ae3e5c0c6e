"""OpenAI Chat Completions (and any OpenAI-compatible server) through the official SDK."""

from __future__ import annotations

import json
from typing import Any

from labnb.clients import lazy_types
from labnb.clients.base import ChatRequest, ChatResponse, ModelClient
from labnb.clients.sdk_errors import map_sdk_error
from labnb.config import ModelEntry
from labnb.cost.usage import Usage
from labnb.errors import CallError
from labnb.pacing import ratelimit


class OpenAIClient(ModelClient):
    def __init__(self, entry: ModelEntry) -> None:
        super().__init__(entry)
        openai = lazy_types.openai_sdk()  # imported here so other providers never pay for it
        self._sdk = openai
        self._client = openai.AsyncOpenAI(**self.sdk_options(openai))
        from openai.types.chat import ChatCompletion

        self._completion_type = ChatCompletion

    def request_params(self, request: ChatRequest) -> dict[str, Any]:
        """The exact body sent for ``request`` (also what a batch file line carries)."""
        params: dict[str, Any] = {
            "model": self.entry.model,
            "messages": [
                {"role": "system", "content": request.system},
                {"role": "user", "content": request.user},
            ],
            "temperature": self.entry.temperature,
            "max_tokens": request.max_tokens or self.entry.max_tokens,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "strict": True, "schema": request.schema},
            },
        }
        # Compatible servers (vLLM, Ollama) may reject unknown fields; the cache key is OpenAI's own.
        if request.cache_key and not self.entry.base_url:
            params["prompt_cache_key"] = request.cache_key
        if request.logprobs:
            params["logprobs"] = True
        return params

    async def generate(self, request: ChatRequest) -> ChatResponse:
        try:
            # The SDK's low-level post: same retries, auth and errors as chat.completions.create, without
            # re-walking our already plain-JSON body (about 2 ms of CPU per request with a large enum schema).
            raw = await self._client.post(
                "/chat/completions", body=self.request_params(request), cast_to=self._completion_type,
                options={"headers": {"X-Stainless-Raw-Response": "true"}, "security": {"bearer_auth": True}},
            )
        except self._sdk.APIError as exc:
            raise map_sdk_error(exc, self._sdk, self.entry) from None
        body = raw.http_response.text
        # Read the body as plain JSON with attribute access: what raw.parse() gives, without building
        # some 20 pydantic objects per answer (about 1.5 ms of CPU each time on this machine).
        try:
            completion = json.loads(body, object_hook=Fields)
        except ValueError as exc:  # a 200 whose body is not JSON
            raise CallError("bad_response", f"unreadable response: {type(exc).__name__}", raw=body[:2000],
                            retries=raw.retries_taken) from None
        response = chat_response(completion, body, retries=raw.retries_taken, request_id=raw.request_id)
        ratelimit.record_usage(response.usage.input_tokens, response.usage.output_tokens)
        return response

    async def aclose(self) -> None:
        await self._client.close()


class Fields(dict):
    """A JSON object whose keys read as attributes; a missing key reads as None, as in the SDK's models."""

    def __getattr__(self, name: str) -> Any:
        return self.get(name)


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return None
    return data if isinstance(data, dict) else None


def chat_response(completion: Any, body: str, *, retries: int = 0, request_id: str | None = None) -> ChatResponse:
    """Our response record from a ChatCompletion (a live answer or a batch-API result line)."""
    try:
        choice = completion.choices[0]
        message, usage = choice.message, completion.usage
        prompt, completion_tokens = usage.prompt_tokens, usage.completion_tokens
    except (AttributeError, IndexError, TypeError):
        raise CallError("bad_response", "response has no choices or usage", raw=body[:2000], retries=retries) from None
    cached = getattr(usage.prompt_tokens_details, "cached_tokens", 0) or 0
    text = message.content or ""
    finish = "length" if choice.finish_reason == "length" else ("refusal" if message.refusal else "stop")
    return ChatResponse(
        text=text, data=_json_object(text) if finish == "stop" else None,
        usage=Usage(prompt, completion_tokens, cached, 0), finish=finish, refusal=message.refusal,
        retries=retries, request_id=request_id, raw={"body": body}, token_logprobs=_token_logprobs(choice),
    )


def _token_logprobs(choice: Any) -> tuple[tuple[str, float], ...]:
    content = getattr(getattr(choice, "logprobs", None), "content", None) or ()
    return tuple((str(t.token), float(t.logprob)) for t in content)

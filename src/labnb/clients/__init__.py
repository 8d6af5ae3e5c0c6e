"""Model clients, created by provider name; each SDK is imported only when its provider is used."""

from __future__ import annotations

from labnb.clients.base import ChatRequest, ChatResponse, ModelClient
from labnb.config import ModelEntry
from labnb.errors import ConfigError

__all__ = ["ChatRequest", "ChatResponse", "ModelClient", "create_client"]


def create_client(entry: ModelEntry) -> ModelClient:
    """A chat client for ``entry``; raises ConfigError for providers that are not chat APIs."""
    if entry.provider == "openai":
        from labnb.clients.openai_client import OpenAIClient

        return OpenAIClient(entry)
    if entry.provider == "anthropic":
        from labnb.clients.anthropic_client import AnthropicClient

        return AnthropicClient(entry)
    raise ConfigError(f"model '{entry.alias}': provider '{entry.provider}' has no chat client")

"""Model clients behind the official SDKs; ``labnb.providers`` creates them by provider name."""

from __future__ import annotations

from labnb.clients.base import ChatRequest, ChatResponse, ModelClient
from labnb.config import ModelEntry

__all__ = ["ChatRequest", "ChatResponse", "ModelClient", "create_client"]


def create_client(entry: ModelEntry) -> ModelClient:
    """A chat client for ``entry`` (see ``labnb.providers``)."""
    from labnb.providers import create_client as create

    return create(entry)

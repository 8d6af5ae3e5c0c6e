"""Provider batch APIs (OpenAI Batch, Anthropic Message Batches): half price, results within 24 hours."""

from __future__ import annotations

from labnb.batchapi.base import BatchAPIError, BatchPart, BatchProvider, ItemResult
from labnb.batchapi.jobs import BatchItem, BatchJob
from labnb.config import ModelEntry
from labnb.errors import UsageError

__all__ = ["BatchAPIError", "BatchItem", "BatchJob", "BatchPart", "BatchProvider", "ItemResult", "create_provider"]


def create_provider(entry: ModelEntry) -> BatchProvider:
    """The batch API of ``entry``'s provider; a provider without one is a usage error."""
    if entry.provider == "openai":
        from labnb.batchapi.openai_batch import OpenAIBatches

        return OpenAIBatches(entry)
    if entry.provider == "anthropic":
        from labnb.batchapi.anthropic_batch import AnthropicBatches

        return AnthropicBatches(entry)
    raise UsageError(f"model '{entry.alias}': provider '{entry.provider}' has no batch API; "
                     "use an openai or anthropic model with --batch-api")

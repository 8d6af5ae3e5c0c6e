"""Provider batch APIs (OpenAI Batch, Anthropic Message Batches): half price, results within 24 hours."""

from __future__ import annotations

from labnb.batchapi.base import BatchAPIError, BatchPart, BatchProvider, ItemResult
from labnb.batchapi.jobs import BatchItem, BatchJob
from labnb.config import ModelEntry

__all__ = ["BatchAPIError", "BatchItem", "BatchJob", "BatchPart", "BatchProvider", "ItemResult", "create_provider"]


def create_provider(entry: ModelEntry) -> BatchProvider:
    """The batch API of ``entry``'s provider (see ``labnb.providers``)."""
    from labnb.providers import create_batch_provider

    return create_batch_provider(entry)

"""The provider registry: a provider name maps to its classifier, chat client, batch client and token counter.

Adding a provider is one module plus one line in ``PROVIDERS``. Classes are named by import path
and imported only when used, so a run never pays for an SDK (or torch) it does not use.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from labnb.errors import ConfigError, UsageError

if TYPE_CHECKING:
    from labnb.batchapi.base import BatchProvider
    from labnb.classify.base import Classifier
    from labnb.clients.base import ModelClient
    from labnb.config import ModelEntry
    from labnb.task import Task


@dataclass(frozen=True)
class Provider:
    """Where a provider's parts live (``module:Class``); an empty part is one the provider does not have."""

    classifier: str = "labnb.classify.llm:LLMClassifier"
    chat: str = ""
    batch: str = ""
    tokens: str = "tiktoken"  # how --dry-run counts: "tiktoken" (exact or estimated per model) or "none"
    # Prompt caching, as the dry run prices it: "automatic" (OpenAI: prefixes of 1,024+ tokens, nothing to
    # write), "explicit" (Anthropic: any marked prefix, written once then read), or "none".
    cache: str = "none"


PROVIDERS: dict[str, Provider] = {
    "openai": Provider(chat="labnb.clients.openai_client:OpenAIClient",
                       batch="labnb.batchapi.openai_batch:OpenAIBatches", cache="automatic"),
    "anthropic": Provider(chat="labnb.clients.anthropic_client:AnthropicClient",
                          batch="labnb.batchapi.anthropic_batch:AnthropicBatches", cache="explicit"),
    "local": Provider(classifier="labnb.classify.local:EmbeddingClassifier", tokens="none"),
}


def provider(entry: ModelEntry) -> Provider:
    try:
        return PROVIDERS[entry.provider]
    except KeyError:
        raise ConfigError(f"model '{entry.alias}': unknown provider '{entry.provider}'") from None


def _load(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def create_classifier(entry: ModelEntry, task: Task, *, explain: bool = False) -> Classifier:
    """The classifier of ``entry``'s provider for ``task``."""
    cls = _load(provider(entry).classifier)
    return cls(entry, task, explain=explain) if provider(entry).chat else cls(entry, task)


def create_client(entry: ModelEntry) -> ModelClient:
    """A chat client for ``entry``; a provider without a chat API is a configuration error."""
    path = provider(entry).chat
    if not path:
        raise ConfigError(f"model '{entry.alias}': provider '{entry.provider}' has no chat client")
    return _load(path)(entry)


def create_batch_provider(entry: ModelEntry) -> BatchProvider:
    """The batch API of ``entry``'s provider; a provider without one is a usage error."""
    path = provider(entry).batch
    if not path:
        raise UsageError(f"model '{entry.alias}': provider '{entry.provider}' has no batch API; "
                         "use an openai or anthropic model with --batch-api")
    return _load(path)(entry)


def counts_tokens(entry: ModelEntry) -> bool:
    """Whether the dry run counts tokens for ``entry`` (a local model costs none)."""
    return provider(entry).tokens != "none"

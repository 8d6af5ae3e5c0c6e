"""Offline token counting: OpenAI models with tiktoken, others with a documented estimate.

tiktoken downloads its encoding files on first use, which this tool must never do. The
vocabularies ship inside the ``quicktok-v1`` wheel (byte-identical ranks); we read them into a
real ``tiktoken.Encoding`` with tiktoken's own pattern and special tokens.
"""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import struct
import sys
import tempfile
from functools import lru_cache
from importlib import resources
from typing import Any

from labnb.config import ModelEntry
from labnb.errors import ConfigError
from labnb.store.cachedir import cache_dir

# Claude's tokenizer is not public: its counts run about 15% above o200k on English catalog text,
# so we estimate Anthropic and unknown models as o200k tokens x 1.15 (documented in the README).
ESTIMATE_FACTOR = 1.15
_O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4")
_CL100K_PREFIXES = ("gpt-4", "gpt-3.5")
_VOCAB_FILE = {"o200k_base": "o200k.vocab", "cl100k_base": "cl100k.vocab"}


def _ranks(name: str) -> dict[bytes, int]:
    """Token bytes → rank, from the cache if it holds this vocabulary file, else parsed (and cached)."""
    try:
        data = (resources.files("quicktok") / "data" / _VOCAB_FILE[name]).read_bytes()
    except ModuleNotFoundError:
        raise ConfigError("token counting needs the quicktok-v1 package: pip install -r requirements.txt") from None
    # Parsing takes ~0.3 s of CPU at every start; marshal reads the same dict back in a quarter of that.
    cached = cache_dir("tokens") / f"{name}-{hashlib.sha256(data).hexdigest()[:16]}-{sys.implementation.cache_tag}"
    with contextlib.suppress(OSError, ValueError, EOFError, TypeError):
        ranks = marshal.loads(cached.read_bytes())
        if isinstance(ranks, dict) and len(ranks) == struct.unpack_from("<I", data, 0)[0]:
            return ranks
    ranks = parse_vocabulary(data)
    with contextlib.suppress(OSError):  # a read-only home only costs the parse next time
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cached.parent, prefix=".partial-", delete=False) as handle:
            try:
                handle.write(marshal.dumps(ranks))
                handle.close()
                os.replace(handle.name, cached)
            except OSError:
                os.unlink(handle.name)
                raise
    return ranks


def parse_vocabulary(data: bytes) -> dict[bytes, int]:
    """quicktok's vocabulary file: u32 count, then (u16 length, token bytes, u32 rank) per token."""
    (count,) = struct.unpack_from("<I", data, 0)
    ranks, offset = {}, 4
    for _ in range(count):
        (length,) = struct.unpack_from("<H", data, offset)
        token = data[offset + 2: offset + 2 + length]
        (rank,) = struct.unpack_from("<I", data, offset + 2 + length)
        ranks[token] = rank
        offset += 6 + length
    return ranks


@lru_cache(maxsize=4)
def encoding(name: str = "o200k_base") -> Any:  # a tiktoken.Encoding, imported lazily
    """A real tiktoken Encoding, built without any network access."""
    from unittest import mock

    import tiktoken
    from tiktoken_ext import openai_public

    with mock.patch.object(openai_public, "load_tiktoken_bpe", lambda *_a, **_k: _ranks(name)):
        spec = getattr(openai_public, name)()
    return tiktoken.Encoding(**spec)


def encoding_name(entry: ModelEntry) -> str:
    model = entry.model
    return "cl100k_base" if model.startswith(_CL100K_PREFIXES) and not model.startswith(_O200K_PREFIXES) \
        else "o200k_base"


def exact_for(entry: ModelEntry) -> bool:
    """True when counts for ``entry`` are the model's real tokenizer, not an estimate."""
    return entry.provider == "openai" and entry.model.startswith(_O200K_PREFIXES + _CL100K_PREFIXES)


def rough(text: str) -> int:
    """A tokenizer-free estimate, UTF-8 bytes / 4: near o200k on English, above it on CJK (3 bytes a character).

    For pacing only: the rate limiter scales it by the provider's own count of the first answers."""
    return len(text.encode("utf-8")) // 4 + 1


def count(entry: ModelEntry, text: str) -> int:
    """Tokens of ``text`` for ``entry``'s model (exact for OpenAI models, an estimate otherwise)."""
    n = len(encoding(encoding_name(entry)).encode(text, disallowed_special=()))
    return n if exact_for(entry) else round(n * ESTIMATE_FACTOR)

"""Remove secrets from any text before it is written to a run folder or the console."""

from __future__ import annotations

import os
import re

# Key-shaped strings: OpenAI/Anthropic style keys and bearer tokens, whatever the value.
_KEY_SHAPES = re.compile(
    r"(sk-(?:ant-|proj-|svcacct-)?[A-Za-z0-9_\-]{8,})"
    r"|((?i:bearer)\s+[A-Za-z0-9_\-\.=]{8,})"
    r"|((?i:x-api-key|api[_-]?key)[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9_\-\.]{8,})"
)
_known: set[str] = set()


def register_secret(value: str | None) -> None:
    """Remember a secret value (an API key) so ``scrub`` always removes it."""
    if value and len(value) >= 4:
        _known.add(value)


_env_snapshot: tuple[int, set[str]] = (-1, set())


def _env_secrets() -> set[str]:
    # Re-read the environment only when it changed size: scrub runs twice per item.
    global _env_snapshot
    if _env_snapshot[0] != len(os.environ):
        secrets = {v for k, v in os.environ.items() if k.endswith(("_API_KEY", "_TOKEN", "_SECRET")) and len(v) >= 4}
        _env_snapshot = (len(os.environ), secrets)
    return _env_snapshot[1]


def scrub(text: str) -> str:
    """``text`` with every known key value and every key-shaped string replaced by ``[REDACTED]``."""
    if not text:
        return text
    for secret in sorted(_known | _env_secrets(), key=len, reverse=True):  # longest first: no partial leaks
        if secret in text:
            text = text.replace(secret, "[REDACTED]")
    return _KEY_SHAPES.sub("[REDACTED]", text)

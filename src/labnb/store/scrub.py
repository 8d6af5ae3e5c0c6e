"""Remove secrets from any text before it is written to a run folder or the console."""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit

# Key-shaped strings: OpenAI/Anthropic style keys and bearer tokens, whatever the value. Each starts at a word
# boundary and has a real key's length and mix (a digit in the body), so ``/tmp/task-results-2026`` is no key.
_NOT_BEFORE = r"(?<![A-Za-z0-9_\-])"
_KEY_SHAPES = re.compile(
    _NOT_BEFORE + r"(sk-(?:ant-|proj-|svcacct-|admin-)?(?=[A-Za-z_\-]*[0-9])[A-Za-z0-9_\-]{20,})"
    r"|" + _NOT_BEFORE + r"((?i:bearer)\s+[A-Za-z0-9_\-\.=]{16,})"
    r"|" + _NOT_BEFORE + r"((?i:x-api-key|api[_-]?key)[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9_\-\.]{8,})"
)
# ``scheme://user:password@`` in any text: the password goes, the user and host stay readable.
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^\s/@:]*):[^\s/@]*@")
# Providers echo a key without its prefix, or only its tail: both are scrubbed too.
_KEY_PREFIX = re.compile(r"^(?:sk-ant-(?:api\d+-|admin\d+-)?|sk-(?:proj-|svcacct-)?)")
TAIL_CHARS = 8
_MIN_FRAGMENT_SOURCE = 12  # a shorter secret's tail would be most of it, and common text besides

_known: set[str] = set()
_verbatim: set[str] = set()  # what the user typed (paths): never redacted
_cache: tuple[frozenset[str], tuple[str, ...]] = (frozenset(), ())


def register_secret(value: str | None) -> None:
    """Remember a secret value (an API key, a URL password) so ``scrub`` always removes it."""
    if value and len(value) >= 4:
        _known.add(value)


def keep_verbatim(*texts: str) -> None:
    """Texts the user typed (paths on the command line) that ``scrub`` must leave exactly as they are."""
    for text in texts:
        if text and len(text) >= 4:
            _verbatim.add(text)


def keep_typed_paths(argv: list[str]) -> None:
    """Every path-like word of a command line (``--runs-dir /tmp/x``, ``--input=a/b.csv``), as typed and absolute."""
    for word in argv:
        value = word.split("=", 1)[1] if word.startswith("--") and "=" in word else word
        if os.sep in value and not value.startswith("-"):
            keep_verbatim(value, os.path.abspath(value), os.path.realpath(value))


def url_password(url: str) -> str:
    """The password of ``url`` (``scheme://user:password@host``), or ``""``."""
    try:
        return urlsplit(url).password or ""
    except ValueError:
        return ""


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***``."""
    return _URL_CREDENTIALS.sub(r"\1:***@", url)


_env_snapshot: tuple[int, set[str]] = (-1, set())


def _env_secrets() -> set[str]:
    # Re-read the environment only when it changed size: scrub runs twice per item.
    global _env_snapshot
    if _env_snapshot[0] != len(os.environ):
        secrets = {v for k, v in os.environ.items() if k.endswith(("_API_KEY", "_TOKEN", "_SECRET")) and len(v) >= 4}
        _env_snapshot = (len(os.environ), secrets)
    return _env_snapshot[1]


def _fragments(secret: str) -> set[str]:
    out = {secret}
    if len(secret) >= _MIN_FRAGMENT_SOURCE:
        bare = _KEY_PREFIX.sub("", secret)
        if len(bare) >= TAIL_CHARS:
            out.add(bare)
        out.add(secret[-TAIL_CHARS:])
    return out


def _secret_texts() -> tuple[str, ...]:
    global _cache
    secrets = frozenset(_known | _env_secrets())
    if secrets != _cache[0]:
        texts = set().union(*(_fragments(s) for s in secrets)) if secrets else set()
        _cache = (secrets, tuple(sorted(texts, key=len, reverse=True)))  # longest first: no partial leaks
    return _cache[1]


def scrub(text: str) -> str:
    """``text`` without known secrets (whole, prefix-less or their last 8 characters), key shapes or URL passwords;
    what the user typed (``keep_verbatim``) stays as it is, unless it holds a whole known secret."""
    if not text:
        return text
    secrets = _secret_texts()
    kept = [v for v in sorted(_verbatim, key=len, reverse=True)
            if v in text and not any(s in v for s in secrets if len(s) > TAIL_CHARS)]
    for n, value in enumerate(kept):
        text = text.replace(value, f"\ue000{n}\ue001")
    text = _URL_CREDENTIALS.sub(r"\1:***@", text)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, "[REDACTED]")
    text = _KEY_SHAPES.sub("[REDACTED]", text)
    for n, value in enumerate(kept):
        text = text.replace(f"\ue000{n}\ue001", value)
    return text

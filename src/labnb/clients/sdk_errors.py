"""Turn an exception of the ``openai`` or ``anthropic`` SDK into our error types.

Both SDKs share one exception tree (Stainless-generated), so one mapping serves both.
"""

from __future__ import annotations

from types import ModuleType

from labnb.config import ModelEntry
from labnb.errors import AuthenticationFailed, CallError, QuotaExhausted
from labnb.store.scrub import redact_url, scrub

QUOTA_CODES = {"insufficient_quota", "billing_hard_limit_reached", "billing_error", "credit_balance_too_low"}
# A prompt longer than the model's context: llama-server's error type, OpenAI's code, Anthropic's message.
CONTEXT_TYPES = {"exceed_context_size_error", "context_length_exceeded"}
ANTHROPIC_TOO_LONG = "prompt is too long"


def retries_of(exc: Exception) -> int:
    """How many retries the SDK made before giving up, read from the header it sends."""
    request = getattr(exc, "request", None)
    response = getattr(exc, "response", None)
    if request is None and response is not None:
        request = getattr(response, "request", None)
    try:
        return int(request.headers.get("x-stainless-retry-count", 0)) if request is not None else 0
    except (TypeError, ValueError, RuntimeError):
        return 0


def _code(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            return str(inner.get("code") or inner.get("type") or "")
    return str(getattr(exc, "code", "") or "")


def _unreachable(exc: Exception, message: str) -> str:
    """``could not reach https://host/path (APIConnectionError: Connection error.)``: where, then what."""
    request = getattr(exc, "request", None)
    url = getattr(request, "url", None)
    if url is None:
        return message
    where = redact_url(f"{url.scheme}://{url.netloc.decode('ascii', 'replace')}{url.path}")
    cause = exc.__cause__ or exc.__context__
    detail = f"{message}{f' ({type(cause).__name__})' if cause is not None else ''}"
    return scrub(f"could not reach {where}: {detail}")[:2000]


def context_exceeded(exc: Exception) -> str | None:
    """For a 400 saying the prompt does not fit the model's context: a one-line error saying what to do."""
    body = getattr(exc, "body", None)
    inner = body.get("error", body) if isinstance(body, dict) else None
    if getattr(exc, "status_code", None) != 400 or not isinstance(inner, dict):
        return None
    said = str(inner.get("message") or "")
    if not ({str(inner.get("type")), str(inner.get("code"))} & CONTEXT_TYPES or said.startswith(ANTHROPIC_TOO_LONG)):
        return None
    prompt, context = inner.get("n_prompt_tokens"), inner.get("n_ctx")
    if isinstance(prompt, int) and isinstance(context, int):  # llama-server says both
        return (f"the prompt is {prompt} tokens, more than the server's context size of {context} tokens: start "
                f"the server with a larger context (llama-server --ctx-size {_room(prompt)}) or send a shorter "
                "prompt (a smaller --batch-size)")
    return scrub(f"the prompt does not fit the model's context ({said[:300] or 'HTTP 400'}): send a shorter prompt "
                 "(a smaller --batch-size) or use a model with a longer context")


def _room(prompt: int) -> int:
    """A context size that holds ``prompt`` and an answer: the next power of two with 512 tokens to spare."""
    size = 1024
    while size < prompt + 512:
        size *= 2
    return size


def map_sdk_error(exc: Exception, sdk: ModuleType, entry: ModelEntry) -> Exception:
    """The error to raise for ``exc``: ``RunAborted`` subclasses stop the run, ``CallError`` fails items."""
    status = getattr(exc, "status_code", None)
    code = _code(exc)
    message = scrub(f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}")[:2000]
    retries = retries_of(exc)
    if code in QUOTA_CODES or status == 402:
        return QuotaExhausted(
            f"{entry.provider} says the account has no quota left ({status} {code}); add credit or use another model"
        )
    if isinstance(exc, (sdk.AuthenticationError, sdk.PermissionDeniedError)):
        return AuthenticationFailed(
            f"{entry.provider} rejected the API key ({status}): check {entry.key_env or 'the API key'}"
            f"{' and base_url ' + redact_url(entry.base_url) if entry.base_url else ''}"
        )
    too_long = context_exceeded(exc)
    if too_long is not None:  # the same request would fail again: not retried (the SDK never retries a 400)
        return CallError("context_exceeded", too_long, retries=retries)
    if isinstance(exc, sdk.RateLimitError):
        return CallError("rate_limit", message, retries=retries)
    if isinstance(exc, sdk.APITimeoutError):
        return CallError("timeout", message, retries=retries)
    if isinstance(exc, sdk.APIConnectionError):
        return CallError("connection", _unreachable(exc, message), retries=retries)
    if isinstance(exc, sdk.APIStatusError):
        kind = "server_error" if (status or 0) >= 500 else "bad_request"
        return CallError(kind, message, retries=retries)
    return CallError("bad_response", message, retries=retries)

"""Wire formats of the fake API: faults, chat completions, Anthropic messages, usage with caching, errors."""

from __future__ import annotations

import hashlib
import json
import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fakeapi_answer import Parsed, dumps, tokens

FAULT_KINDS = ("status", "hang", "not_json", "invalid_label", "schema_violation", "missing_product", "refusal",
               "truncated", "drop", "trickle", "malformed")
REFUSAL = "I'm sorry, but I can't help with that request."
OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {
    400: ("invalid_request_error", None, "Invalid request."),
    401: ("invalid_request_error", "invalid_api_key", "Incorrect API key provided."),
    403: ("permission_error", None, "You are not allowed to use this model."),
    404: ("invalid_request_error", "unknown_url", "Unknown request URL."),
    408: ("timeout_error", None, "Request timed out."),
    409: ("invalid_request_error", None, "Conflict."),
    429: ("requests", "rate_limit_exceeded", "Rate limit reached for requests. Please try again later."),
    500: ("server_error", None, "The server had an error while processing your request. Sorry about that!"),
    503: ("server_error", None, "The engine is currently overloaded, please try again later."),
}
QUOTA_MESSAGE = "You exceeded your current quota, please check your plan and billing details."
ANTHROPIC_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request."), 401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low."), 403: ("permission_error", "Permission denied."),
    404: ("not_found_error", "Not found."), 409: ("conflict_error", "Conflict."),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: ("rate_limit_error", "Number of requests has exceeded your per-minute rate limit."),
    500: ("api_error", "Internal server error"), 504: ("timeout_error", "Request timeout."),
    529: ("overloaded_error", "Overloaded"),
}


@dataclass
class Fault:
    """One scripted misbehaviour of a model call; see FAULT_KINDS and the field comments."""

    kind: str
    status: int = 429  # status: HTTP code
    retry_after: float | None = None  # status: `retry-after` header, seconds
    retry_after_ms: int | None = None  # status: `retry-after-ms` header
    body: dict[str, Any] | str | None = None  # status: whole body override (str is sent as text/html)
    error_type: str | None = None  # status: error.type, e.g. "insufficient_quota", "overloaded_error"
    error_code: str | None = None  # status: error.code (OpenAI) / error.details.error_code (Anthropic)
    message: str | None = None  # status: error.message
    echo_key: bool = False  # status: put the received API key into error.message
    seconds: float = 0.0  # hang: sleep before answering normally; trickle: pause between TRICKLE_BYTES of the body
    variant: str = ""  # not_json: "html"|"json"; schema_violation: "missing_r"|"wrong_types"; malformed: see
    # fakeapi_malformed.MALFORMED_VARIANTS;
    # invalid_label: "unknown" (c=s="made-up") | "mismatch" (valid c, s of another category)
    headers: dict[str, str] = field(default_factory=dict)  # status: extra headers, e.g. x-should-retry

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {FAULT_KINDS}")


TRICKLE_BYTES = 10


@dataclass
class Reply:
    """One HTTP answer; ``drop`` closes the socket instead, ``delay`` sleeps before answering, ``hold`` waits."""

    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    delay: float = 0.0
    hold: bool = False  # wait for FakeAPIServer.release() before answering
    trickle: float = 0.0  # seconds between chunks of TRICKLE_BYTES (0: the body in one write)

    @classmethod
    def of(cls, status: int, obj: Any, **kwargs: Any) -> Reply:
        """A JSON reply."""
        return cls(status, json.dumps(obj).encode(), **kwargs)


def openai_error(status: int, *, message: str | None = None, type_: str | None = None,
                 code: str | None = None, param: str | None = None) -> dict[str, Any]:
    fallback = ("server_error", None, OPENAI_ERRORS[500][2]) if status >= 500 else ("invalid_request_error", None,
                                                                                     "Request failed.")
    default_type, default_code, default_message = OPENAI_ERRORS.get(status, fallback)
    code = code or default_code
    if message is None:
        message = QUOTA_MESSAGE if code == "insufficient_quota" else default_message
    return {"error": {"message": message, "type": type_ or default_type, "param": param, "code": code}}


def anthropic_error(status: int, request_id: str, *, message: str | None = None, type_: str | None = None,
                    code: str | None = None) -> dict[str, Any]:
    default_type, default_message = ANTHROPIC_ERRORS.get(status, ("api_error", "Internal server error"))
    error: dict[str, Any] = {"type": type_ or default_type, "message": message or default_message}
    if code:
        error["details"] = {"error_code": code}
    return {"type": "error", "error": error, "request_id": request_id}


class Meter:
    """Deterministic token counts with prompt caching keyed on the system prompt text."""

    def __init__(self, cache_min_tokens: int) -> None:
        self.cache_min_tokens = cache_min_tokens
        self.count: Callable[[str], int] = tokens  # a test may count exactly instead, e.g. with tiktoken o200k
        self._seen_openai: set[str] = set()
        self._cached_anthropic: set[str] = set()
        self._lock = threading.Lock()

    def openai(self, parsed: Parsed, completion_text: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(wire usage, log entry); cached tokens are part of prompt_tokens, as OpenAI reports them."""
        prompt, completion = self.count(parsed.system + parsed.user), self.count(completion_text)
        key = hashlib.sha256(parsed.system.encode()).hexdigest()
        with self._lock:
            seen = key in self._seen_openai
            self._seen_openai.add(key)
        cached = (len(parsed.system) // 4 // 128) * 128 if seen and prompt >= self.cache_min_tokens else 0
        wire = {
            "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        }
        return wire, _entry("openai", prompt, completion, cached, 0)

    def anthropic(self, parsed: Parsed, completion_text: str) -> tuple[dict[str, Any], dict[str, Any]]:
        """(wire usage, log entry); Anthropic reports cache reads/writes apart from input_tokens."""
        prompt, completion = self.count(parsed.system + parsed.user), self.count(completion_text)
        system = len(parsed.system) // 4
        read = write = 0
        if parsed.cache_control and system >= max(1, self.cache_min_tokens):
            key = hashlib.sha256(parsed.system.encode()).hexdigest()
            with self._lock:
                hit = key in self._cached_anthropic
                self._cached_anthropic.add(key)
            read, write = (system, 0) if hit else (0, system)
        wire = {
            "input_tokens": prompt - read - write, "output_tokens": completion,
            "cache_creation_input_tokens": write, "cache_read_input_tokens": read,
            "cache_creation": {"ephemeral_5m_input_tokens": write if parsed.cache_ttl != "1h" else 0,
                               "ephemeral_1h_input_tokens": write if parsed.cache_ttl == "1h" else 0},
            "service_tier": "standard",
        }
        return wire, _entry("anthropic", prompt, completion, read, write)


def _entry(provider: str, prompt: int, completion: int, cached: int, cache_write: int) -> dict[str, Any]:
    return {"provider": provider, "input_tokens": prompt, "output_tokens": completion,
            "cached_tokens": cached, "cache_write_tokens": cache_write}


def openai_completion(parsed: Parsed, obj: dict[str, Any], kind: str | None, meter: Meter,
                      completion_id: str, choice_probabilities: list[float] | None = None,
                      keep_chars: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """A ChatCompletion body and its usage log entry; with ``choice_probabilities`` (the request asked
    for logprobs), token logprobs in which each answer's ``k`` digits carry its probability."""
    text: str | None = dumps(obj)
    refusal, finish = None, "stop"
    if kind == "refusal":
        text, refusal = None, REFUSAL
    elif kind == "truncated":  # cut at half, or (a full context, as llama-server) after ``keep_chars``
        text, finish = text[: len(text) // 2 if keep_chars is None else keep_chars], "length"
    usage, entry = meter.openai(parsed, text if text is not None else REFUSAL)
    message = {"role": "assistant", "content": text, "refusal": refusal, "annotations": []}
    body = {
        "id": completion_id, "object": "chat.completion", "created": int(time.time()), "model": parsed.model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish,
                     "logprobs": token_logprobs(text, choice_probabilities) if choice_probabilities is not None
                     and text is not None else None}],
        "usage": usage, "service_tier": "default", "system_fingerprint": "fp_fakeapi",
    }
    return body, entry


TOKEN_RE = re.compile(r"\d{1,3}|[^\W\d_]+|\s+|[^\w\s]+|_")  # close to o200k: numbers of up to 3 digits
K_RE = re.compile(r'"k":(\d+)')


def token_logprobs(text: str, probabilities: list[float]) -> dict[str, Any]:
    """``choices[0].logprobs`` as OpenAI sends it; the i-th ``k`` value's first token has log(probabilities[i])."""
    spans = [m.start(1) for m in K_RE.finditer(text)]
    first = {start: probabilities[i] for i, start in enumerate(spans) if i < len(probabilities)}
    content, position = [], 0
    for token in TOKEN_RE.findall(text):
        logprob = math.log(first[position]) if position in first else 0.0
        content.append({"token": token, "logprob": logprob, "bytes": list(token.encode()), "top_logprobs": []})
        position += len(token)
    return {"content": content, "refusal": None}


def anthropic_message(parsed: Parsed, obj: dict[str, Any], kind: str | None, meter: Meter,
                      message_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A Message body (tool_use block when a tool was forced, else text) and its usage log entry."""
    stop_details = None
    if kind == "refusal":
        content: list[dict[str, Any]] = [{"type": "text", "text": REFUSAL}]
        stop, spent = "refusal", REFUSAL
        stop_details = {"type": "refusal", "category": None, "explanation": None}
    elif parsed.tool_name:
        tool_input = obj
        stop = "tool_use"
        if kind == "truncated":  # cut mid-call: the API returns the partial tool input it parsed so far
            rows = obj.get("r") or []
            tool_input, stop = {"r": rows[: len(rows) // 2]}, "max_tokens"
        content = [{"type": "tool_use", "id": message_id.replace("msg_", "toolu_"), "name": parsed.tool_name,
                    "input": tool_input}]
        spent = dumps(tool_input)
    else:
        spent, stop = dumps(obj), "end_turn"
        if kind == "truncated":
            spent, stop = spent[: len(spent) // 2], "max_tokens"
        content = [{"type": "text", "text": spent}]
    usage, entry = meter.anthropic(parsed, spent)
    body = {
        "id": message_id, "type": "message", "role": "assistant", "model": parsed.model, "content": content,
        "stop_reason": stop, "stop_sequence": None, "stop_details": stop_details, "usage": usage,
    }
    return body, entry


def status_reply(provider: str, fault: Fault, key: str, rid: str) -> Reply:
    """The error reply of a ``Fault("status", ...)``; ``key`` is the API key the request carried."""
    message = fault.message
    if fault.echo_key:
        message = f"{message or 'Request rejected'} (api key: {key})"
    headers = dict(fault.headers)
    if fault.retry_after is not None:
        headers["retry-after"] = f"{fault.retry_after:g}"
    if fault.retry_after_ms is not None:
        headers["retry-after-ms"] = str(fault.retry_after_ms)
    if isinstance(fault.body, str):
        return Reply(fault.status, fault.body.encode(), content_type="text/html", headers=headers)
    if fault.body is not None:
        payload = fault.body
    elif provider == "openai":
        payload = openai_error(fault.status, message=message, type_=fault.error_type, code=fault.error_code)
    else:
        payload = anthropic_error(fault.status, rid, message=message, type_=fault.error_type, code=fault.error_code)
    return Reply.of(fault.status, payload, headers=headers)


def mask(key: str) -> str:
    """An API key as OpenAI echoes it in 401 messages: first 3 and last 4 characters."""
    return key[:3] + "*" * max(0, len(key) - 7) + key[-4:] if len(key) > 8 else "****"

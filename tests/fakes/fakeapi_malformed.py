"""Malformed 200 answers of the fake API: what odd OpenAI-compatible servers (and proxies) really send.

``Fault("malformed", variant=V)`` answers the call normally, then damages the body (OpenAI or Anthropic):

    choices_object   "choices": {}          (Anthropic: "content": {})
    message_null     "message": null        (Anthropic: "content": null)
    usage_null       "usage": null
    tokens_strings   token counts as strings ("12")
    tokens_nan       token counts NaN        (sent as the bare JSON-ish literal NaN)
    tokens_infinity  token counts Infinity
    tokens_negative  completion/output tokens -2000
"""

from __future__ import annotations

import json
from typing import Any

MALFORMED_VARIANTS = ("choices_object", "message_null", "usage_null", "tokens_strings", "tokens_nan",
                      "tokens_infinity", "tokens_negative")
USAGE_VARIANTS = MALFORMED_VARIANTS[2:]  # those whose usage the client cannot know


def damage(provider: str, body: dict[str, Any], variant: str) -> bytes:
    """``body`` (a correct answer) damaged as ``variant`` says, as the bytes sent."""
    if variant not in MALFORMED_VARIANTS:
        raise ValueError(f"unknown malformed variant {variant!r}; expected one of {MALFORMED_VARIANTS}")
    body = json.loads(json.dumps(body))
    usage = body.get("usage") or {}
    counts = ("prompt_tokens", "completion_tokens") if provider == "openai" else ("input_tokens", "output_tokens")
    if variant == "choices_object":
        body["choices" if provider == "openai" else "content"] = {}
    elif variant == "message_null":
        if provider == "openai":
            body["choices"][0]["message"] = None
        else:
            body["content"] = None
    elif variant == "usage_null":
        body["usage"] = None
    elif variant == "tokens_strings":
        for key in counts:
            usage[key] = str(usage[key])
    elif variant in ("tokens_nan", "tokens_infinity"):
        for key in counts:
            usage[key] = float("nan") if variant == "tokens_nan" else float("inf")
    elif variant == "tokens_negative":
        usage[counts[1]] = -2000
    return json.dumps(body).encode()  # allow_nan: NaN and Infinity go out as the literals servers send

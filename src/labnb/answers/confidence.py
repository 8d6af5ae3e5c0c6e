"""An LLM's confidence in each answer: the probability of the tokens of its choice number ``k``.

OpenAI returns one log probability per output token when asked (``logprobs: true``). In an answer
``{"r":[{"n":1,"k":12},…]}`` the tokens that spell each ``k`` value carry the model's choice; their
summed log probability, exponentiated, is the probability that it picked that number given the
answer so far. Providers without logprobs (Anthropic) give no confidence.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

K_VALUE = re.compile(r'(?<!\\)"k"\s*:\s*(\d+)')
DECIMALS = 6


def choice_probabilities(token_logprobs: Sequence[tuple[str, float]]) -> list[float]:
    """The probability of every ``k`` value of the answer text, in text order."""
    text, starts, position = "", [], 0
    for token, _ in token_logprobs:
        starts.append(position)
        position += len(token)
        text += token
    out = []
    for match in K_VALUE.finditer(text):
        start, end = match.span(1)
        total = sum(lp for (token, lp), s in zip(token_logprobs, starts) if s < end and s + len(token) > start)
        out.append(round(math.exp(total), DECIMALS))
    return out


def confidences_by_item(data: dict[str, Any] | None, token_logprobs: Sequence[tuple[str, float]]) -> dict[int, float]:
    """Item number ``n`` → probability of its answer; empty when there are no logprobs or they do not line up."""
    rows = (data or {}).get("r")
    if not token_logprobs or not isinstance(rows, list):
        return {}
    probabilities = choice_probabilities(token_logprobs)
    if len(probabilities) != len(rows):
        return {}
    return {row["n"]: p for row, p in zip(rows, probabilities)
            if isinstance(row, dict) and isinstance(row.get("n"), int)}

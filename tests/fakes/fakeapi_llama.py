"""The fake API as llama.cpp's ``llama-server`` answers (measured against build 11434.0.0, --parallel 1).

- ``Slots(n, service)``: at most ``n`` model calls in service at once, each for ``service`` seconds; the rest wait
  in a queue, first come first served (llama-server's ``--parallel n``). No rate-limit headers, no 429, ever.
  It logs how many calls were in the server (in service + queued, the arriving one included) at each arrival.
- ``context_error``: the HTTP 400 body llama-server sends for a prompt longer than ``--ctx-size`` (verbatim shape).
- ``llama_completion``: a chat completion reshaped as llama-server sends it: usage without
  ``completion_tokens_details``, a ``timings`` object, ``system_fingerprint`` ``b0-unknown``, a 32-character id,
  no ``refusal``/``annotations``/``logprobs``/``service_tier``, and no ``x-request-id`` header.
"""

from __future__ import annotations

import contextlib
import random
import string
import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Any

ID_CHARS = string.ascii_letters + string.digits


class Slots:
    """A queue in front of ``slots`` workers; ``arrivals[i]``: calls in the server when call i arrived."""

    def __init__(self, slots: int, service: float) -> None:
        self.slots, self.service = slots, service
        self.arrivals: list[int] = []
        self.max_in_server = 0
        self.max_queued = 0  # calls that found every slot taken and waited, at the longest
        self._busy = 0
        self._queue: deque[object] = deque()
        self._cond = threading.Condition()

    @contextlib.contextmanager
    def serve(self) -> Iterator[None]:
        """Wait for a slot (first come, first served), hold it for ``service`` seconds and the body of the with."""
        me = object()
        with self._cond:
            self._queue.append(me)
            in_server = self._busy + len(self._queue)
            self.arrivals.append(in_server)
            self.max_in_server = max(self.max_in_server, in_server)
            self.max_queued = max(self.max_queued, in_server - self.slots)
            self._cond.wait_for(lambda: self._queue[0] is me and self._busy < self.slots)
            self._queue.popleft()
            self._busy += 1
            self._cond.notify_all()
        try:
            time.sleep(self.service)  # the slot is busy decoding
            yield
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()


def context_error(prompt_tokens: int, n_ctx: int) -> dict[str, Any]:
    """llama-server's answer (HTTP 400) to a prompt of ``prompt_tokens`` with ``--ctx-size n_ctx``."""
    return {"error": {"code": 400, "message": f"request ({prompt_tokens} tokens) exceeds the available context size "
                      f"({n_ctx} tokens), try increasing it", "type": "exceed_context_size_error",
                      "n_prompt_tokens": prompt_tokens, "n_ctx": n_ctx}}


def llama_completion(body: dict[str, Any], service: float, timings: bool = True) -> dict[str, Any]:
    """``body`` (the fake's OpenAI chat completion) in llama-server's shape and key order (without ``timings``:
    as a server that does not say how long it worked, e.g. vLLM)."""
    choice = body["choices"][0]
    message = {"role": "assistant", "content": choice["message"]["content"]}
    usage = body["usage"]
    prompt, completion = usage["prompt_tokens"], usage["completion_tokens"]
    cached = usage["prompt_tokens_details"]["cached_tokens"]
    prompt_ms, predicted_ms = service * 200.0, service * 800.0  # a fifth of the time reading, the rest writing
    out = {
        "choices": [{"finish_reason": choice["finish_reason"], "index": 0, "message": message}],
        "created": body["created"], "model": body["model"], "system_fingerprint": "b0-unknown",
        "object": "chat.completion",
        "usage": {"completion_tokens": completion, "prompt_tokens": prompt, "total_tokens": prompt + completion,
                  "prompt_tokens_details": {"cached_tokens": cached}},
        "id": "chatcmpl-" + "".join(random.choices(ID_CHARS, k=32)),
        "timings": {"cache_n": cached, "prompt_n": prompt - cached, "prompt_ms": prompt_ms,
                    "prompt_per_token_ms": prompt_ms / max(1, prompt - cached),
                    "prompt_per_second": 1000.0 * (prompt - cached) / max(prompt_ms, 1e-9),
                    "predicted_n": completion, "predicted_ms": predicted_ms,
                    "predicted_per_token_ms": predicted_ms / max(1, completion),
                    "predicted_per_second": 1000.0 * completion / max(predicted_ms, 1e-9)},
    }
    if not timings:
        del out["timings"]
    return out

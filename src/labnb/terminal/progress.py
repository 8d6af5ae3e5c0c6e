"""A progress bar on stderr (tqdm) that shows done, failures, tokens and cost so far, and waits for rate limits."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


class Progress:
    def __init__(self, total: int, *, enabled: bool, desc: str = "", unit: str = "item",
                 status: Callable[[], str] = lambda: "") -> None:
        self._bar: Any = None
        self._status = status  # e.g. "waiting for rate limit", appended to the numbers
        self._numbers = ""
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
                             mininterval=0.2, leave=False)

    def advance(self, n: int, *, failed: int, tokens: int, cost: float) -> None:
        if self._bar is not None:
            self._numbers = f"failed={failed} tokens={tokens:,} cost=${cost:.4f}"
            self._bar.set_postfix_str(self._postfix(), refresh=False)
            self._bar.update(n)

    def refresh(self) -> None:
        """Redraw now (the status changed while nothing finished)."""
        if self._bar is not None:
            self._bar.set_postfix_str(self._postfix(), refresh=True)

    def _postfix(self) -> str:
        status = self._status()
        return f"{self._numbers} | {status}" if status else self._numbers

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

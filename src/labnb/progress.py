"""A progress bar on stderr (tqdm) that shows done, failures, tokens and cost so far."""

from __future__ import annotations

import sys
from typing import Any


class Progress:
    def __init__(self, total: int, *, enabled: bool, desc: str = "", unit: str = "item") -> None:
        self._bar: Any = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
                             mininterval=0.2, leave=False)

    def advance(self, n: int, *, failed: int, tokens: int, cost: float) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(f"failed={failed} tokens={tokens:,} cost=${cost:.4f}", refresh=False)
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

"""Progress on stderr: a bar (tqdm) that shows done, failures, tokens and cost so far, and waits for rate limits;
a spinner wherever a person waits for something else (a model loading, labels being embedded)."""

from __future__ import annotations

import contextlib
import itertools
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TextIO


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


SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


@contextlib.contextmanager
def waiting(what: str, stream: TextIO | None = None) -> Iterator[None]:
    """A spinner with the seconds elapsed on stderr while a person waits for ``what`` (a model loading,
    labels being embedded); then one line saying how long it took. Not a terminal: the two ends of that line."""
    stream = stream or sys.stderr
    tty = stream.isatty()
    started = time.perf_counter()
    done = threading.Event()

    def spin() -> None:
        for n in itertools.count():
            if done.wait(0.1):
                return
            stream.write(f"\r{SPINNER[n % len(SPINNER)]} {what}… {time.perf_counter() - started:.1f}s")
            stream.flush()

    spinner = threading.Thread(target=spin, daemon=True) if tty else None
    outcome = "interrupted"  # Ctrl-C at any point below still ends the line
    try:
        if spinner is not None:
            spinner.start()
        else:
            stream.write(f"{what}…")
            stream.flush()
        yield
        outcome = "done"
    except Exception:
        outcome = "failed"
        raise
    finally:
        done.set()
        if spinner is not None:
            if spinner.ident is not None:  # started
                spinner.join()
            stream.write(f"\r\x1b[K{what}…")
        stream.write(f" {outcome} ({time.perf_counter() - started:.1f}s)\n")
        stream.flush()

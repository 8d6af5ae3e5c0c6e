"""Small exact statistics for comparing classifiers: Wilson interval, McNemar's exact test, the Pareto front."""

from __future__ import annotations

import math
from collections.abc import Sequence

Z95 = 1.959963984540054  # the 97.5% quantile of the standard normal


def wilson(correct: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of ``correct``/``n`` (95% by default); ``None`` when ``n`` is 0."""
    if n <= 0:
        return None
    p = correct / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts ``b`` and ``c`` (1.0 when there are none)."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def discordant(a: dict[str, bool], b: dict[str, bool]) -> tuple[int, int]:
    """(A right and B wrong, A wrong and B right) over the items both scored."""
    both = a.keys() & b.keys()
    return sum(a[i] and not b[i] for i in both), sum(b[i] and not a[i] for i in both)


def pareto_front(points: Sequence[tuple[float | None, float | None]]) -> list[bool]:
    """For (cost, accuracy) points: True where no other point is at most as costly and at least as accurate,
    and strictly better in one. Points missing either value are never on the front."""
    def dominated(i: int) -> bool:
        ci, ai = points[i]
        if ci is None or ai is None:
            return True
        return any(cj is not None and aj is not None and cj <= ci and aj >= ai and (cj < ci or aj > ai)
                   for j, (cj, aj) in enumerate(points) if j != i)

    return [c is not None and a is not None and not dominated(i) for i, (c, a) in enumerate(points)]

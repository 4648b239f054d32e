"""A rank test for "is this sample larger than that one?", robust to outliers and to the shape of
latency distributions (Mann-Whitney U, normal approximation with the tie correction)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def _ranks(values: Sequence[float]) -> list[float]:
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    start = 0
    while start < len(order):
        end = start
        while end + 1 < len(order) and values[order[end + 1]] == values[order[start]]:
            end += 1
        for k in range(start, end + 1):
            ranks[order[k]] = (start + end) / 2 + 1  # ties share their mean rank
        start = end + 1
    return ranks


def p_greater(a: Sequence[float], b: Sequence[float]) -> float:
    """One-sided p-value of "``a`` tends to be larger than ``b``"; 1.0 when either is empty."""
    n1, n2 = len(a), len(b)
    if not n1 or not n2:
        return 1.0
    combined = list(a) + list(b)
    ranks = _ranks(combined)
    u1 = sum(ranks[:n1]) - n1 * (n1 + 1) / 2
    n = n1 + n2
    counts: dict[float, int] = {}
    for value in combined:
        counts[value] = counts.get(value, 0) + 1
    ties = sum(t ** 3 - t for t in counts.values())
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        return 1.0  # every value equal: nothing is larger
    z = (u1 - n1 * n2 / 2 - 0.5) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))


def p_proportion_greater(failures_a: int, count_a: int, failures_b: int, count_b: int) -> float:
    """One-sided p-value of "the failure ratio of a is above that of b" (two-proportion z-test)."""
    if not count_a or not count_b:
        return 1.0
    pooled = (failures_a + failures_b) / (count_a + count_b)
    variance = pooled * (1 - pooled) * (1 / count_a + 1 / count_b)
    if variance <= 0:
        return 1.0
    z = (failures_a / count_a - failures_b / count_b) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))

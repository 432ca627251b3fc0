"""The previous trend flag (until issue 32), kept as the trend benchmark's baseline: a complete week is
rising when it holds at least 1.5× the week before's data points, at least 5 more, and a share grown
beyond chance (two-proportion z ≥ 2.58); falling is the mirror image. Each week against the one before
only, one theme at a time."""

from __future__ import annotations

import math
from collections.abc import Sequence

GROWTH, MIN_CHANGE, Z_SIGNIFICANT = 1.5, 5, 2.58


def direction(count: int, total: int, previous: int, previous_total: int) -> str:
    if not total or not previous_total:
        return "steady"
    pooled = (count + previous) / (total + previous_total)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / total + 1 / previous_total)) or 1.0
    z = (count / total - previous / previous_total) / spread
    if count - previous >= MIN_CHANGE and count >= GROWTH * previous and z >= Z_SIGNIFICANT:
        return "rising"
    if previous - count >= MIN_CHANGE and previous >= GROWTH * count and z <= -Z_SIGNIFICANT:
        return "falling"
    return "steady"


def judge(counts: Sequence[Sequence[int]], totals: Sequence[int]) -> list[list[str]]:
    """Each theme's flag for each week, as the previous theme_trends computed it."""
    return [[direction(series[w], totals[w], series[w - 1] if w else 0, totals[w - 1] if w else 0)
             for w in range(len(totals))] for series in counts]

"""Counts per theme per day and per week, share of all feedback, and change vs the previous period."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import NamedTuple

PERIODS = {"day": 1, "week": 7}
GROWTH = 1.5  # rising: at least 1.5× the previous period's count, by at least MIN_CHANGE data points,
MIN_CHANGE = 5  # and a share of feedback that grew by more than chance explains (two-proportion z-test);
Z_SIGNIFICANT = 2.58  # p < 0.01, so week-to-week noise is not flagged. Falling is the mirror image.


class TrendRow(NamedTuple):
    theme_id: str
    granularity: str  # "day" or "week" (weeks start on Monday)
    period_start: date
    data_points: int
    share: float  # of all data points of the period, themed or not
    previous_data_points: int
    change: int
    complete: bool  # the period is over; an unfinished one is never flagged
    direction: str  # rising | falling | steady | in progress


def period_start(day: date, granularity: str) -> date:
    return day - timedelta(days=day.weekday()) if granularity == "week" else day


def theme_trends(theme_ids: Sequence[str], themed: Iterable[tuple[str, date]], all_days: Sequence[date], *,
                 as_of: date) -> list[TrendRow]:
    """``themed`` holds each data point's best theme and day; ``all_days`` every data point's day.
    Periods run from the first data point to the last; a period is complete once ``as_of`` is past it."""
    if not all_days:
        return []
    themed = list(themed)
    rows = []
    for granularity, length in PERIODS.items():
        totals = Counter(period_start(day, granularity) for day in all_days)
        counts = Counter((theme_id, period_start(day, granularity)) for theme_id, day in themed)
        first, last = period_start(min(all_days), granularity), period_start(max(all_days), granularity)
        starts = [first + timedelta(days=length * i) for i in range((last - first).days // length + 1)]
        for theme_id in theme_ids:
            previous, previous_total = 0, 0
            for start in starts:
                count, total = counts[(theme_id, start)], totals[start]
                complete = start + timedelta(days=length) <= as_of
                direction = _direction(count, total, previous, previous_total) if complete else "in progress"
                rows.append(TrendRow(theme_id, granularity, start, count, round(count / total if total else 0.0, 4),
                                     previous, count - previous, complete, direction))
                previous, previous_total = count, total
    return rows


def _direction(count: int, total: int, previous: int, previous_total: int) -> str:
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


def movers(rows: Iterable[TrendRow], granularity: str = "week") -> dict[str, list[str]]:
    """The themes rising and falling in the last complete period."""
    complete = [row for row in rows if row.granularity == granularity and row.complete]
    if not complete:
        return {"rising": [], "falling": []}
    latest = max(row.period_start for row in complete)
    latest_rows = [row for row in complete if row.period_start == latest]
    return {direction: [row.theme_id for row in latest_rows if row.direction == direction]
            for direction in ("rising", "falling")}

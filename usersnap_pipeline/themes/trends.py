"""Counts per theme per day and per week, share of all feedback, change vs the previous period, and
the period's sentiment."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # the code location loads this module; sentiment brings numpy (15 MB)
    from .sentiment import Sentiment

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
    complete: bool  # the period is over
    direction: str  # rising | falling | steady | in progress (unfinished: it may already be rising, never falling)
    negative: int  # data points with negative sentiment
    positive: int
    sentiment: float | None  # their mean sentiment score; None when none is scored


class Themed(NamedTuple):
    theme_id: str  # the data point's best theme
    day: date
    sentiment: Sentiment | None  # None: not scored yet


def period_start(day: date, granularity: str) -> date:
    return day - timedelta(days=day.weekday()) if granularity == "week" else day


def theme_trends(theme_ids: Sequence[str], themed: Iterable[Themed], all_days: Sequence[date], *,
                 as_of: date) -> list[TrendRow]:
    """``themed`` holds each themed data point; ``all_days`` every data point's day. Periods run from
    the first data point to the last; a period is complete once ``as_of`` is past it. An unfinished
    period is flagged rising as soon as its count so far passes the test: it can only grow."""
    if not all_days:
        return []
    themed = list(themed)
    rows = []
    for granularity, length in PERIODS.items():
        totals = Counter(period_start(day, granularity) for day in all_days)
        members: dict[tuple[str, date], list[Sentiment | None]] = defaultdict(list)
        for point in themed:
            members[(point.theme_id, period_start(point.day, granularity))].append(point.sentiment)
        first, last = period_start(min(all_days), granularity), period_start(max(all_days), granularity)
        starts = [first + timedelta(days=length * i) for i in range((last - first).days // length + 1)]
        for theme_id in theme_ids:
            previous, previous_total = 0, 0
            for start in starts:
                sentiments, total = members[(theme_id, start)], totals[start]
                count = len(sentiments)
                complete = start + timedelta(days=length) <= as_of
                direction = _direction(count, total, previous, previous_total)
                if not complete and direction != "rising":
                    direction = "in progress"
                scored = [s for s in sentiments if s is not None]
                rows.append(TrendRow(theme_id, granularity, start, count, round(count / total if total else 0.0, 4),
                                     previous, count - previous, complete, direction,
                                     sum(s.label == "negative" for s in scored),
                                     sum(s.label == "positive" for s in scored),
                                     round(sum(s.score for s in scored) / len(scored), 4) if scored else None))
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


def rise_kind(row: TrendRow) -> str:
    """A rising theme is new when it had no data point the period before."""
    return "new" if row.previous_data_points == 0 else "rising"

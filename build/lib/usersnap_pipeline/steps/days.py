"""Day arithmetic for UTC daily partitions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone


def days_between(start: date, end: date) -> Iterator[date]:
    """Each day in ``[start, end)``."""
    day = start
    while day < end:
        yield day
        day += timedelta(days=1)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=timezone.utc)
    return start, start + timedelta(days=1)

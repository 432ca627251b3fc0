"""Counts per theme per day and per week, share of all feedback, the period's sentiment, and each week's
verdict: is a theme rising, falling, new or spiking, judged over the right horizon, with the numbers
behind it. Pure: no I/O.

A product team's headline is a theme that went from 3 % to 12 % of feedback in a month; no single week
of such a rise is 1.5× the week before it, so a week-over-week test calls it steady. Each week is
therefore judged three ways, on the data up to that week only (a verdict never changes afterwards):

- **trend**: a binomial regression of the theme's weekly count on time, the week's total as exposure
  (logit of the share linear in the week), over the last 4 and the last 8 weeks (``TREND_WEEKS``: a
  change of the last month, and a slow one): its slope's one-sided p-value, the dispersion estimated from the residuals (never below binomial), so a theme that merely
  wobbles is not a trend. It flags ``rising`` or ``falling`` when the fitted share moved by at least
  ``TREND_RATIO`` over the window.
- **spike**: the week's share against the ``BASELINE_WEEKS`` weeks before it (an exact conditional test
  of two Poisson rates, valid at ten data points a week), at least ``SPIKE_RATIO`` times as high: a
  ``spike``, or ``new`` out of nothing. When the trend passes too, the theme is ``rising``.
- **false alarms**: a theme's smallest p-value is multiplied by the number of tests (Bonferroni within
  the theme), then the themes of one week are adjusted together (Benjamini–Hochberg): a theme is flagged
  when its adjusted p-value is at most ``FALSE_DISCOVERY``, by the tests that pass the procedure's cutoff. When every theme is steady, a week has a false flag
  at most one time in twenty, whatever the number of themes.

The unfinished week is judged on its data so far, as a share of the feedback so far: a spike is seen
the week it starts. Days are counted, not judged. Measured on planted trends in bench/trend_detection.py.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # the code location loads this module; sentiment brings numpy (15 MB)
    from .sentiment import Sentiment

PERIODS = {"day": 1, "week": 7}
ALL_PROJECTS = ""  # the project_id of the rows that count every project
TREND_WEEKS = (4, 8)  # the horizons a trend is judged over: a month, and two to see a slow rise
MIN_TREND_WEEKS = 3  # a slope needs at least three weeks with feedback
TREND_RATIO = 1.5  # rising: the fitted share at the window's end at least 1.5× its start (falling: the mirror)
BASELINE_WEEKS = 4  # a spike is judged against the four weeks before it
SPIKE_RATIO = 2.0  # a spike: at least twice the baseline's share
MIN_COUNT = 5  # a week flagged rising, spiking or new holds at least this many of the theme's data points
FALSE_DISCOVERY = 0.05  # Benjamini–Hochberg level across the themes of one week
TESTS = 2 * len(TREND_WEEKS) + 1  # rising and falling over each horizon, spike: a theme's smallest p-value
# is multiplied by this
UP = ("rising", "new", "spike")  # the verdicts that alert


class TrendRow(NamedTuple):
    theme_id: str
    granularity: str  # "day" or "week" (weeks start on Monday)
    period_start: date
    data_points: int
    share: float  # of all data points of the period (and project), themed or not
    previous_data_points: int
    change: int
    complete: bool  # the period is over
    direction: str | None  # weeks: rising | falling | new | spike | steady | in progress; days: None
    negative: int  # data points with negative sentiment
    positive: int
    sentiment: float | None  # their mean sentiment score; None when none is scored
    project_id: str = ALL_PROJECTS  # the project counted; "" = all projects
    share_from: float | None = None  # the verdict's numbers: share before (fitted at the window's start,
    share_to: float | None = None  # or the baseline's) → share now (fitted at the window's end, or the week's)
    weeks: int | None = None  # over how many weeks, the judged week included
    p_value: float | None = None  # adjusted across the week's themes; None: not judged (too little data)


class Themed(NamedTuple):
    theme_id: str  # the data point's best theme
    day: date
    sentiment: Sentiment | None  # None: not scored yet


class Verdict(NamedTuple):
    direction: str  # rising | falling | new | spike | steady
    share_from: float | None
    share_to: float | None
    weeks: int | None
    p_value: float | None


def period_start(day: date, granularity: str) -> date:
    return day - timedelta(days=day.weekday()) if granularity == "week" else day


def theme_trends(theme_ids: Sequence[str], themed: Iterable[Themed], all_days: Sequence[date], *,
                 as_of: date, project_id: str = ALL_PROJECTS) -> list[TrendRow]:
    """``themed`` holds each themed data point (of one project, or all); ``all_days`` every data point's
    day. Periods run from the first data point to the last; a period is complete once ``as_of`` is past it."""
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
        counts = [[len(members[(theme_id, start)]) for start in starts] for theme_id in theme_ids]
        totals_of = [totals[start] for start in starts]
        verdicts = judge(counts, totals_of) if granularity == "week" else None
        for t, theme_id in enumerate(theme_ids):
            previous = 0
            for w, start in enumerate(starts):
                sentiments, count = members[(theme_id, start)], counts[t][w]
                complete = start + timedelta(days=length) <= as_of
                verdict = verdicts[t][w] if verdicts is not None else Verdict(None, None, None, None, None)
                direction = verdict.direction
                if direction == "steady" and not complete:
                    direction = "in progress"
                scored = [s for s in sentiments if s is not None]
                rows.append(TrendRow(
                    theme_id, granularity, start, count, round(count / totals_of[w] if totals_of[w] else 0.0, 4),
                    previous, count - previous, complete, direction,
                    sum(s.label == "negative" for s in scored), sum(s.label == "positive" for s in scored),
                    round(sum(s.score for s in scored) / len(scored), 4) if scored else None, project_id,
                    *_rounded(verdict)))
                previous = count
    return rows


def _rounded(verdict: Verdict) -> tuple:
    def share(value):
        return None if value is None else round(value, 4)

    p_value = None if verdict.p_value is None else float(f"{verdict.p_value:.3g}")
    return share(verdict.share_from), share(verdict.share_to), verdict.weeks, p_value


def judge(counts: Sequence[Sequence[int]], totals: Sequence[int]) -> list[list[Verdict]]:
    """Each theme's verdict for each week (``counts[theme][week]``, ``totals[week]`` every data point of the
    week), on the weeks up to it only; the themes of a week share one false-discovery adjustment."""
    verdicts = [[Verdict("steady", None, None, None, None) for _ in totals] for _ in counts]
    for week in range(len(totals)):
        if not totals[week]:
            continue
        candidates = [_candidates(series, totals, week) for series in counts]
        # A theme's p-value: its smallest among the tests whose effect is large enough to flag (any test
        # when none is: it was tested all the same), times the number of tests.
        tested = [min(TESTS * min((c.p_value for c in found if c.direction != "steady"),
                                  default=min((c.p_value for c in found), default=1.0)), 1.0)
                  for found in candidates]
        adjusted, cutoff = _benjamini_hochberg(tested)
        for theme, found in enumerate(candidates):
            if not found:
                continue
            passing: dict[str, Verdict] = {}
            for c in sorted(found, key=lambda c: c.p_value):  # the horizon that shows it best
                if c.direction != "steady" and TESTS * c.p_value <= cutoff:
                    passing.setdefault(c.direction, c)
            kind = next((k for k in ("new", "rising", "spike", "falling") if k in passing), None)
            shown = passing[kind] if kind else min(found, key=lambda c: c.p_value)
            verdicts[theme][week] = shown._replace(direction=kind or "steady", p_value=adjusted[theme])
    return verdicts


def _candidates(series: Sequence[int], totals: Sequence[int], week: int) -> list[Verdict]:
    """The tests a theme's week can be judged by, each with its p-value (``steady`` when the effect is too
    small to flag whatever its significance: it still counts in the adjustment, as a tested theme)."""
    found = []
    for horizon in TREND_WEEKS:
        window = [w for w in range(max(0, week - horizon + 1), week + 1) if totals[w]]
        if len(window) >= MIN_TREND_WEEKS and (horizon == TREND_WEEKS[0] or week + 1 > TREND_WEEKS[0]):
            trend = _trend(series, totals, window)
            if trend is not None:
                found.append(trend)
    baseline = [w for w in range(max(0, week - BASELINE_WEEKS), week) if totals[w]]
    if baseline:
        found.append(_spike(series, totals, week, baseline))
    return found


def _trend(series: Sequence[int], totals: Sequence[int], window: list[int]) -> Verdict | None:
    """The slope of the logit of the share over ``window``: fitted share at its start and end, and the
    one-sided p-value in the slope's direction."""
    count, total = [series[w] for w in window], [totals[w] for w in window]
    if sum(count) < 2 * MIN_COUNT:
        return None
    fit = _logistic_slope([w - window[0] for w in window], count, total)
    if fit is None:
        return None
    share_from, share_to, z = fit
    p_value = 0.5 * math.erfc(abs(z) / math.sqrt(2))
    if z > 0 and share_to >= TREND_RATIO * share_from and count[-1] >= 1:
        direction = "rising"
    elif z < 0 and share_from >= TREND_RATIO * share_to:
        direction = "falling"
    else:
        direction = "steady"
    return Verdict(direction, share_from, share_to, window[-1] - window[0] + 1, p_value)


def _logistic_slope(weeks: list[int], count: list[int], total: list[int]) -> tuple[float, float, float] | None:
    """Binomial regression logit(share) = a + b·week by iteratively reweighted least squares, on counts
    smoothed by half a data point (a week of zeros keeps the fit finite); returns the fitted shares at the
    first and last week and the slope's z, its standard error inflated by the residuals' overdispersion."""
    import numpy as np

    x = np.asarray(weeks, dtype=float)
    x -= x.mean()
    c, n = np.asarray(count, dtype=float) + 0.5, np.asarray(total, dtype=float) + 1.0
    design = np.column_stack([np.ones_like(x), x])
    beta = np.array([math.log(c.sum() / (n.sum() - c.sum())), 0.0])
    for _ in range(50):
        p = 1 / (1 + np.exp(-(design @ beta)))
        weight = n * p * (1 - p)
        information = design.T @ (design * weight[:, None])
        step = np.linalg.solve(information, design.T @ (c - n * p))
        beta += step
        if np.abs(step).max() < 1e-8:
            break
    p = 1 / (1 + np.exp(-(design @ beta)))
    weight = n * p * (1 - p)
    information = design.T @ (design * weight[:, None])
    covariance = np.linalg.inv(information)
    dispersion = max(1.0, float(((c - n * p) ** 2 / weight).sum()) / max(len(x) - 2, 1))
    spread = math.sqrt(covariance[1, 1] * dispersion)
    if not spread or not math.isfinite(spread):
        return None
    return float(p[0]), float(p[-1]), float(beta[1] / spread)


def _spike(series: Sequence[int], totals: Sequence[int], week: int, baseline: list[int]) -> Verdict:
    """The week's share against the baseline weeks': given both counts, the week's is binomial with the
    week's part of the exposure when the rate did not change (exact, for small counts too)."""
    from scipy.stats import binom

    now, total = series[week], totals[week]
    before, before_total = sum(series[w] for w in baseline), sum(totals[w] for w in baseline)
    share_from, share_to = before / before_total, now / total
    p_value = float(binom.sf(now - 1, now + before, total / (total + before_total))) if now else 1.0
    weeks = week - baseline[0] + 1
    if now < MIN_COUNT or share_to < SPIKE_RATIO * max(share_from, 0.5 / before_total):
        return Verdict("steady", share_from, share_to, weeks, p_value)
    return Verdict("new" if before == 0 else "spike", share_from, share_to, weeks, p_value)


def _benjamini_hochberg(p_values: Sequence[float]) -> tuple[list[float], float]:
    """Adjusted p-values (step-up), and the largest p-value the procedure rejects at FALSE_DISCOVERY
    (-1 when none): a theme is flagged when its adjusted value is at most the level."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    count = len(p_values)
    cutoff = max((p_values[i] for rank, i in enumerate(order, start=1)
                  if p_values[i] <= FALSE_DISCOVERY * rank / count), default=-1.0)
    adjusted, running = [1.0] * count, 1.0
    for rank in range(count, 0, -1):
        index = order[rank - 1]
        running = min(running, p_values[index] * count / rank)
        adjusted[index] = running
    return adjusted, cutoff


def movers(rows: Iterable[TrendRow], granularity: str = "week",
           project_id: str = ALL_PROJECTS) -> dict[str, list[str]]:
    """The themes rising (rising, new or spiking) and falling in the last complete period."""
    complete = [row for row in rows if row.granularity == granularity and row.complete
                and row.project_id == project_id]
    if not complete:
        return {"rising": [], "falling": []}
    latest = max(row.period_start for row in complete)
    latest_rows = [row for row in complete if row.period_start == latest]
    return {"rising": [row.theme_id for row in latest_rows if row.direction in UP],
            "falling": [row.theme_id for row in latest_rows if row.direction == "falling"]}


def percent(share: float) -> str:
    """A share as people read it: 12 %, 3.4 %, 0.8 %."""
    value = 100 * share
    return f"{value:.0f} %" if value >= 10 or value == 0 else f"{value:.1f} %"


def why(row: TrendRow) -> str:
    """The verdict's numbers in a sentence: "3.1 % → 12 % of feedback over 4 weeks (p = 0.002)"."""
    if row.share_from is None or row.share_to is None or row.weeks is None:
        return ""
    p_value = f" (p = {row.p_value:.2g})" if row.p_value is not None else ""
    if row.direction in ("spike", "new"):
        before = "none" if row.direction == "new" else percent(row.share_from)
        return (f"{before} of feedback in the {row.weeks - 1} week{'s' if row.weeks > 2 else ''} before → "
                f"{percent(row.share_to)} in the week of {row.period_start:%Y-%m-%d}"
                + ("" if row.complete else " (so far)") + p_value)
    return f"{percent(row.share_from)} → {percent(row.share_to)} of feedback over {row.weeks} weeks{p_value}"

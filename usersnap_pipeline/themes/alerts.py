"""Which themes to alert on, and the message: a theme rising this week or last (or new with enough
volume), told to a Slack-compatible incoming webhook with its numbers and two quotes linking to
Usersnap. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import NamedTuple

from .describe import Quote, shorten
from .trends import TrendRow, rise_kind

GRANULARITY = "week"  # one alert per theme and week at most
ALERT_QUOTES = 2
ALERT_QUOTE_LENGTH = 200


class Alert(NamedTuple):
    trend: TrendRow
    label: str
    quotes: Sequence[Quote]  # masked already

    @property
    def kind(self) -> str:
        return rise_kind(self.trend)


def rising_now(rows: Iterable[TrendRow]) -> list[TrendRow]:
    """The themes rising in the week under way or in the last complete one, the largest change first.
    A new theme with enough volume is rising from zero: the test that flags rising is its threshold."""
    weeks = [row for row in rows if row.granularity == GRANULARITY]
    if not weeks:
        return []
    recent = {max(row.period_start for row in weeks)}
    recent |= {max(row.period_start for row in weeks if row.complete)} if any(row.complete for row in weeks) else set()
    return sorted((row for row in weeks if row.period_start in recent and row.direction == "rising"),
                  key=lambda row: (-row.change, row.theme_id, row.period_start))


def _period(start: date, complete: bool) -> str:
    return f"the week of {start:%Y-%m-%d}" + ("" if complete else " (so far)")


def message(alert: Alert) -> dict:
    """A Slack-compatible incoming-webhook message (``text`` in Slack's mrkdwn; Mattermost, Rocket.Chat
    and Teams' Slack-compatible hooks read the same)."""
    trend = alert.trend
    headline = ("New theme" if alert.kind == "new" else "Rising theme") + f": *{_escape(alert.label)}*"
    figures = (f"{trend.data_points} data points in {_period(trend.period_start, trend.complete)}, "
               f"{trend.previous_data_points} the week before ({trend.change:+d}); "
               f"{trend.share:.0%} of all feedback in the period")
    if trend.sentiment is not None:
        figures += f"; sentiment {trend.sentiment:+.2f} ({trend.negative} negative, {trend.positive} positive)"
    lines = [headline, figures]
    for quote in alert.quotes[:ALERT_QUOTES]:
        link = f" <{quote.source_url}|open in Usersnap>" if quote.source_url else ""
        lines.append(f"> {_escape(shorten(quote.text, ALERT_QUOTE_LENGTH))}{link}")
    return {"text": "\n".join(lines)}


def _escape(text: str) -> str:
    # Slack's mrkdwn reads &, < and > as markup: a quote must not open a link or mention a channel.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

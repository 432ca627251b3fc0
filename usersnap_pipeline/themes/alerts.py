"""Which themes to alert on, and the message: a theme flagged rising, new or spiking this week or last
(overall or in one project), told to a Slack-compatible incoming webhook with the numbers behind the
verdict and two quotes linking to Usersnap. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import NamedTuple

from ..transform.links import safe_link
from .describe import Quote, shorten
from .trends import ALL_PROJECTS, UP, TrendRow, why

GRANULARITY = "week"  # one alert per theme and week at most
ALERT_QUOTES = 2
ALERT_QUOTE_LENGTH = 200


class Alert(NamedTuple):
    trend: TrendRow  # the verdict that raised it: all projects' when they flag it, else the first project's
    label: str
    quotes: Sequence[Quote]  # masked already
    projects: Sequence[TrendRow] = ()  # the verdicts of the projects where it rises too (project_id in each)

    @property
    def kind(self) -> str:
        return self.trend.direction


def rising_now(rows: Iterable[TrendRow]) -> list[TrendRow]:
    """The verdicts rising, new or spiking in the week under way or in the last complete one, all projects
    and each (the same verdicts theme_trends stored, the report shows and the check reports), the largest
    share first."""
    weeks = [row for row in rows if row.granularity == GRANULARITY]
    if not weeks:
        return []
    recent = {max(row.period_start for row in weeks)}
    recent |= {max(row.period_start for row in weeks if row.complete)} if any(row.complete for row in weeks) else set()
    return sorted((row for row in weeks if row.period_start in recent and row.direction in UP),
                  key=lambda row: (row.project_id != ALL_PROJECTS, -row.share, row.theme_id, row.project_id,
                                   row.period_start))


def alerts_due(rows: Iterable[TrendRow]) -> list[tuple[TrendRow, list[TrendRow]]]:
    """One (verdict, per-project verdicts) per theme and week rising now: all projects' verdict leads
    when it flags the theme, else the first project's."""
    grouped: dict[tuple[str, date], list[TrendRow]] = {}
    for row in rising_now(rows):
        grouped.setdefault((row.theme_id, row.period_start), []).append(row)
    return [(found[0], [row for row in found if row.project_id != ALL_PROJECTS]) for found in grouped.values()]


def _period(start: date, complete: bool) -> str:
    return f"the week of {start:%Y-%m-%d}" + ("" if complete else " (so far)")


HEADLINES = {"new": "New theme", "spike": "Spiking theme", "rising": "Rising theme"}


def message(alert: Alert, project_names: Mapping[str, str] | None = None) -> dict:
    """A Slack-compatible incoming-webhook message (``text`` in Slack's mrkdwn; Mattermost, Rocket.Chat
    and Teams' Slack-compatible hooks read the same). Only safe links (https) are made clickable."""
    trend, names = alert.trend, project_names or {}
    where = "" if trend.project_id == ALL_PROJECTS else f" in {_escape(names.get(trend.project_id, trend.project_id))}"
    lines = [f"{HEADLINES.get(alert.kind, 'Rising theme')}{where}: *{_escape(alert.label)}*",
             f"{why(trend)}; {trend.data_points} data points in {_period(trend.period_start, trend.complete)}, "
             f"{trend.previous_data_points} the week before"]
    if trend.sentiment is not None:
        lines[-1] += f"; sentiment {trend.sentiment:+.2f} ({trend.negative} negative, {trend.positive} positive)"
    for row in alert.projects:
        if row is not trend:
            lines.append(f"In {_escape(names.get(row.project_id, row.project_id))}: {why(row)}")
    for quote in alert.quotes[:ALERT_QUOTES]:
        # A safe link holds URL characters only (no | or >, which would end Slack's <url|text>); & is escaped.
        link = safe_link(quote.source_url)
        link = link and _escape(link)
        lines.append(f"> {_escape(shorten(quote.text, ALERT_QUOTE_LENGTH))}"
                     + (f" <{link}|open in Usersnap>" if link else ""))
    return {"text": "\n".join(lines)}


def _escape(text: str) -> str:
    # Slack's mrkdwn reads &, < and > as markup: a quote must not open a link or mention a channel.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

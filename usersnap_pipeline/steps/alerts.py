"""Rising-theme alerts over the warehouse: raise one per theme and week as the trends flag it, and
deliver those not delivered yet. Reads theme_trends, themes and data points; writes theme_alerts.

Once: an alert's row is keyed by (theme, week), so a re-run raises nothing new; a run claims a row
before sending it, so two runs at once do not both send it. A failed delivery stays pending and is
retried by the next run; one that crashed between sending and recording is sent again after
CLAIM_TIMEOUT (at least once, then, in that one case)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa

from ..themes.alerts import ALERT_QUOTES, GRANULARITY, Alert, alerts_due, message
from ..themes.clean import prose
from ..themes.describe import Quote, shorten
from ..themes.trends import ALL_PROJECTS, PERIODS, TrendRow
from ..transform.links import safe_link
from ..transform.redact import redact
from ..warehouse import Warehouse
from ..warehouse import schema as s
from ..warehouse.store import read_date, read_timestamp
from ..webhook import WebhookError
from .themes import FEEDBACK, read_themes, read_trends

CLAIM_TIMEOUT = timedelta(minutes=5)
# An alert not delivered within this long (no webhook then, or it was down) is not sent any more:
# news of a rise two weeks ago is not news.
MAX_AGE = timedelta(days=14)


@dataclass
class AlertsReport:
    rising: list[tuple[TrendRow, str]] = field(default_factory=list)  # (verdict, label): rising now, each scope
    raised: list[str] = field(default_factory=list)  # labels of the alerts raised by this run
    delivered: int = 0
    pending: int = 0  # raised, not delivered, still young enough to send
    failure: str | None = None  # why the last delivery failed (never the URL)
    alerts: int = 0  # rows of theme_alerts
    project_names: dict[str, str] = field(default_factory=dict)


def raise_alerts(warehouse: Warehouse, *, now: datetime) -> AlertsReport:
    """Record an alert for every theme flagged rising, new or spiking now (all projects, or one) that has
    none for that week yet: theme_trends' verdicts, as the report shows them."""
    labels = {theme.theme_id: theme.label for theme in read_themes(warehouse)}
    names = {row.project_id: row.name or row.project_id
             for row in warehouse.fetch(sa.select(s.projects.c.project_id, s.projects.c.name))}
    due = [(row, projects) for row, projects in alerts_due(read_trends(warehouse)) if row.theme_id in labels]
    ta = s.theme_alerts.c
    existing = {(row.theme_id, read_date(row.period_start))
                for row in warehouse.fetch(sa.select(ta.theme_id, ta.period_start).where(ta.granularity == GRANULARITY))}
    new = [Alert(row, labels[row.theme_id], _quotes(warehouse, row), projects) for row, projects in due
           if (row.theme_id, row.period_start) not in existing]
    warehouse.insert_missing(s.theme_alerts, [
        {"theme_id": alert.trend.theme_id, "granularity": GRANULARITY, "period_start": alert.trend.period_start,
         "kind": alert.kind, "label": alert.label, "data_points": alert.trend.data_points,
         "previous_data_points": alert.trend.previous_data_points,
         "message_json": json.dumps(message(alert, names), ensure_ascii=False), "raised_at": now, "attempts": 0}
        for alert in new])
    rising = [(verdict, labels[lead.theme_id]) for lead, projects in due
              for verdict in dict.fromkeys([lead, *projects])]
    return AlertsReport(rising=rising, raised=[alert.label for alert in new], project_names=names)


def _quotes(warehouse: Warehouse, trend: TrendRow) -> list[Quote]:
    """The theme's data points of that period (and project) closest to it, masked, no two alike."""
    dpt, dp = s.data_point_themes.c, s.data_points.c
    end = trend.period_start + timedelta(days=PERIODS[trend.granularity])
    scope = [] if trend.project_id == ALL_PROJECTS else [dp.project_id == trend.project_id]
    members = warehouse.fetch(
        sa.select(dp.feedback_id, dp.text, dp.source_url, dp.created_at)
        .select_from(s.data_point_themes.join(s.data_points, dp.feedback_id == dpt.feedback_id))
        .where(dpt.theme_id == trend.theme_id, dpt.rank == 1, FEEDBACK, *scope)
        .order_by(dpt.score.desc(), dp.feedback_id))
    quotes, seen = [], set()
    for row in members:
        if not trend.period_start <= read_timestamp(row.created_at).date() < end:
            continue
        text = shorten(redact(prose(row.text or "")))
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            quotes.append(Quote(row.feedback_id, text, safe_link(row.source_url)))
            if len(quotes) == ALERT_QUOTES:
                break
    return quotes


def deliver(warehouse: Warehouse, send: Callable[[dict], None] | None, report: AlertsReport, *,
            now: datetime) -> AlertsReport:
    """Send the pending alerts, oldest first, until one fails: the receiver is then likely down, and the
    rest wait for the next run with it. ``send`` None: no webhook is configured; nothing is sent."""
    ta = s.theme_alerts.c
    pending = warehouse.fetch(sa.select(s.theme_alerts).where(ta.delivered_at.is_(None))
                              .order_by(ta.raised_at, ta.theme_id, ta.period_start))
    pending = [row for row in pending if read_timestamp(row.raised_at) >= now - MAX_AGE]
    report.pending = len(pending)
    report.alerts = warehouse.fetch(sa.select(sa.func.count()).select_from(s.theme_alerts))[0][0]
    if send is None:
        return report
    for row in pending:
        key = sa.and_(ta.theme_id == row.theme_id, ta.granularity == row.granularity,
                      ta.period_start == row.period_start, ta.delivered_at.is_(None))
        claim = sa.or_(ta.claimed_at.is_(None), ta.claimed_at < now - CLAIM_TIMEOUT)
        if not warehouse.update(s.theme_alerts.update().where(key, claim).values(claimed_at=now)):
            continue  # another run is sending it
        try:
            send(json.loads(row.message_json))
        except WebhookError as exc:
            report.failure = str(exc)
            warehouse.update(s.theme_alerts.update().where(key).values(
                claimed_at=None, attempts=ta.attempts + 1, last_error=report.failure))
            break
        warehouse.update(s.theme_alerts.update().where(key).values(
            delivered_at=now, claimed_at=None, attempts=ta.attempts + 1, last_error=None))
        report.delivered += 1
        report.pending -= 1
    return report

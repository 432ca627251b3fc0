"""Themes and trends in the Dagster UI: embeddings and sentiment (incremental), discovery, incremental
assignment, trends, the report with its chart and CSV, and alerts on rising themes. Discovery is deliberate (weekly, or by hand); the hourly run only
embeds what is new, assigns and recounts, so theme ids stay stable between runs.

The steps (sentence-transformers, scikit-learn, matplotlib) are imported inside the assets: an import
run, a sensor tick and the code location's load never pay for them."""

import base64
from functools import partial
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
from pydantic import Field

from ..themes import MIN_DATA_POINTS
from ..themes.trends import ALL_PROJECTS, movers, why
from ..warehouse.queries import has_theme_model
from ..warehouse import schema
from .metadata import preview_table, table_metadata
from .naming import AccountNames
from .resources import AlertWebhookResource, ThemeEncoderResource, WarehouseResource

THEMES_JOB = "usersnap_themes"
THEME_ASSETS = ("data_point_embeddings", "data_point_sentiment", "themes", "data_point_themes", "theme_trends",
                "theme_report", "theme_alerts")
ASSIGNMENT_ASSETS = tuple(name for name in THEME_ASSETS if name != "themes")
RISING_CHECK = "no_rising_themes"
TOP_THEMES = 10


class DiscoveryConfig(dg.Config):
    min_data_points: int = Field(default=MIN_DATA_POINTS, description="fewer data points with text: no themes")
    seed: int = Field(default=0, description="fixes the sample and the clustering: same data, same themes")


def _top_themes_table(themes: list) -> dg.MetadataValue:
    rows = [{"theme": t.label, "data points": t.data_points, "keywords": ", ".join(t.keywords[:5]),
             "theme_id": t.theme_id} for t in themes[:TOP_THEMES]]
    return preview_table(rows, ("theme", "data points", "keywords", "theme_id"))


def build_theme_assets(report_dir: Path, names: AccountNames, *, encoder: ThemeEncoderResource,
                       warehouse: WarehouseResource, webhook: AlertWebhookResource):
    common = {"group_name": names.themes_group, "tags": names.tags}

    @dg.asset(key=names.asset("data_point_embeddings"), deps=[names.asset("data_points")], **common,
              metadata=table_metadata(schema.data_point_embeddings), kinds={"python", "pytorch", "sql"},
              description="Each data point's text, greetings, sign-offs and noise removed, as a sentence embedding "
                          "(cached: only new or edited texts are embedded).")
    def data_point_embeddings(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from ..steps import themes as steps

        with warehouse.open() as store:
            report = steps.embed(store, encoder.encoder())
        return dg.MaterializeResult(metadata={
            "dagster/row_count": report.data_points,
            "encoder": report.encoder,
            "embedded_now": report.embedded,
            "boilerplate_learned": report.boilerplate,
            "too_unclear_to_embed": report.unclear,
            "removed_now": report.removed,
        })

    @dg.asset(key=names.asset("data_point_sentiment"), deps=[data_point_embeddings], **common,
              metadata=table_metadata(schema.data_point_sentiment), kinds={"python", "sql"},
              description="Each data point's sentiment: negative, neutral or positive with a score from -1 to 1, read "
                          "from its text's embedding and its rating; only new, edited or re-rated data points are "
                          "scored again.")
    def data_point_sentiment(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from ..steps import sentiment as steps
        from ..steps.themes import encoder_key as key_of
        from ..themes.sentiment import SentimentModel

        text_encoder = encoder.encoder()
        with warehouse.open() as store:
            report = steps.score(store, SentimentModel.shipped(), encoder_key=key_of(text_encoder),
                                 encoder_model=text_encoder.model)
        if report.text_unread:
            context.log.warning(f"Sentiment reads no text: {report.text_unread}.")
        return dg.MaterializeResult(metadata={
            "dagster/row_count": report.data_points - report.waiting,
            "scored_now": report.scored,
            "removed_now": report.removed,
            "waiting_for_an_embedding": report.waiting,
            "model_version": report.model_version,
            "data_points_per_sentiment": dg.MetadataValue.json(report.per_label or {}),
            **({"text_unread": report.text_unread} if report.text_unread else {}),
        })

    @dg.asset(key=names.asset("themes"), deps=[data_point_embeddings], **common,
              metadata=table_metadata(schema.themes), kinds={"python", "scikitlearn", "sql"},
              description="Discover the themes of all data points (demo items excluded): label, keyphrases, "
                          "summary with quotes linking to Usersnap, size, first and last seen "
                          "(tables themes and theme_model).")
    def themes(context: dg.AssetExecutionContext, config: DiscoveryConfig) -> dg.MaterializeResult:
        from ..steps import themes as steps

        with warehouse.open() as store:
            found = steps.discover(store, encoder.encoder(), now=datetime.now(timezone.utc), seed=config.seed,
                                   min_data_points=config.min_data_points)
            current = steps.read_themes(store)
        if found.model is None:
            status = f"Not enough feedback for themes: {found.not_enough}."
            status += f" Kept the {len(current)} themes found before." if current else ""
            context.log.warning(status)
            return dg.MaterializeResult(metadata={"status": status, "data_points": found.data_points,
                                                  "dagster/row_count": len(current)})
        return dg.MaterializeResult(metadata={
            "status": f"{len(found.model.themes)} themes in {found.data_points} data points",
            "dagster/row_count": len(found.model.themes),
            "data_points": found.data_points,
            "other_unclear": found.other,
            "model_version": found.model.version,
            "encoder": found.model.encoder,
            "silhouette_per_theme_count": dg.MetadataValue.json({str(k): v for k, v in found.scores.items()}),
            "top_themes": _top_themes_table(current),
        })

    @dg.asset(key=names.asset("data_point_themes"), deps=[themes, data_point_embeddings], **common,
              metadata=table_metadata(schema.data_point_themes), kinds={"python", "sql"},
              description="Each data point's theme(s) with a score; only new, edited or re-discovered data points "
                          "are (re)assigned (tables data_point_themes and theme_assignment_state).")
    def data_point_themes(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from ..steps import themes as steps

        with warehouse.open() as store:
            report = steps.assign(store, now=datetime.now(timezone.utc))
        if report.model_version is None:
            status = "No themes yet: materialize `themes` (it needs enough feedback)."
            context.log.warning(status)
            return dg.MaterializeResult(metadata={"status": status, "dagster/row_count": 0})
        return dg.MaterializeResult(metadata={
            "dagster/row_count": report.rows,
            "assigned_now": report.assigned,
            "removed_now": report.removed,
            "data_points": report.data_points,
            "data_points_with_a_theme": report.themed,
            "other_unclear": report.data_points - report.themed,
            "waiting_for_an_embedding": report.waiting,
            "model_version": report.model_version,
            "data_points_per_theme": dg.MetadataValue.json(report.per_theme),
        })

    @dg.asset(key=names.asset("theme_trends"), deps=[data_point_themes, data_point_sentiment], **common,
              kinds={"python", "sql"}, metadata=table_metadata(schema.theme_trends),
              description="Data points per theme per day and week, share of feedback, change vs the previous "
                          "period, rising and falling themes, and each period's sentiment.")
    def theme_trends(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from ..steps import themes as steps

        with warehouse.open() as store:
            rows = steps.build_trends(store, as_of=datetime.now(timezone.utc).date())
            labels = {theme.theme_id: theme.label for theme in steps.read_themes(store)}
        moving = {kind: [labels.get(t, t) for t in ids] for kind, ids in movers(rows).items()}
        return dg.MaterializeResult(metadata={
            "dagster/row_count": len(rows),
            "rising_last_week": dg.MetadataValue.json(moving["rising"]),
            "falling_last_week": dg.MetadataValue.json(moving["falling"]),
            "projects": len({row.project_id for row in rows} - {ALL_PROJECTS}),
        })

    @dg.asset(key=names.asset("theme_report"), deps=[theme_trends], **common, kinds={"python", "html"},
              description="The themes report, themes.html with the trends chart theme_trends.png: all projects, then "
                          "each project, every theme with its size, sentiment and trend, rising themes first; and "
                          "data_points.csv, every data point with its theme and sentiment, for other tools. Written "
                          "to the account's report folder (attribute report_dir).")
    def theme_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from ..steps import themes as steps

        with warehouse.open() as store:
            report = steps.write_report(store, report_dir, now=datetime.now(timezone.utc))
        chart = base64.b64encode(report.chart_png).decode()
        return dg.MaterializeResult(metadata={
            "trends_chart": dg.MetadataValue.md(f"![Weekly share of feedback per theme](data:image/png;base64,{chart})"),
            "top_themes": _top_themes_table(report.themes),
            "report": dg.MetadataValue.path(str(report.html_path.resolve())),
            "data_points_csv": dg.MetadataValue.path(str(report.csv_path.resolve())),
            "projects": len(report.scopes) - 1,
            # links to Usersnap that were not https (http on loopback): shown as text, never as a link
            "links_dropped": report.links_dropped,
        })

    alerts_key = names.asset("theme_alerts")

    @dg.asset(key=alerts_key, deps=[theme_trends], **common, kinds={"python", "sql", "slack"},
              metadata=table_metadata(schema.theme_alerts),
              check_specs=[dg.AssetCheckSpec(RISING_CHECK, asset=alerts_key, description=(
                  "Warns while a theme is rising, new or spiking (this week so far, or last week; all projects or "
                  "one), with the numbers behind the verdict."))],
              description="An alert for each theme rising this week or last (or new with enough volume), at most one "
                          "per theme and week, sent to the Slack-compatible incoming webhook in "
                          "USERSNAP_ALERT_WEBHOOK_URL when it is set: label, counts, change, two masked quotes "
                          "linking to Usersnap. A failed delivery is retried by the next run; it never fails the run.")
    def theme_alerts(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from ..steps import alerts as steps
        from ..webhook import post_message

        url = webhook.url()
        now = datetime.now(timezone.utc)
        with warehouse.open() as store:
            report = steps.raise_alerts(store, now=now)
            report = steps.deliver(store, None if url is None else partial(post_message, url), report, now=now)
        if report.failure:
            context.log.warning(f"{report.pending} alert(s) not delivered yet, retried by the next run: {report.failure}")
        rising = [{"theme": label, "kind": row.direction,
                   "project": report.project_names.get(row.project_id, row.project_id) or "all projects",
                   "why": why(row), "week": row.period_start.isoformat() + ("" if row.complete else " (so far)"),
                   "data points": row.data_points, "previous week": row.previous_data_points, "change": row.change,
                   "share": f"{row.share:.1%}", "sentiment": "" if row.sentiment is None else f"{row.sentiment:+.2f}"}
                  for row, label in report.rising]
        table = preview_table(rising, ("theme", "kind", "project", "why", "week", "data points", "previous week",
                                       "change", "share", "sentiment"))
        delivery = {"raised_now": len(report.raised), "delivered_now": report.delivered,
                    "pending_delivery": report.pending,
                    "webhook": "configured" if url else "not configured (USERSNAP_ALERT_WEBHOOK_URL)"}
        check = dg.AssetCheckResult(
            check_name=RISING_CHECK, passed=not rising, severity=dg.AssetCheckSeverity.WARN,
            description=("Rising: " + "; ".join(f"{r['theme']} ({r['kind']}, {r['project']}): {r['why']}"
                                                for r in rising)) if rising else "No theme is rising.",
            metadata={"rising_themes": table, **delivery})
        return dg.MaterializeResult(
            metadata={"dagster/row_count": report.alerts, "rising_themes": table, **delivery,
                      **({"last_failure": report.failure} if report.failure else {})},
            check_results=[check])

    return [data_point_embeddings, data_point_sentiment, themes, data_point_themes, theme_trends, theme_report,
            theme_alerts]


def build_theme_schedules(job, names: AccountNames, *, warehouse: WarehouseResource, assign_cron: str,
                          assign_status: str, discovery_cron: str, discovery_status: str) -> list[dg.ScheduleDefinition]:
    @dg.schedule(name=names("usersnap_hourly_themes"), cron_schedule=assign_cron, execution_timezone="UTC", job=job,
                 default_status=dg.DefaultScheduleStatus(assign_status.upper()),
                 description="Assign new and edited data points to the existing themes and recount the trends; "
                             "discovers themes first if there are none yet.")
    def hourly_themes(context: dg.ScheduleEvaluationContext):
        with warehouse.open() as store:
            has_model = has_theme_model(store)
        selection = ASSIGNMENT_ASSETS if has_model else THEME_ASSETS
        return dg.RunRequest(asset_selection=[names.asset(name) for name in selection])

    @dg.schedule(name=names("usersnap_weekly_theme_discovery"), cron_schedule=discovery_cron, execution_timezone="UTC",
                 job=job, default_status=dg.DefaultScheduleStatus(discovery_status.upper()),
                 description="Re-discover the themes once a week (matching themes keep their ids), then reassign.")
    def weekly_discovery(context: dg.ScheduleEvaluationContext):
        return dg.RunRequest()

    return [hourly_themes, weekly_discovery]

"""Themes and trends in the Dagster UI: embeddings (incremental), discovery, incremental assignment,
trends, and the report with its chart. Discovery is deliberate (weekly, or by hand); the hourly run only
embeds what is new, assigns and recounts, so theme ids stay stable between runs.

The steps (sentence-transformers, scikit-learn, matplotlib) are imported inside the assets: an import
run, a sensor tick and the code location's load never pay for them."""

import base64
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
from pydantic import Field

from ..themes import MIN_DATA_POINTS
from ..themes.trends import movers
from ..warehouse.queries import has_theme_model
from ..warehouse import schema
from .metadata import preview_table, table_metadata
from .naming import AccountNames
from .resources import ThemeEncoderResource, WarehouseResource

THEMES_JOB = "usersnap_themes"
THEME_ASSETS = ("data_point_embeddings", "themes", "data_point_themes", "theme_trends", "theme_report")
ASSIGNMENT_ASSETS = ("data_point_embeddings", "data_point_themes", "theme_trends", "theme_report")
TOP_THEMES = 10


class DiscoveryConfig(dg.Config):
    min_data_points: int = Field(default=MIN_DATA_POINTS, description="fewer data points with text: no themes")
    seed: int = Field(default=0, description="fixes the sample and the clustering: same data, same themes")


def _top_themes_table(themes: list) -> dg.MetadataValue:
    rows = [{"theme": t.label, "data points": t.data_points, "keywords": ", ".join(t.keywords[:5]),
             "theme_id": t.theme_id} for t in themes[:TOP_THEMES]]
    return preview_table(rows, ("theme", "data points", "keywords", "theme_id"))


def build_theme_assets(report_dir: Path, names: AccountNames):
    encoder_key, warehouse_key = names.encoder_key, names.warehouse_key
    common = {"group_name": names.themes_group, "tags": names.tags}

    def warehouse_of(context) -> WarehouseResource:
        return getattr(context.resources, warehouse_key)

    def encoder_of(context):
        resource: ThemeEncoderResource = getattr(context.resources, encoder_key)
        return resource.encoder()

    @dg.asset(key=names.asset("data_point_embeddings"), deps=[names.asset("data_points")], **common,
              metadata=table_metadata(schema.data_point_embeddings), kinds={"python", "pytorch", "sql"},
              required_resource_keys={encoder_key, warehouse_key},
              description="Each data point's text, greetings, sign-offs and noise removed, as a sentence embedding "
                          "(cached: only new or edited texts are embedded).")
    def data_point_embeddings(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from ..steps import themes as steps

        with warehouse_of(context).open() as store:
            report = steps.embed(store, encoder_of(context))
        return dg.MaterializeResult(metadata={
            "dagster/row_count": report.data_points,
            "encoder": report.encoder,
            "embedded_now": report.embedded,
            "too_unclear_to_embed": report.unclear,
            "removed_now": report.removed,
        })

    @dg.asset(key=names.asset("themes"), deps=[data_point_embeddings], **common,
              metadata=table_metadata(schema.themes), kinds={"python", "scikitlearn", "sql"},
              required_resource_keys={encoder_key, warehouse_key},
              description="Discover the themes of all data points (demo items excluded): label, keyphrases, "
                          "summary with quotes linking to Usersnap, size, first and last seen "
                          "(tables themes and theme_model).")
    def themes(context: dg.AssetExecutionContext, config: DiscoveryConfig) -> dg.MaterializeResult:
        from ..steps import themes as steps

        with warehouse_of(context).open() as store:
            found = steps.discover(store, encoder_of(context), now=datetime.now(timezone.utc), seed=config.seed,
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
              required_resource_keys={warehouse_key},
              description="Each data point's theme(s) with a score; only new, edited or re-discovered data points "
                          "are (re)assigned (tables data_point_themes and theme_assignment_state).")
    def data_point_themes(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from ..steps import themes as steps

        with warehouse_of(context).open() as store:
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

    @dg.asset(key=names.asset("theme_trends"), deps=[data_point_themes], **common, kinds={"python", "sql"},
              metadata=table_metadata(schema.theme_trends), required_resource_keys={warehouse_key},
              description="Data points per theme per day and week, share of feedback, change vs the previous "
                          "period, rising and falling themes.")
    def theme_trends(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from ..steps import themes as steps

        with warehouse_of(context).open() as store:
            rows = steps.build_trends(store, as_of=datetime.now(timezone.utc).date())
            labels = {theme.theme_id: theme.label for theme in steps.read_themes(store)}
        moving = {kind: [labels.get(t, t) for t in ids] for kind, ids in movers(rows).items()}
        return dg.MaterializeResult(metadata={
            "dagster/row_count": len(rows),
            "rising_last_week": dg.MetadataValue.json(moving["rising"]),
            "falling_last_week": dg.MetadataValue.json(moving["falling"]),
        })

    @dg.asset(key=names.asset("theme_report"), deps=[theme_trends], **common, kinds={"python", "html"},
              required_resource_keys={warehouse_key},
              description="The themes report, themes.html with the trends chart theme_trends.png, written to the "
                          "report folder (report_dir, USERSNAP_REPORT_DIR).")
    def theme_report(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        from ..steps import themes as steps

        with warehouse_of(context).open() as store:
            report = steps.write_report(store, report_dir, now=datetime.now(timezone.utc))
        chart = base64.b64encode(report.chart_png).decode()
        return dg.MaterializeResult(metadata={
            "trends_chart": dg.MetadataValue.md(f"![Weekly share of feedback per theme](data:image/png;base64,{chart})"),
            "top_themes": _top_themes_table(report.themes),
            "report": dg.MetadataValue.path(str(report.html_path.resolve())),
        })

    return [data_point_embeddings, themes, data_point_themes, theme_trends, theme_report]


def build_theme_schedules(job, names: AccountNames, *, assign_cron: str,
                          discovery_cron: str) -> list[dg.ScheduleDefinition]:
    warehouse_key = names.warehouse_key

    @dg.schedule(name=names("usersnap_hourly_themes"), cron_schedule=assign_cron, execution_timezone="UTC", job=job,
                 default_status=dg.DefaultScheduleStatus.RUNNING, required_resource_keys={warehouse_key},
                 description="Assign new and edited data points to the existing themes and recount the trends; "
                             "discovers themes first if there are none yet.")
    def hourly_themes(context: dg.ScheduleEvaluationContext):
        warehouse: WarehouseResource = getattr(context.resources, warehouse_key)
        with warehouse.open() as store:
            has_model = has_theme_model(store)
        selection = ASSIGNMENT_ASSETS if has_model else THEME_ASSETS
        return dg.RunRequest(asset_selection=[names.asset(name) for name in selection])

    @dg.schedule(name=names("usersnap_weekly_theme_discovery"), cron_schedule=discovery_cron, execution_timezone="UTC",
                 job=job, default_status=dg.DefaultScheduleStatus.RUNNING,
                 description="Re-discover the themes once a week (matching themes keep their ids), then reassign.")
    def weekly_discovery(context: dg.ScheduleEvaluationContext):
        return dg.RunRequest()

    return [hourly_themes, weekly_discovery]

"""The Usersnap import as a Dagster component: one instance per Usersnap account, in a ``defs.yaml``.

    type: usersnap_pipeline.components.UsersnapFeedbackComponent
    attributes:
      import_history_start: "2026-05-01"
      projects: [3f6c0c1e-...]
      jwt_id_env: EU_USERSNAP_JWT_ID            # names of environment variables, never their values
      jwt_secret_env: EU_USERSNAP_JWT_SECRET
      warehouse_url_env: USERSNAP_WAREHOUSE_URL
      translation: {key_prefix: eu}

The class is the configuration: its fields are the attributes, with their types, defaults and
descriptions (``dg check yaml`` validates ``defs.yaml`` against them, the README's table is checked
against them). Each instance brings its account's assets, checks, jobs, schedules and sensor, all named
after its key prefix (orchestration/naming.py), its own tables in the warehouse and its own report folder.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from ..orchestration.assignees import ASSIGNEES_JOB, build_assignees_asset, build_assignees_schedule
from ..orchestration.checks import build_data_point_checks
from ..orchestration.import_feedback import IMPORT_JOB, build_import_assets
from ..orchestration.naming import AccountNames
from ..orchestration.partitions import daily_partitions
from ..orchestration.resources import AlertWebhookResource, ThemeEncoderResource, UsersnapResource, WarehouseResource
from ..orchestration.schedules import (build_id_reconciliation_schedule, build_reconciliation_schedule,
                                       build_recent_import_schedule)
from ..orchestration.sensors import build_change_sensor
from ..orchestration.themes import THEMES_JOB, build_theme_assets, build_theme_schedules
from ..themes.encoder import DEFAULT_MODEL as DEFAULT_THEMES_MODEL
from ..usersnap import DEFAULT_API_URL
from .attributes import (KEY_PREFIX, TEMPLATE_SCHEMA, ApiUrl, AutomationStatus, Cron, FirstDay, Flag, PositiveInt,
                         ProjectIds, VariableName, WarehouseUrl)

THEMES_PACKAGE = "sentence_transformers"  # installed by the `themes` extra


class InvalidAttributes(ValueError):
    """An attribute of a ``defs.yaml`` is missing or malformed: one line per attribute, with its file and line."""


class UsersnapTranslation(dg.Model):
    """How this account's definitions are named and grouped in the code location."""

    key_prefix: str = Field(default="", pattern=KEY_PREFIX, description=(
        "Goes in front of every asset key (eu/data_points) and name (eu_usersnap_import); the account's namespace "
        "in the warehouse (a PostgreSQL schema or a SQLite file) and its folder under report_dir. Lowercase "
        "letters, digits and underscores. Empty: the plain names, for a single account."))
    group: str | None = Field(default=None, description=(
        "The import assets' group (default usersnap); projects and assignees go to <group>_projects, themes "
        "to <group>_themes (default usersnap_projects and themes)."))
    tags: dict[str, str] = Field(default_factory=dict, description="Added to every asset and job of the account.")


class UsersnapFeedbackScaffolder(dg.Scaffolder):
    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        dg.scaffold_component(request, {
            "import_history_start": "2026-05-01",
            "projects": [],
            "jwt_id_env": "USERSNAP_JWT_ID",
            "jwt_secret_env": "USERSNAP_JWT_SECRET",
            "warehouse_url_env": "USERSNAP_WAREHOUSE_URL",
            "translation": {"key_prefix": request.target_path.name.lower().replace("-", "_")},
        })
        # Declares the variables the instance reads, so `dg check` and deployments know them.
        with open(request.target_path / "defs.yaml", "a", encoding="utf-8") as f:
            f.write("requirements:\n  env: [USERSNAP_JWT_ID, USERSNAP_JWT_SECRET, USERSNAP_WAREHOUSE_URL]\n")


def _described(default: Any, description: str, **kwargs) -> Any:
    return Field(default=default, description=description, **kwargs)


@dg.scaffold_with(UsersnapFeedbackScaffolder)
class UsersnapFeedbackComponent(dg.Component, dg.Resolvable, dg.Model):
    """Import one Usersnap account's feedback: raw items, data points and metadata tables, partitioned by
    day from ``import_history_start``; projects and assignees; a change sensor, hourly and daily schedules,
    completeness checks, and (unless ``themes: false``) themes, sentiment, trends, alerts and the report.

    Secrets are given as environment-variable names (``jwt_id_env``, ``jwt_secret_env``,
    ``warehouse_url_env``, ``alert_webhook_url_env``), read at run time. Unset credentials mean the account
    is disconnected: its sensor and schedules skip, and everything imported stays.
    """

    import_history_start: FirstDay = Field(description=(
        "Required. The first day to import (the first daily partition, UTC), a fixed date such as 2026-05-01: "
        "today minus 7, 30 or 90 days, or 6 months. Set an earlier day later to import more history."))
    projects: ProjectIds = _described((), (
        "Project ids to import: a list, or one comma-separated string (as a template renders it). Empty: every "
        "project the key can see, re-read hourly. An id the key cannot see fails the run, naming it."))
    api_url: ApiUrl = _described(DEFAULT_API_URL, "Base URL of Usersnap's REST API v0.1; https, or http on loopback "
                                                   "(the emulator).")
    jwt_id_env: VariableName = _described("USERSNAP_JWT_ID", (
        "Name of the environment variable holding the JWT ID (Usersnap -> Settings -> REST API), read at run time."))
    jwt_secret_env: VariableName = _described("USERSNAP_JWT_SECRET", (
        "Name of the environment variable holding the JWT secret, read at run time; unset: the account is "
        "disconnected."))
    warehouse_url: WarehouseUrl = _described("sqlite:///data/warehouse.sqlite", (
        "SQLAlchemy URL of the warehouse, sqlite:///path or postgresql://user@host/db, without a password "
        "(one with a password goes in the variable named by warehouse_url_env)."))
    warehouse_retry_seconds: PositiveInt = _described(120, (
        "How long a lost or refused warehouse connection is tried again (a restart or a failover) before a run "
        "fails; nothing is lost either way."))
    warehouse_statement_seconds: PositiveInt = _described(300, (
        "How long one statement, COPY or commit may take on PostgreSQL: past it the server cancels the statement, "
        "and a server that does not answer at all has its connection cut a little later; either way the "
        "transaction is retried within warehouse_retry_seconds, so a database that hangs ends a run instead of "
        "holding it forever."))
    warehouse_url_env: VariableName | None = _described(None, (
        "Name of the environment variable holding the warehouse URL (it may hold a password), read at run time; "
        "when that variable is set it wins over warehouse_url."))
    alert_webhook_url_env: VariableName = _described("USERSNAP_ALERT_WEBHOOK_URL", (
        "Name of the environment variable holding a Slack-compatible incoming webhook for rising-theme alerts, "
        "https (http only on loopback), redirects not followed; unset: alerts are recorded and shown by a check, "
        "not sent."))
    fetch_concurrency: PositiveInt = _described(4, (
        "(project, day) windows fetched at once in a run; 16 to 32 for a far-away API (each holds a database "
        "connection)."))
    sensor_interval_seconds: PositiveInt = _described(15, (
        "How often the change sensor looks for new and edited feedback; an idle tick costs one request per project."))
    sensor: AutomationStatus = _described("running", "The change sensor's status when deployed: running or stopped.")
    import_schedule_cron: Cron = _described("5 * * * *", "When the hourly schedule re-imports today and yesterday "
                                                         "(cron, UTC).")
    import_schedule: AutomationStatus = _described("running", "That schedule's status when deployed.")
    reconciliation_cron: Cron = _described("40 2 * * *", (
        "When the reconciliation sweep compares Usersnap's counts with the warehouse over the whole window and "
        "re-imports the days that differ (cron, UTC)."))
    reconciliation_schedule: AutomationStatus = _described("running", "That schedule's status when deployed.")
    id_reconciliation_cron: Cron = _described("10 4 * * 0", (
        "When the weekly id reconciliation lists every id of the whole window and re-imports the days whose items "
        "differ, which counts cannot see (cron, UTC; Sundays by default)."))
    id_reconciliation_schedule: AutomationStatus = _described("running", "That schedule's status when deployed.")
    assignees_cron: Cron = _described("15 3 * * *", "When projects and assignees are refreshed (cron, UTC).")
    assignees_schedule: AutomationStatus = _described("running", "That schedule's status when deployed.")
    themes: Flag = _described(True, (
        "Themes, sentiment, trends, alerts and the report (needs the themes extra: "
        "pip install 'usersnap-pipeline[themes]'); false: the import only."))
    themes_model: str = _described(DEFAULT_THEMES_MODEL, (
        "The model texts are read with: the default, all-MiniLM-L6-v2 beside the multilingual Universal Sentence "
        "Encoder, ships in packages (no download); all-MiniLM-L6-v2 alone, or any sentence-transformers model: a hub "
        "name needs internet access once, a local folder works offline."))
    themes_cron: Cron = _described("20 * * * *", "When new data points are assigned to themes and trends recounted "
                                                 "(cron, UTC).")
    themes_schedule: AutomationStatus = _described("running", "That schedule's status when deployed.")
    theme_discovery_cron: Cron = _described("0 5 * * 1", "When themes are discovered again (cron, UTC).")
    theme_discovery_schedule: AutomationStatus = _described("running", "That schedule's status when deployed.")
    report_dir: Path = _described(Path("data/reports"), (
        "Folder of the themes report (themes.html, theme_trends.png, data_points.csv); an account with a "
        "key_prefix writes to its own subfolder, <report_dir>/<key_prefix>."))
    translation: UsersnapTranslation = Field(default_factory=UsersnapTranslation, description=(
        "Names: key_prefix, group, tags (below)."))

    # -- reading defs.yaml -------------------------------------------------------------------------

    @classmethod
    def model(cls) -> type[BaseModel]:
        """What ``defs.yaml`` holds before its templates are rendered: any attribute may be a template,
        and the JSON schema says which literal values each one takes (``dg check yaml`` reads it)."""
        return _attributes_model(cls)

    @classmethod
    def resolve_from_model(cls, context: dg.ResolutionContext, model: BaseModel) -> UsersnapFeedbackComponent:
        """Render the templates, then check every value; a template that renders nothing (an unset
        variable) leaves the attribute at its default."""
        values, rendered_nothing = {}, {}
        for name, raw in model.model_dump(exclude_unset=True).items():
            value = context.at_path(name).resolve_value(raw)
            if value is None or value == "":
                rendered_nothing[name] = raw
            else:
                values[name] = value
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise InvalidAttributes(_located(exc, context, rendered_nothing)) from None

    # -- building the definitions ------------------------------------------------------------------

    def names(self) -> AccountNames:
        group = self.translation.group
        return AccountNames(key_prefix=self.translation.key_prefix, import_group=group or "usersnap",
                            projects_group=f"{group or 'usersnap'}_projects",
                            themes_group=f"{group}_themes" if group else "themes", tags=dict(self.translation.tags))

    @property
    def report_folder(self) -> Path:
        """This account's report folder: two accounts never write one report."""
        prefix = self.translation.key_prefix
        return self.report_dir / prefix if prefix else self.report_dir

    def warehouse(self) -> WarehouseResource:
        from_env = dg.EnvVar(self.warehouse_url_env).get_value() if self.warehouse_url_env else None
        if from_env and not WarehouseResource.accepts(from_env):
            raise InvalidAttributes(f"{self.warehouse_url_env} (named by warehouse_url_env) must hold a SQLAlchemy URL "
                                    "starting with sqlite:// or postgresql:// (the value is not shown)")
        return WarehouseResource(url=self.warehouse_url, url_env=self.warehouse_url_env,
                                 namespace=self.translation.key_prefix, retry_seconds=self.warehouse_retry_seconds,
                                 statement_seconds=self.warehouse_statement_seconds)

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        names, projects = self.names(), self.projects
        if self.themes and importlib.util.find_spec(THEMES_PACKAGE) is None:
            raise InvalidAttributes(f"{_where(context)}: themes is true but the themes extra is not installed: "
                                    "pip install 'usersnap-pipeline[themes]', or set themes: false")
        usersnap = UsersnapResource(api_url=self.api_url, jwt_id_env=self.jwt_id_env,
                                    jwt_secret_env=self.jwt_secret_env, concurrency=self.fetch_concurrency)
        warehouse = self.warehouse()
        partitions_def = daily_partitions(self.import_history_start)
        import_assets = build_import_assets(partitions_def, projects, names, usersnap=usersnap, warehouse=warehouse)
        assignees = build_assignees_asset(projects, names, usersnap=usersnap, warehouse=warehouse)
        # The import job refreshes projects and assignees too, so the first import has the projects' names.
        # Steps run in the run's process: the import is I/O-bound and its steps run one after the other.
        import_job = dg.define_asset_job(names(IMPORT_JOB), selection=[import_assets, assignees], tags=names.tags,
                                         executor_def=dg.in_process_executor,
                                         description="Import Usersnap feedback: raw items, the data point tables, "
                                                     "projects and assignees.")
        assignees_job = dg.define_asset_job(names(ASSIGNEES_JOB), selection=[assignees], tags=names.tags,
                                            executor_def=dg.in_process_executor,
                                            description="Refresh the projects and assignees tables.")
        defs = dg.Definitions(
            assets=[import_assets, assignees],
            asset_checks=build_data_point_checks(partitions_def, projects=projects, names=names, usersnap=usersnap,
                                                 warehouse=warehouse),
            jobs=[import_job, assignees_job],
            schedules=[
                build_recent_import_schedule(import_job, partitions_def, names, cron=self.import_schedule_cron,
                                             status=self.import_schedule, usersnap=usersnap),
                build_reconciliation_schedule(import_job, partitions_def, projects, names, cron=self.reconciliation_cron,
                                              status=self.reconciliation_schedule, usersnap=usersnap,
                                              warehouse=warehouse),
                build_id_reconciliation_schedule(import_job, partitions_def, names, cron=self.id_reconciliation_cron,
                                                 status=self.id_reconciliation_schedule, usersnap=usersnap),
                build_assignees_schedule(assignees_job, names, cron=self.assignees_cron, status=self.assignees_schedule,
                                         usersnap=usersnap)],
            sensors=[build_change_sensor(import_job, partitions_def, projects=projects, names=names,
                                         interval_seconds=self.sensor_interval_seconds, status=self.sensor,
                                         usersnap=usersnap, warehouse=warehouse)],
        )
        return dg.Definitions.merge(defs, self._themes(names, warehouse)) if self.themes else defs

    def _themes(self, names: AccountNames, warehouse: WarehouseResource) -> dg.Definitions:
        theme_assets = build_theme_assets(self.report_folder, names, encoder=ThemeEncoderResource(model=self.themes_model),
                                          warehouse=warehouse,
                                          webhook=AlertWebhookResource(url_env=self.alert_webhook_url_env))
        themes_job = dg.define_asset_job(names(THEMES_JOB), selection=theme_assets, tags=names.tags,
                                         executor_def=dg.in_process_executor,
                                         description="Themes and trends: discovery, assignment, trends and the report.")
        return dg.Definitions(assets=theme_assets, jobs=[themes_job], schedules=build_theme_schedules(
            themes_job, names, warehouse=warehouse, assign_cron=self.themes_cron, assign_status=self.themes_schedule,
            discovery_cron=self.theme_discovery_cron, discovery_status=self.theme_discovery_schedule))


@functools.cache
def _attributes_model(component: type[UsersnapFeedbackComponent]) -> type[BaseModel]:
    class Attributes(BaseModel):
        model_config = ConfigDict(extra="forbid")

        @classmethod
        def model_json_schema(cls, *args, **kwargs) -> dict[str, Any]:
            return _yaml_schema(component)

    # Required attributes are required by the schema; here a missing one is reported with the others.
    fields = {name: (Any, None) for name in component.model_fields}
    return create_model(f"{component.__name__}Attributes", __base__=Attributes, **fields)


def _yaml_schema(component: type[UsersnapFeedbackComponent]) -> dict:
    """The component's own JSON schema, every attribute also taking a template."""
    schema = component.model_json_schema()
    for owner in [schema, *schema.get("$defs", {}).values()]:
        for name, prop in owner.get("properties", {}).items():
            if prop.get("type") == "string" and not set(prop) - {"type", "title", "description", "default"}:
                continue  # any string, a template included
            about = {key: prop.pop(key) for key in ("title", "description", "default") if key in prop}
            owner["properties"][name] = {"anyOf": [prop, TEMPLATE_SCHEMA], **about}
    schema["description"] = " ".join((component.__doc__ or "").split())
    return schema


def _located(exc: ValidationError, context: dg.ResolutionContext, rendered_nothing: dict[str, Any]) -> str:
    """One line per bad attribute, with its file and line; pydantic's input is left out (it may be a secret)."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        path = [part for part in error["loc"] if isinstance(part, str) and not part.startswith("function-")]
        attribute = ".".join(path) or "attributes"
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "missing":
            description = UsersnapFeedbackComponent.model_fields[path[0]].description or ""
            template = rendered_nothing.get(path[0])
            why = f" ({template} rendered nothing: is the variable set?)" if template else ""
            message = f"is required{why}: {description.removeprefix('Required. ')}"
        lines.append(f"{_where(context, path)}: {attribute}: {message}")
    return "\n".join(lines)


def _where(context: dg.ResolutionContext | dg.ComponentLoadContext, path: list[str] = ()) -> str:
    """``file:line`` of an attribute in its ``defs.yaml`` (relative to the working folder when inside it)."""
    if isinstance(context, dg.ComponentLoadContext):
        return _relative(context.path / "defs.yaml")
    tree = context.source_position_tree
    if tree is None:
        return "defs.yaml"
    position, _ = tree.lookup_closest_and_path([*context.path, *path], None)
    return f"{_relative(Path(position.filename))}:{position.start.line}"


def _relative(path: Path) -> str:
    try:
        return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)



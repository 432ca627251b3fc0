"""The Usersnap import as a Dagster component: one instance per Usersnap account, in a ``defs.yaml``.

    type: usersnap_pipeline.components.UsersnapFeedbackComponent
    attributes:
      import_history_start: "2026-05-01"
      projects: [3f6c0c1e-...]
      jwt_id_env: EU_USERSNAP_JWT_ID            # names of environment variables, never their values
      jwt_secret_env: EU_USERSNAP_JWT_SECRET
      warehouse_url_env: USERSNAP_WAREHOUSE_URL
      translation: {key_prefix: eu}

Each instance brings its account's assets, checks, jobs, schedules, sensor and resources, all named
after its key prefix (orchestration/naming.py), and its own tables in the warehouse.
"""

import dataclasses
from dataclasses import dataclass, field

import dagster as dg

from ..orchestration.code_location import build_definitions
from ..orchestration.naming import AccountNames
from ..settings import ENVIRONMENT_NAMES, Settings, SettingsError, load_settings


@dataclass
class UsersnapTranslation(dg.Resolvable):
    """How this account's definitions are named and grouped in the code location."""

    key_prefix: str = ""  # asset key prefix and name prefix; also the account's warehouse namespace
    group: str | None = None  # group of the import assets (default "usersnap"); themes go to "<group>_themes"
    tags: dict[str, str] = field(default_factory=dict)  # added to every asset and job


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


@dg.scaffold_with(UsersnapFeedbackScaffolder)
@dataclass
class UsersnapFeedbackComponent(dg.Component, dg.Resolvable):
    """Import one Usersnap account's feedback: raw items, data points and metadata tables, partitioned by
    day from ``import_history_start``; a change sensor, hourly and daily schedules, completeness checks,
    and (unless ``themes: false``) themes, trends and the report.

    Secrets are given as environment-variable names (``jwt_id_env``, ``jwt_secret_env``,
    ``warehouse_url_env``, ``alert_webhook_url_env``), resolved through ``dg.EnvVar`` at run time. Unset credentials mean the account
    is disconnected: its sensor and schedules skip, and everything imported stays.
    """

    import_history_start: str | None = None  # first day to import, a fixed date such as 2026-05-01
    projects: list[str] | str | None = None  # project ids (a list, or comma-separated); empty: every visible one
    api_url: str | None = None  # default https://platform.usersnap.com/v0.1
    jwt_id_env: str = "USERSNAP_JWT_ID"
    jwt_secret_env: str = "USERSNAP_JWT_SECRET"
    alert_webhook_url_env: str = "USERSNAP_ALERT_WEBHOOK_URL"  # a Slack-compatible incoming webhook (optional)
    warehouse_url: str | None = None  # a URL without a password; default sqlite:///data/warehouse.sqlite
    warehouse_url_env: str | None = None  # the variable holding the URL (read at run time); wins when set
    fetch_concurrency: int | str | None = None  # fetch windows crawled at once; default 4
    sensor_interval_seconds: int | str | None = None  # default 15
    import_schedule_cron: str | None = None  # default "5 * * * *" (UTC); the others below, likewise
    reconciliation_cron: str | None = None  # default "40 2 * * *"
    id_reconciliation_cron: str | None = None  # default "10 4 * * 0" (Sundays)
    assignees_cron: str | None = None  # default "15 3 * * *"
    themes_cron: str | None = None  # default "20 * * * *"
    theme_discovery_cron: str | None = None  # default "0 5 * * 1"
    themes: bool = True
    themes_model: str | None = None
    report_dir: str | None = None  # default data/reports
    translation: UsersnapTranslation | None = None

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        where = context.path.relative_to(context.project_root) if context.path.is_relative_to(
            context.project_root) else context.path
        try:
            return build_definitions(self.settings(), self.names())
        except (SettingsError, ValueError) as exc:
            raise SettingsError(f"{where}/defs.yaml: {exc}") from None

    def settings(self) -> Settings:
        """The settings, validated as the environment's are; an error names the attribute."""
        values = {field_name: getattr(self, field_name) for field_name in ENVIRONMENT_NAMES if field_name != "project_ids"}
        values["project_ids"] = ",".join(self.projects) if isinstance(self.projects, list) else self.projects
        url_from_env = dg.EnvVar(self.warehouse_url_env).get_value() if self.warehouse_url_env else None
        if url_from_env:  # read here only to validate it: the resource gets the variable, not the value
            values["warehouse_url"] = url_from_env
        settings = load_settings(values, {**{field_name: field_name for field_name in ENVIRONMENT_NAMES},
                                          "project_ids": "projects"})
        return dataclasses.replace(settings, themes=self.themes, jwt_id_env=self.jwt_id_env,
                                   jwt_secret_env=self.jwt_secret_env, alert_webhook_url_env=self.alert_webhook_url_env,
                                   warehouse_url_env=self.warehouse_url_env if url_from_env else None)

    def names(self) -> AccountNames:
        translation = self.translation or UsersnapTranslation()
        group = translation.group or "usersnap"
        return AccountNames(key_prefix=translation.key_prefix, import_group=group,
                            themes_group=f"{translation.group}_themes" if translation.group else "themes",
                            tags=dict(translation.tags))

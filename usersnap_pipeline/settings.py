"""Configuration, read once and validated when the code location loads: from the environment, or from
a component's attributes (components/), through the same checks.

The JWT ID and secret are *not* read here: only the names of their variables are kept, and resources
read them through ``dg.EnvVar`` at run time, so they never enter run config, metadata or this object.
A warehouse URL is read to be validated; when it came from a variable, the resource holds that variable
(``warehouse_url_env``), never the value.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from .themes.encoder import DEFAULT_MODEL as DEFAULT_THEMES_MODEL
from .usersnap import DEFAULT_API_URL, UsersnapConfigError, validate_api_url

DEFAULT_WAREHOUSE_PATH = Path("data") / "warehouse.sqlite"
DEFAULT_REPORT_DIR = Path("data") / "reports"
# A new submission reaches the warehouse within about this plus one run of its day (seconds); an idle
# tick costs one request per project (bench/README.md, freshness).
DEFAULT_SENSOR_INTERVAL_SECONDS = 15
# The schedules, all UTC: the recent days' import (minute 5 of every hour), the daily reconciliation sweep,
# assignees, theme assignment, theme discovery.
DEFAULT_CRONS = {"import_schedule_cron": "5 * * * *", "reconciliation_cron": "40 2 * * *",
                 "id_reconciliation_cron": "10 4 * * 0",
                 "assignees_cron": "15 3 * * *", "themes_cron": "20 * * * *", "theme_discovery_cron": "0 5 * * 1"}
_CRON = re.compile(r"^\S+(\s+\S+){4}$")
_PROJECT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable and how to fix it."""


@dataclass(frozen=True)
class Settings:
    api_url: str
    project_ids: tuple[str, ...]  # empty: every project the key can see
    import_history_start: date
    warehouse_url: str
    sensor_interval_seconds: int = DEFAULT_SENSOR_INTERVAL_SECONDS
    fetch_concurrency: int = 4
    report_dir: Path = DEFAULT_REPORT_DIR
    import_schedule_cron: str = DEFAULT_CRONS["import_schedule_cron"]
    themes_model: str = DEFAULT_THEMES_MODEL
    reconciliation_cron: str = DEFAULT_CRONS["reconciliation_cron"]
    id_reconciliation_cron: str = DEFAULT_CRONS["id_reconciliation_cron"]
    assignees_cron: str = DEFAULT_CRONS["assignees_cron"]
    themes_cron: str = DEFAULT_CRONS["themes_cron"]
    theme_discovery_cron: str = DEFAULT_CRONS["theme_discovery_cron"]
    themes: bool = True
    # Names of the environment variables holding secrets, read at run time (never their values here).
    jwt_id_env: str = "USERSNAP_JWT_ID"
    jwt_secret_env: str = "USERSNAP_JWT_SECRET"
    alert_webhook_url_env: str = "USERSNAP_ALERT_WEBHOOK_URL"  # rising-theme alerts; unset: none are sent
    warehouse_url_env: str | None = None  # the variable warehouse_url came from, if it did


def default_warehouse_url() -> str:
    return f"sqlite:///{DEFAULT_WAREHOUSE_PATH}"


# Where each setting is read from: an environment variable by default; the component passes its
# attributes' names, so an error names what to fix where it was written.
ENVIRONMENT_NAMES = {
    "api_url": "USERSNAP_API_URL",
    "project_ids": "USERSNAP_PROJECT_IDS",
    "import_history_start": "USERSNAP_IMPORT_HISTORY_START",
    "warehouse_url": "USERSNAP_WAREHOUSE_URL",
    "sensor_interval_seconds": "USERSNAP_SENSOR_INTERVAL_SECONDS",
    "fetch_concurrency": "USERSNAP_FETCH_CONCURRENCY",
    "report_dir": "USERSNAP_REPORT_DIR",
    "import_schedule_cron": "USERSNAP_IMPORT_SCHEDULE_CRON",
    "themes_model": "USERSNAP_THEMES_MODEL",
    "reconciliation_cron": "USERSNAP_RECONCILIATION_CRON",
    "id_reconciliation_cron": "USERSNAP_ID_RECONCILIATION_CRON",
    "assignees_cron": "USERSNAP_ASSIGNEES_CRON",
    "themes_cron": "USERSNAP_THEMES_CRON",
    "theme_discovery_cron": "USERSNAP_THEME_DISCOVERY_CRON",
}


def load_settings(environ: Mapping[str, object] | None = None,
                  names: Mapping[str, str] = ENVIRONMENT_NAMES) -> Settings:
    """Settings from ``environ`` (the process environment by default), each read under ``names[field]``."""
    env = os.environ if environ is None else environ
    name = names.__getitem__

    def value(field: str) -> str:
        return str(env.get(name(field)) or "").strip()

    try:
        api_url = validate_api_url(value("api_url") or DEFAULT_API_URL)
    except UsersnapConfigError as exc:
        raise SettingsError(f"{name('api_url')}: {exc}") from None

    project_ids = tuple(p.strip() for p in value("project_ids").split(",") if p.strip())
    bad = [p for p in project_ids if not _PROJECT_ID.match(p)]
    if bad:
        raise SettingsError(f"{name('project_ids')} has values that are not project ids: {', '.join(map(repr, bad))}; "
                            "give comma-separated project ids from Usersnap (or leave it empty for every project)")
    if len(set(project_ids)) != len(project_ids):
        raise SettingsError(f"{name('project_ids')} lists a project twice")

    raw_start = value("import_history_start")
    if not raw_start:
        raise SettingsError(
            f"{name('import_history_start')} is not set: give the first day to import as a fixed date, "
            f"e.g. {name('import_history_start')}=2026-05-01 (today minus 7/30/90 days or 6 months)")
    try:
        start = date.fromisoformat(raw_start)
    except ValueError:
        raise SettingsError(f"{name('import_history_start')}={raw_start!r} is not a date like 2026-05-01") from None
    if start > date.today():
        raise SettingsError(f"{name('import_history_start')}={raw_start} is in the future; pick a day up to today")

    warehouse_url = value("warehouse_url") or default_warehouse_url()
    if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", warehouse_url):
        raise SettingsError(f"{name('warehouse_url')} must be a SQLAlchemy URL starting with sqlite:// or "
                            "postgresql:// (the value is not shown: it may hold a password)")

    return Settings(
        api_url=api_url,
        project_ids=project_ids,
        import_history_start=start,
        warehouse_url=warehouse_url,
        sensor_interval_seconds=_positive_int(value("sensor_interval_seconds"), name("sensor_interval_seconds"),
                                             DEFAULT_SENSOR_INTERVAL_SECONDS),
        fetch_concurrency=_positive_int(value("fetch_concurrency"), name("fetch_concurrency"), 4),
        report_dir=Path(value("report_dir") or DEFAULT_REPORT_DIR),
        themes_model=value("themes_model") or DEFAULT_THEMES_MODEL,
        **{field: _cron(value(field), name(field), default) for field, default in DEFAULT_CRONS.items()},
    )


def _cron(value: str, name: str, default: str) -> str:
    raw = " ".join(value.split())
    if not raw:
        return default
    if not _CRON.match(raw):
        raise SettingsError(f"{name}={raw!r} is not a cron expression of 5 fields, e.g. {default!r}")
    return raw


def _positive_int(raw: str, name: str, default: int) -> int:
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise SettingsError(f"{name}={raw!r} must be a positive whole number (default {default})")
    return int(raw)

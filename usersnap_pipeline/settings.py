"""Configuration from the environment, read once and validated when the code location loads.

Secrets (``USERSNAP_JWT_ID``, ``USERSNAP_JWT_SECRET``, a warehouse URL with a password) are *not*
read here: resources take them through ``dg.EnvVar`` at run time, so they never enter run config,
metadata or this object.
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
DEFAULT_IMPORT_SCHEDULE_CRON = "5 * * * *"  # minute 5 of every hour, UTC
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
    sensor_interval_seconds: int = 60
    fetch_concurrency: int = 4
    report_dir: Path = DEFAULT_REPORT_DIR
    import_schedule_cron: str = DEFAULT_IMPORT_SCHEDULE_CRON
    themes_model: str = DEFAULT_THEMES_MODEL


def default_warehouse_url() -> str:
    return f"sqlite:///{DEFAULT_WAREHOUSE_PATH}"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    try:
        api_url = validate_api_url(env.get("USERSNAP_API_URL") or DEFAULT_API_URL)
    except UsersnapConfigError as exc:
        raise SettingsError(str(exc)) from None

    project_ids = tuple(p.strip() for p in (env.get("USERSNAP_PROJECT_IDS") or "").split(",") if p.strip())
    bad = [p for p in project_ids if not _PROJECT_ID.match(p)]
    if bad:
        raise SettingsError(f"USERSNAP_PROJECT_IDS has values that are not project ids: {', '.join(map(repr, bad))}; "
                            "give comma-separated project ids from Usersnap (or leave it empty for every project)")
    if len(set(project_ids)) != len(project_ids):
        raise SettingsError("USERSNAP_PROJECT_IDS lists a project twice")

    raw_start = (env.get("USERSNAP_IMPORT_HISTORY_START") or "").strip()
    if not raw_start:
        raise SettingsError(
            "USERSNAP_IMPORT_HISTORY_START is not set: give the first day to import as a fixed date, "
            "e.g. USERSNAP_IMPORT_HISTORY_START=2026-05-01 (today minus 7/30/90 days or 6 months)")
    try:
        start = date.fromisoformat(raw_start)
    except ValueError:
        raise SettingsError(f"USERSNAP_IMPORT_HISTORY_START={raw_start!r} is not a date like 2026-05-01") from None
    if start > date.today():
        raise SettingsError(f"USERSNAP_IMPORT_HISTORY_START={raw_start} is in the future; pick a day up to today")

    warehouse_url = env.get("USERSNAP_WAREHOUSE_URL") or default_warehouse_url()
    if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", warehouse_url):
        raise SettingsError("USERSNAP_WAREHOUSE_URL must be a SQLAlchemy URL starting with sqlite:// or "
                            "postgresql:// (the value is not shown: it may hold a password)")

    return Settings(
        api_url=api_url,
        project_ids=project_ids,
        import_history_start=start,
        warehouse_url=warehouse_url,
        sensor_interval_seconds=_positive_int(env, "USERSNAP_SENSOR_INTERVAL_SECONDS", 60),
        fetch_concurrency=_positive_int(env, "USERSNAP_FETCH_CONCURRENCY", 4),
        report_dir=Path(env.get("USERSNAP_REPORT_DIR") or DEFAULT_REPORT_DIR),
        import_schedule_cron=_cron(env, "USERSNAP_IMPORT_SCHEDULE_CRON", DEFAULT_IMPORT_SCHEDULE_CRON),
        themes_model=(env.get("USERSNAP_THEMES_MODEL") or "").strip() or DEFAULT_THEMES_MODEL,
    )


def _cron(env: Mapping[str, str], name: str, default: str) -> str:
    raw = " ".join((env.get(name) or "").split())
    if not raw:
        return default
    if not _CRON.match(raw):
        raise SettingsError(f"{name}={raw!r} is not a cron expression of 5 fields, e.g. {default!r}")
    return raw


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise SettingsError(f"{name}={raw!r} must be a positive whole number (default {default})")
    return int(raw)

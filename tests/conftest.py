"""Shared fixtures: a real emulator over HTTP on a free loopback port, and a client for it; and the session's
clock, which ``USERSNAP_TEST_CLOCK`` can set to any moment (e.g. a Saturday) to show no test depends on the day."""

from __future__ import annotations

import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, Emulator, generate
from usersnap_pipeline.usersnap import UsersnapClient

# Fixed anchor: the same seed gives the same items on every machine and every day.
ANCHOR = datetime(2026, 6, 30, 12, 0, tzinfo=timezone.utc)


def pytest_configure(config):
    """``USERSNAP_TEST_CLOCK=2026-12-07T09:00:00+00:00 ./dev test`` runs the whole suite as if started then: this
    process travels there (its clock ticks on from it), and so does every Python process it starts (the
    sitecustomize in tests/clock, given the same offset)."""
    moment = os.environ.get("USERSNAP_TEST_CLOCK")
    if not moment:
        return
    import time_machine

    destination = datetime.fromisoformat(moment)
    if destination.tzinfo is None:
        raise pytest.UsageError("USERSNAP_TEST_CLOCK needs a time zone, e.g. 2026-12-07T09:00:00+00:00")
    os.environ["USERSNAP_TEST_CLOCK_OFFSET"] = repr(destination.timestamp() - time.time())
    clock_folder = str(Path(__file__).resolve().parent / "clock")
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [clock_folder, os.environ.get("PYTHONPATH")]))
    time_machine.travel(destination, tick=True).start()


def utc(value):
    """A timestamp from the warehouse or the API as aware UTC (SQLite reads back naive)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


@pytest.fixture
def emulator():
    with Emulator(generate(seed=7, items=2000, projects=2, days=60, end=ANCHOR), seed=7) as api:
        yield api


def materializations(result, asset: str) -> list:
    """The materializations of one asset in a run (one per partition for a range run)."""
    return [event.step_materialization_data.materialization for event in result.get_asset_materialization_events()
            if event.asset_key.to_user_string() == asset]


def make_client(api: Emulator, **kwargs) -> UsersnapClient:
    kwargs.setdefault("backoff_base", 0.01)
    kwargs.setdefault("backoff_max", 0.05)
    return UsersnapClient(api.base_url, DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, **kwargs)


@pytest.fixture
def client(emulator):
    with make_client(emulator) as usersnap:
        yield usersnap


@pytest.fixture
def project_id(emulator) -> str:
    return emulator.store.list_projects()[0]["project_id"]


# -- PostgreSQL: a throwaway database per test session ---------------------------------------

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def postgres_databases():
    """Creates throwaway databases on the real server, all dropped at the end of the session.

    Without a server the tests that need it are skipped with a message, except under CI, where
    they fail: CI must prove the Postgres path.
    """
    import os
    import uuid

    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        message = f"PostgreSQL is not reachable at 127.0.0.1:5432 ({type(exc.orig).__name__})"
        if os.environ.get("CI"):
            pytest.fail(message + ": CI must run the PostgreSQL tests")
        pytest.skip(message + ": start it to run the PostgreSQL tests")
    created: list[str] = []

    def create(purpose: str) -> str:
        name = f"usersnap_test_{purpose}_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return name

    try:
        yield create
    finally:
        with admin.connect() as conn:
            for name in created:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_url(postgres_databases):
    """The session's warehouse database on the real server."""
    return f"postgresql://postgres@127.0.0.1:5432/{postgres_databases('warehouse')}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def warehouse_url(request, tmp_path):
    """Each pipeline test runs on the embedded SQLite file and on the real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'warehouse.sqlite'}"
    url = request.getfixturevalue("postgres_url")
    reset_postgres(url)
    return url


def deployed_dagster_home(home: Path, database: str) -> dict[str, str]:
    """Make ``home`` a DAGSTER_HOME as deployed (deploy/dagster.yaml: dagster-postgres on ``database``);
    returns the environment it reads."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(Path(__file__).resolve().parents[1] / "deploy" / "dagster.yaml", home / "dagster.yaml")
    return {"DAGSTER_HOME": str(home), "DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": "5432",
            "DAGSTER_PG_USERNAME": "postgres", "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": database}


def reset_postgres(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        # the default schema, and the schemas of the accounts other tests imported (tests/pipeline/test_accounts.py)
        accounts = conn.execute(sa.text(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT IN ('public', 'information_schema') "
            "AND nspname NOT LIKE 'pg\\_%'")).scalars().all()
        for schema in accounts:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()


# -- headless Chromium: Debian's chromium + chromium-driver, driven by Selenium ------------------

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture(scope="session")
def browser():
    """A headless Chromium. Without it the browser tests are skipped with a message, except under
    CI, where they fail: `.ci/run` installs it."""
    import os
    import shutil

    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    if missing:
        message = f"{', '.join(missing)} not found (apt-get install chromium chromium-driver)"
        if os.environ.get("CI"):
            pytest.fail(message + ": CI must run the browser tests")
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1800", "--disable-background-networking", "--no-first-run"):
        options.add_argument(argument)
    # The driver path is given, so Selenium never tries to download one.
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def save_screenshot(driver, name: str) -> Path:
    """A full-window screenshot kept as a test artifact (test-artifacts/screenshots/<name>.png)."""
    path = ARTIFACTS / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(path)), f"could not save {path}"
    return path

"""A real deployment for end-to-end tests: dagster-webserver and dagster-daemon as processes, on
deploy/dagster.yaml (dagster-postgres) with the warehouse in a second PostgreSQL database, the
emulator over HTTP. The test drives it only through Dagster's GraphQL API and the browser.

Process logs go to test-artifacts/deployment/ and stay there, so a failure can be read afterwards.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from dagster_graphql import DagsterGraphQLClient

from tests.conftest import ARTIFACTS, deployed_dagster_home
from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, Emulator, generate
from usersnap_pipeline.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[2]
LOGS = ARTIFACTS / "deployment"
LOCATION, REPOSITORY = "usersnap_pipeline", "__repository__"
HISTORY_DAYS = 6


def wait_for(condition: Callable[[], object], *, timeout: float, what: str, every: float = 1.0):
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (logs: {LOGS})")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Deployment:
    """The running deployment and a GraphQL client for it."""

    def __init__(self, emulator: Emulator, warehouse_url: str, env: dict[str, str], port: int, first_day):
        self.emulator, self.warehouse_url, self.env, self.port, self.first_day = emulator, warehouse_url, env, port, first_day
        self.url = f"http://127.0.0.1:{port}"
        self.client = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=60)
        self.processes: dict[str, subprocess.Popen] = {}

    # -- processes ------------------------------------------------------------------------------

    def start(self, name: str, *command: str) -> None:
        log = open(LOGS / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        self.processes[name] = subprocess.Popen(
            [str(Path(sys.executable).parent / command[0]), *command[1:]], cwd=ROOT, env=self.env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # its own group: runs die with it

    def check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise AssertionError(f"{name} exited with {process.returncode}; see {LOGS / (name + '.log')}")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    # -- GraphQL --------------------------------------------------------------------------------

    def graphql(self, query: str, **variables) -> dict:
        # The client wraps runs and code locations; other operations go through its transport as is.
        return self.client._execute(query, variables)

    def selector(self, kind: str, name: str) -> dict:
        return {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, f"{kind}Name": name}

    def instigator_state(self, kind: str, name: str) -> dict:
        field = "scheduleState" if kind == "schedule" else "sensorState"
        data = self.graphql(f"""
            query State($selector: {kind.capitalize()}Selector!) {{
              {kind}OrError({kind}Selector: $selector) {{
                __typename
                ... on {kind.capitalize()} {{ {field} {{ id status ticks(limit: 20) {{ status runIds }} }} }}
                ... on Error {{ message }}
              }}
            }}""", selector=self.selector(kind, name))[f"{kind}OrError"]
        assert field in data, f"{kind} {name}: {data}"
        return data[field]

    def instigators(self) -> list[tuple[str, str]]:
        """("schedule" or "sensor", name) of every schedule and sensor of the code location."""
        data = self.graphql("""
            query Instigators($selector: RepositorySelector!) {
              repositoryOrError(repositorySelector: $selector) {
                ... on Repository { schedules { name } sensors { name } }
                ... on Error { message }
              }
            }""", selector={"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY})["repositoryOrError"]
        assert "schedules" in data, data
        return [("schedule", s["name"]) for s in data["schedules"]] + [("sensor", s["name"]) for s in data["sensors"]]

    def stop_instigator(self, kind: str, name: str) -> None:
        state = self.instigator_state(kind, name)
        if state["status"] == "STOPPED":
            return
        mutation = "stopRunningSchedule" if kind == "schedule" else "stopSensor"
        self.graphql(f"mutation Stop($id: String!) {{ {mutation}(id: $id) {{ __typename }} }}", id=state["id"])
        assert self.instigator_state(kind, name)["status"] == "STOPPED"

    def start_instigator(self, kind: str, name: str) -> None:
        mutation = "startSchedule" if kind == "schedule" else "startSensor"
        result = self.graphql(f"""
            mutation Start($selector: {kind.capitalize()}Selector!) {{
              {mutation}({kind}Selector: $selector) {{ __typename ... on Error {{ message }} }}
            }}""", selector=self.selector(kind, name))[mutation]
        assert "message" not in result, result
        assert self.instigator_state(kind, name)["status"] == "RUNNING"

    def runs(self, tags: dict[str, str]) -> list[dict]:
        data = self.graphql("""
            query Runs($filter: RunsFilter) {
              runsOrError(filter: $filter) { ... on Runs { results { runId status tags { key value } } } }
            }""", filter={"tags": [{"key": k, "value": v} for k, v in tags.items()]})
        return data["runsOrError"]["results"]

    def successful_runs(self, tags: dict[str, str], *, timeout: float, what: str) -> list[dict]:
        """Wait until runs with ``tags`` exist and all have succeeded; fail at once if one failed."""
        def finished():
            self.check_alive()
            runs = self.runs(tags)
            if any(run["status"] in ("FAILURE", "CANCELED") for run in runs):
                raise AssertionError(f"a run failed: {runs} (logs: {LOGS})")
            return runs if runs and all(run["status"] == "SUCCESS" for run in runs) else None

        return wait_for(finished, timeout=timeout, what=what, every=2)

    def warehouse(self) -> Warehouse:
        return Warehouse(self.warehouse_url)


def server_now() -> datetime:
    """The servers' clock: the real one, also when USERSNAP_TEST_CLOCK travels this session (tests/clock)."""
    return datetime.now(timezone.utc) - timedelta(seconds=float(os.environ.get("USERSNAP_TEST_CLOCK_OFFSET", "0")))


@pytest.fixture(scope="session")
def deployment(postgres_databases):
    LOGS.mkdir(parents=True, exist_ok=True)
    home = LOGS / "dagster_home"
    shutil.rmtree(home, ignore_errors=True)
    dagster_db, warehouse_db = postgres_databases("dagster"), postgres_databases("e2e_warehouse")

    now = server_now()
    dataset = generate(seed=23, items=500, projects=2, days=HISTORY_DAYS, end=now - timedelta(minutes=1))
    first_day = (now - timedelta(days=HISTORY_DAYS)).date()
    with Emulator(dataset, seed=23) as emulator:
        # The deployment lives on the real clock (gRPC, see tests/clock): so does its API, and no process it starts
        # (servers, run workers, `dg`) is given the session's travel.
        emulator.clock_offset = (now - datetime.now(timezone.utc)).total_seconds()
        warehouse_url = f"postgresql://postgres@127.0.0.1:5432/{warehouse_db}"
        env = {
            **os.environ,
            **deployed_dagster_home(home, dagster_db),
            "USERSNAP_API_URL": emulator.base_url,
            "USERSNAP_JWT_ID": DEFAULT_JWT_ID, "USERSNAP_JWT_SECRET": DEFAULT_JWT_SECRET,
            "USERSNAP_IMPORT_HISTORY_START": first_day.isoformat(),
            "USERSNAP_WAREHOUSE_URL": warehouse_url,
            "USERSNAP_REPORT_DIR": str(LOGS / "reports"),
            "USERSNAP_SENSOR_INTERVAL_SECONDS": "5",
            "USERSNAP_IMPORT_SCHEDULE_CRON": "* * * * *",  # a tick every minute, not every hour
            "DAGSTER_EVENT_BATCH_SIZE": "1000",  # as the README's production section sets them
            "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "1",
        }
        env.pop("USERSNAP_PROJECT_IDS", None)
        env.pop("USERSNAP_TEST_CLOCK_OFFSET", None)
        built = Deployment(emulator, warehouse_url, env, free_port(), first_day)
        try:
            built.start("webserver", "dagster-webserver", "-w", "workspace.yaml", "-h", "127.0.0.1",
                        "-p", str(built.port))
            wait_for(lambda: _serving(built), timeout=180, what="the webserver to serve its code location")
            # Schedules and the sensor are on by default; the test turns them on itself, one at a
            # time, so every run it sees has one known cause. All of them, as the location lists them: the
            # servers run on the real clock, and a schedule left on fires whenever its cron comes (the
            # weekly id reconciliation, Sundays 04:10, ran in the middle of the UI tests).
            for kind, name in built.instigators():
                built.stop_instigator(kind, name)
            built.start("daemon", "dagster-daemon", "run", "-w", "workspace.yaml")
            yield built
        finally:
            built.stop()
            _drop_connections(dagster_db)


def _serving(deployment: Deployment) -> bool:
    deployment.check_alive()
    try:
        with urllib.request.urlopen(f"{deployment.url}/server_info", timeout=5):
            pass
        data = deployment.graphql("""{ workspaceOrError { ... on Workspace { locationEntries {
            name locationOrLoadError { __typename } } } } }""")
    except Exception:  # noqa: BLE001 - not up yet
        return False
    entries = data["workspaceOrError"]["locationEntries"]
    states = {e["name"]: e["locationOrLoadError"] and e["locationOrLoadError"]["__typename"] for e in entries}
    if states.get(LOCATION) == "PythonError":
        raise AssertionError(f"the code location failed to load; see {LOGS / 'webserver.log'}")
    return states.get(LOCATION) == "RepositoryLocation"


def _drop_connections(database: str) -> None:
    """Processes killed mid-query can leave sessions behind; the session teardown drops the database."""
    from tests.conftest import PG_ADMIN_URL

    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :db"),
                     {"db": database})
    engine.dispose()


@pytest.fixture(scope="session")
def backfilled(deployment):
    """The whole import-history window backfilled from the UI's API: one partition-range backfill of the
    import group's assets, as the UI selects them (the group holds the daily assets only, one backfill policy)."""
    from usersnap_pipeline.orchestration.partitions import daily_partitions

    keys = daily_partitions(deployment.first_day).get_partition_keys(current_time=server_now())
    group = deployment.graphql("""
        query Group($group: AssetGroupSelector!) { assetNodes(group: $group) { assetKey { path } } }""",
        group={"groupName": "usersnap", "repositoryName": REPOSITORY, "repositoryLocationName": LOCATION})
    assets = sorted(node["assetKey"]["path"][-1] for node in group["assetNodes"])
    assert assets == ["data_points", "raw_feedback"], assets
    launched = deployment.graphql("""
        mutation Backfill($params: LaunchBackfillParams!) {
          launchPartitionBackfill(backfillParams: $params) {
            __typename ... on LaunchBackfillSuccess { backfillId } ... on Error { message }
          }
        }""", params={"assetSelection": [{"path": [a]} for a in assets], "partitionNames": keys,
                      "title": "e2e: import history"})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched

    def finished():
        deployment.check_alive()
        backfill = deployment.graphql("""
            query Backfill($id: String!) {
              partitionBackfillOrError(backfillId: $id) {
                ... on PartitionBackfill { status numPartitions runs(limit: 20) { runId status } }
                ... on Error { message }
              }
            }""", id=launched["backfillId"])["partitionBackfillOrError"]
        return backfill if backfill.get("status") in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED",
                                                       "FAILED", "CANCELED") else None

    backfill = wait_for(finished, timeout=300, what="the backfill to finish", every=2)
    return {"id": launched["backfillId"], "partitions": keys, **backfill}


@pytest.fixture(scope="session")
def themes_run(deployment, backfilled) -> str:
    """The themes job launched through the GraphQL client's own API, waited for."""
    from dagster_graphql import DagsterGraphQLClientError

    run_id = deployment.client.submit_job_execution("usersnap_themes", repository_location_name=LOCATION,
                                                    repository_name=REPOSITORY)

    def done():
        deployment.check_alive()
        try:
            status = deployment.client.get_run_status(run_id).value
        except DagsterGraphQLClientError:
            return None
        if status in ("FAILURE", "CANCELED"):
            raise AssertionError(f"the themes run {run_id} ended {status} (logs: {LOGS})")
        return status == "SUCCESS"

    wait_for(done, timeout=240, what="the themes run to succeed", every=2)
    return run_id


def latest_metadata(deployment: Deployment, asset: str) -> dict:
    """The latest materialization's metadata as the UI's API serves it."""
    data = deployment.graphql("""
        query Latest($key: AssetKeyInput!) {
          assetOrError(assetKey: $key) { ... on Asset { assetMaterializations(limit: 1) { runId partition
            metadataEntries { label ... on IntMetadataEntry { intValue } ... on MarkdownMetadataEntry { mdStr } } } } }
        }""", key={"path": [asset]})
    [event] = data["assetOrError"]["assetMaterializations"]
    return {"runId": event["runId"], "partition": event["partition"],
            **{e["label"]: e.get("intValue", e.get("mdStr")) for e in event["metadataEntries"]}}

"""Several Usersnap accounts in one code location: two UsersnapFeedbackComponent instances in a defs
folder, as a user adds them to an existing Dagster project (with its own executor), each against its own
emulator with its own credentials, both writing to one warehouse and each to its own report folder."""

from __future__ import annotations

import textwrap

import dagster as dg
import pytest

from tests.conftest import ANCHOR
from tests.pipeline.conftest import FIRST_DAY, HISTORY_DAYS, load_project
from usersnap_pipeline.emulator import Emulator, generate
from usersnap_pipeline.orchestration.partitions import range_tags
from usersnap_pipeline.warehouse import Warehouse, schema

ACCOUNTS = {"eu": ("eu-jwt-id", "eu-jwt-secret-0123456789abcdef0123"), "us": ("us-jwt-id", "us-jwt-secret-0123456789")}


@pytest.fixture
def two_accounts(monkeypatch):
    """Two emulators, each an account with its own data and credentials, set under per-account variables."""
    with Emulator(generate(seed=21, items=240, projects=2, days=HISTORY_DAYS, end=ANCHOR),
                  jwt_id=ACCOUNTS["eu"][0], jwt_secret=ACCOUNTS["eu"][1], seed=21) as eu, \
         Emulator(generate(seed=22, items=180, projects=1, days=HISTORY_DAYS, end=ANCHOR),
                  jwt_id=ACCOUNTS["us"][0], jwt_secret=ACCOUNTS["us"][1], seed=22) as us:
        for prefix, (jwt_id, jwt_secret) in ACCOUNTS.items():
            monkeypatch.setenv(f"{prefix.upper()}_USERSNAP_JWT_ID", jwt_id)
            monkeypatch.setenv(f"{prefix.upper()}_USERSNAP_JWT_SECRET", jwt_secret)
        yield {"eu": eu, "us": us}


def _instance(prefix: str, emulator, **attributes) -> str:
    return textwrap.dedent(f"""
        type: usersnap_pipeline.components.UsersnapFeedbackComponent
        attributes:
          import_history_start: "{FIRST_DAY.isoformat()}"
          api_url: {emulator.base_url}
          jwt_id_env: {prefix.upper()}_USERSNAP_JWT_ID
          jwt_secret_env: {prefix.upper()}_USERSNAP_JWT_SECRET
          warehouse_url_env: SHARED_WAREHOUSE_URL
          fetch_concurrency: 2
          report_dir: "{{{{ env.SHARED_REPORT_DIR }}}}"
          translation:
            key_prefix: {prefix}
            group: usersnap_{prefix}
            tags: {{account: {prefix}}}
        requirements:
          env: [{prefix.upper()}_USERSNAP_JWT_ID, {prefix.upper()}_USERSNAP_JWT_SECRET, SHARED_WAREHOUSE_URL]
    """).replace("attributes:\n", "attributes:\n" + "".join(f"  {k}: {v}\n" for k, v in attributes.items()))


def _project_with_two_instances(root, emulators, warehouse_url, monkeypatch, *, host: str = "dg.Definitions()",
                                **attributes) -> dg.Definitions:
    """An existing Dagster project (its own package, defs folder and definitions) with one instance per account."""
    monkeypatch.setenv("SHARED_WAREHOUSE_URL", warehouse_url)
    monkeypatch.setenv("SHARED_REPORT_DIR", str(root / "reports"))
    return load_project(root, {f"usersnap_{prefix}": _instance(prefix, emulator, **attributes.get(prefix, {}))
                               for prefix, emulator in emulators.items()}, monkeypatch, host=host)


def test_two_accounts_import_side_by_side_into_one_warehouse(two_accounts, warehouse_url, tmp_path, monkeypatch):
    """Two instances in a host project that has its own executor: each imports its account (eu only the
    project its YAML lists), its sensor sees its own emulator, and each writes its own report, with its
    projects' names from the same import run."""
    eu_projects = [p["project_id"] for p in two_accounts["eu"].store.list_projects()]
    root = tmp_path / "host_project"
    defs = _project_with_two_instances(root, two_accounts, warehouse_url, monkeypatch,
                                       host="dg.Definitions(executor=dg.multiprocess_executor)",
                                       eu={"projects": f"[{eu_projects[0]}]"})
    assert defs.executor is dg.multiprocess_executor  # the host's; the component's jobs bring their own

    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {key.split("/")[1] for key in keys} >= {"raw_feedback", "data_points", "projects", "assignees", "theme_report"}
    assert {key.split("/")[0] for key in keys} == set(ACCOUNTS)
    for prefix in ACCOUNTS:
        assert defs.resolve_sensor_def(f"{prefix}_usersnap_change_sensor")
        assert defs.resolve_schedule_def(f"{prefix}_usersnap_hourly_recent_import")
        key = dg.AssetKey([prefix, "data_points"])
        spec = defs.resolve_assets_def(key).specs_by_key[key]
        assert spec.group_name == f"usersnap_{prefix}" and spec.tags["account"] == prefix
        checks = {key.name for key in defs.resolve_asset_graph().asset_check_keys
                  if key.asset_key == dg.AssetKey([prefix, "data_points"])}
        assert "matches_usersnap" in checks

    with dg.instance_for_test() as instance:
        for prefix in ACCOUNTS:
            result = defs.resolve_job_def(f"{prefix}_usersnap_import").execute_in_process(
                instance=instance, tags=range_tags(FIRST_DAY.isoformat(), ANCHOR.date().isoformat()))
            assert result.success
            checks = result.get_asset_check_evaluations()
            assert checks and all(check.passed for check in checks), [(c.check_name, c.passed) for c in checks]
            # Each account's sensor sees its own emulator, finds nothing new, and costs one request per project.
            emulator = two_accounts[prefix]
            emulator.reset_request_counts()
            sensor = defs.resolve_sensor_def(f"{prefix}_usersnap_change_sensor")
            cursor = None
            for _ in range(2):
                with dg.build_sensor_context(instance=instance, cursor=cursor) as context:
                    tick = sensor.evaluate_tick(context)
                cursor = tick.cursor
            assert not tick.run_requests
            report = defs.resolve_job_def(f"{prefix}_usersnap_themes").execute_in_process(
                instance=instance, asset_selection=[dg.AssetKey([prefix, "theme_report"])])
            assert report.success

    # One warehouse, one namespace per account: each holds exactly its account's selected feedback.
    selected = {"eu": {eu_projects[0]}, "us": {p["project_id"] for p in two_accounts["us"].store.list_projects()}}
    for prefix, emulator in two_accounts.items():
        warehouse = Warehouse(warehouse_url, namespace=prefix)
        try:
            stored = {row["feedback_id"] for row in warehouse.rows(schema.data_points)}
            names = {row["project_id"]: row["name"] for row in warehouse.rows(schema.projects)}
        finally:
            warehouse.dispose()
        assert stored == {item["feedback_id"] for item in emulator.store.items() if item["project_id"] in selected[prefix]}
        assert set(names) == selected[prefix]  # filled by the import run itself
        report = (root / "reports" / prefix / "themes.html").read_text()
        others = {p["project_id"] for e in two_accounts.values() for p in e.store.list_projects()} - selected[prefix]
        assert all(f"Project: {names[p]}" in report and f"project-{p}" in report for p in selected[prefix])
        assert not [p for p in others if p in report]
    default = Warehouse(warehouse_url)
    try:
        default.ensure_schema()
        assert not list(default.rows(schema.data_points)), "nothing lands outside the accounts' namespaces"
    finally:
        default.dispose()


def test_an_account_without_credentials_is_disconnected_and_the_other_runs(two_accounts, warehouse_url, tmp_path,
                                                                          monkeypatch):
    defs = _project_with_two_instances(tmp_path / "host_disconnected", two_accounts, warehouse_url, monkeypatch)
    monkeypatch.delenv("US_USERSNAP_JWT_SECRET")
    with dg.instance_for_test() as instance:
        with dg.build_sensor_context(instance=instance) as context:
            skipped = defs.resolve_sensor_def("us_usersnap_change_sensor").evaluate_tick(context)
        assert not skipped.run_requests and "US_USERSNAP_JWT_SECRET" in skipped.skip_message
        with dg.build_sensor_context(instance=instance) as context:
            assert defs.resolve_sensor_def("eu_usersnap_change_sensor").evaluate_tick(context).run_requests
    assert two_accounts["us"].requests_made() == 0


def test_a_key_prefix_that_cannot_name_a_schema_is_refused():
    from usersnap_pipeline.components import UsersnapFeedbackComponent

    with pytest.raises(ValueError, match="translation.key_prefix"):
        UsersnapFeedbackComponent(import_history_start=FIRST_DAY, translation={"key_prefix": "EU accounts"})


@pytest.mark.postgres
def test_each_account_refreshes_the_statistics_of_its_own_tables_only(postgres_url):
    from datetime import datetime, timezone

    from usersnap_pipeline.transform.raw import raw_row

    accounts = {prefix: Warehouse(postgres_url, namespace=prefix) for prefix in ("eu", "us")}
    try:
        for warehouse in accounts.values():
            warehouse.ensure_schema()
        day, now = FIRST_DAY, datetime.now(timezone.utc)
        rows = [raw_row({"feedback_id": f"id-{n}", "created_at": f"{day}T10:00:00Z"}, project_id="p1",
                        partition_date=day, fetched_at=now) for n in range(300)]
        accounts["eu"].replace_partition("p1", day, {schema.raw_feedback: rows}, version=now)
        for warehouse in accounts.values():
            warehouse.dispose()  # a backend reports its table counters when it ends
        assert accounts["us"].refresh_statistics(schema.PARTITIONED_TABLES) == []
        assert accounts["eu"].refresh_statistics(schema.PARTITIONED_TABLES) == ["raw_feedback"]
    finally:
        for warehouse in accounts.values():
            warehouse.dispose()

"""Several projects, a project added later, projects the key cannot see, disconnecting, assignees."""

from __future__ import annotations

import dagster as dg
import pytest

from tests.conftest import ANCHOR
from tests.pipeline.conftest import FIRST_DAY, Pipeline
from usersnap_pipeline.orchestration.sensors import project_run_config
from usersnap_pipeline.usersnap import UsersnapNotFoundError
from usersnap_pipeline.warehouse import schema


def _raw_by_project(pipeline):
    rows = {}
    for row in pipeline.warehouse.rows(schema.raw_feedback):
        rows.setdefault(row["project_id"], {})[row["feedback_id"]] = row["fetched_at"]
    return rows


def _failure_message(result) -> str:
    """The step failure's message with its causes (the user-facing error is usually a cause)."""
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    error, message = failure.event_specific_data.error, ""
    while error is not None:
        message, error = message + error.message, error.cause
    return message


def _truth_ids(emulator, project_id):
    return {i["feedback_id"] for i in emulator.store.items(project_id)}


@pytest.fixture
def projects(pipeline_emulator):
    return [p["project_id"] for p in pipeline_emulator.store.list_projects()]


def test_a_project_added_later_gets_its_history_without_touching_the_others(
        pipeline_emulator, warehouse_url, credentials, projects):
    first, second = projects
    only_first = Pipeline(pipeline_emulator.base_url, warehouse_url, project_ids=(first,))
    assert only_first.run(FIRST_DAY, ANCHOR.date()).success
    before = _raw_by_project(only_first)
    assert set(before) == {first}

    both = Pipeline(pipeline_emulator.base_url, warehouse_url, project_ids=(first, second))
    with dg.instance_for_test() as instance:
        both.sensor_cursor = None
        result = both.tick(instance)
        history = [r for r in result.run_requests
                   if r.run_config == project_run_config([second])]
        assert len(history) == 1  # one run for the new project's whole window
        request = history[0]
        assert request.tags["dagster/asset_partition_range_start"] == FIRST_DAY.isoformat()
        assert both.execute(request, instance).success
    after = _raw_by_project(both)
    assert after[first] == before[first]  # same rows, same fetch times: untouched
    assert set(after[second]) == _truth_ids(pipeline_emulator, second)
    only_first.warehouse.dispose()
    both.warehouse.dispose()


def test_projects_the_key_cannot_see_are_named(pipeline_emulator, warehouse_url, credentials, projects):
    pipeline = Pipeline(pipeline_emulator.base_url, warehouse_url, project_ids=(projects[0], "no-such-project"))
    result = pipeline.run(FIRST_DAY, ANCHOR.date(), raise_on_error=False)
    assert not result.success
    message = _failure_message(result)
    assert "no-such-project" in message and "configured project" in message
    with pytest.raises(UsersnapNotFoundError, match="no-such-project"):
        with dg.instance_for_test() as instance:
            pipeline.tick(instance)
    pipeline.warehouse.dispose()


def test_removing_a_project_stops_its_calls_and_keeps_its_data(pipeline_emulator, warehouse_url, credentials,
                                                                projects):
    first, second = projects
    both = Pipeline(pipeline_emulator.base_url, warehouse_url, project_ids=(first, second))
    assert both.run(FIRST_DAY, ANCHOR.date()).success
    kept = _raw_by_project(both)[second]

    only_first = Pipeline(pipeline_emulator.base_url, warehouse_url, project_ids=(first,))
    pipeline_emulator.reset_request_counts()
    with dg.instance_for_test() as instance:
        assert only_first.run(FIRST_DAY, ANCHOR.date()).success
        only_first.tick(instance)
        only_first.tick(instance)
    calls = [path for path in pipeline_emulator.request_paths if second in path]
    assert calls == []
    assert _raw_by_project(only_first)[second] == kept
    points = {r["feedback_id"] for r in only_first.warehouse.rows(schema.data_points) if r["project_id"] == second}
    assert points == _truth_ids(pipeline_emulator, second)
    both.warehouse.dispose()
    only_first.warehouse.dispose()


def test_removing_the_credentials_stops_every_call_and_keeps_everything(pipeline, pipeline_emulator, monkeypatch):
    assert pipeline.run(FIRST_DAY, ANCHOR.date()).success
    before = _raw_by_project(pipeline)
    monkeypatch.delenv("USERSNAP_JWT_ID")
    monkeypatch.delenv("USERSNAP_JWT_SECRET")
    pipeline_emulator.reset_request_counts()
    with dg.instance_for_test() as instance:
        result = pipeline.tick(instance)
        assert not result.run_requests and "disconnected" in result.skip_message
        schedule = pipeline.defs.resolve_schedule_def("usersnap_hourly_recent_import")
        with dg.build_schedule_context(instance=instance, resources=pipeline.defs.resources) as context:
            assert not schedule.evaluate_tick(context).run_requests
        # A manual run fails before any call, naming the variables to set; it changes nothing.
        run = pipeline.run(FIRST_DAY, ANCHOR.date(), instance=instance, raise_on_error=False)
        [failure] = run.get_step_failure_events()
        error = failure.event_specific_data.error
        assert error.cause.cls_name == "UsersnapConfigError"
        assert "USERSNAP_JWT_ID and USERSNAP_JWT_SECRET must both be set" in error.cause.message
    assert pipeline_emulator.requests_made() == 0
    assert _raw_by_project(pipeline) == before
    assert sum(1 for _ in pipeline.warehouse.rows(schema.data_points)) == 700


def test_projects_and_assignees_resolve_ids_to_names(pipeline, pipeline_emulator):
    assert pipeline.run(FIRST_DAY, ANCHOR.date()).success
    assignees = next(a for a in pipeline.defs.assets if dg.AssetKey("assignees") in a.keys)
    assert assignees.keys == {dg.AssetKey("assignees"), dg.AssetKey("projects")}
    with dg.instance_for_test() as instance:
        assert dg.materialize([assignees], resources=pipeline.defs.resources, instance=instance).success
    projects = {r["project_id"]: r for r in pipeline.warehouse.rows(schema.projects)}
    assert {pid: (r["name"], r["is_live"]) for pid, r in projects.items()} == {
        p["project_id"]: (p["name"], p["is_live"]) for p in pipeline_emulator.store.list_projects()}
    assert all(r["created_at"] is not None for r in projects.values())
    rows = {(r["project_id"], r["user_id"]): r for r in pipeline.warehouse.rows(schema.assignees)}
    expected = {(pid, u["user_id"]): f"{u['first_name']} {u['last_name']}"
                for pid, users in pipeline_emulator.store.assignees.items() for u in users}
    assert {key: row["full_name"] for key, row in rows.items()} == expected
    assigned = [(p["project_id"], p["assignee_id"]) for p in pipeline.warehouse.rows(schema.data_points)
                if p["assignee_id"]]
    assert assigned and all(key in rows for key in assigned)


def test_wrong_credentials_fail_the_run_saying_what_to_fix(pipeline, monkeypatch, pipeline_emulator):
    monkeypatch.setenv("USERSNAP_JWT_SECRET", "not-the-secret")
    result = pipeline.run(FIRST_DAY, ANCHOR.date(), raise_on_error=False)
    assert not result.success
    message = _failure_message(result)
    assert "check the JWT ID and secret" in message and "not-the-secret" not in message
    # One request reached the API and was refused; a 401 is never retried, and no project was read.
    assert pipeline_emulator.requests_made() == 1 and pipeline_emulator.requests_made("projects") == 0


def test_an_idle_tick_logs_nothing_at_info(pipeline, capsys):
    """The sensor ticks every 15 s: an idle tick says so in its skip reason; its own line is DEBUG, below
    what a sensor's logger prints (INFO), where a tick that requests runs prints one."""
    assert pipeline.run(FIRST_DAY, ANCHOR.date()).success
    with dg.instance_for_test() as instance:
        for _ in range(3):  # the first ticks set the marks and may re-import the newest days
            requests = pipeline.tick(instance).run_requests
            if not requests:
                break
            assert all(pipeline.execute(request, instance).success for request in requests)
        capsys.readouterr()
        idle = pipeline.tick(instance)
        quiet = capsys.readouterr().err
    assert not idle.run_requests and "no new or edited feedback" in idle.skip_message
    assert "request(s)" not in quiet, quiet

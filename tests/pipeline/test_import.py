"""The import job, end to end: emulator over HTTP → Dagster (one run for a range) → warehouse."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import dagster as dg
import sqlalchemy as sa

from tests.conftest import ANCHOR
from tests.conftest import materializations as materializations_of
from tests.conftest import utc as _utc
from tests.pipeline.conftest import FIRST_DAY
from usersnap_pipeline.orchestration.partitions import range_tags
from usersnap_pipeline.warehouse import schema


def _by_id(warehouse, table):
    rows = {}
    for row in warehouse.rows(table):
        rows.setdefault(row["feedback_id"], []).append(row)
    return rows


def _expected_thread(item):
    """The thread as a reader would write it down from the API item, independently of the normalizer:
    (position, label, text, kind), a rating's string value written as its number, a yes/no as Yes/No."""
    thread = []
    for position, entry in enumerate(sorted(item["ordered_inputs"], key=lambda e: e["order"])):
        if isinstance(entry["boolean_value"], bool):
            thread.append((position, entry["label"], "Yes" if entry["boolean_value"] else "No", "yes/no"))
        elif entry["text_value"] and entry["text_value"].strip():
            thread.append((position, entry["label"], entry["text_value"], "text"))
        elif entry["text_value"] is None and entry["value"] is not None:
            thread.append((position, entry["label"], str(int(entry["value"])), "rating"))
    return thread


def _expected_rating(item, scales):
    """The rating the emulator generated, and its scale as the README names it."""
    for entry in item["ordered_inputs"]:
        if entry["text_value"] is None and entry["boolean_value"] is None and entry["value"] is not None:
            scale = {"nps": "nps", "thumb": "thumbs"}.get(scales[item["feedback_id"]]) or \
                ("smileys" if entry["label"] == "How do you feel about this page?" else "five_star")
            return float(entry["value"]), scale
    return None, None


def _expected_text(thread):
    texts = [text for _, _, text, kind in thread if kind == "text"]
    if len(texts) > 1 and texts[1].startswith(texts[0]):  # a title prefilled from the comment
        texts = texts[1:]
    return "\n".join(texts)


def _flatten(data, prefix=""):
    out = {}
    for key, value in (data or {}).items():
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            out.update(_flatten(value, path))
        else:
            out[path] = value
    return out


def test_range_import_matches_the_emulator_field_by_field(pipeline, pipeline_emulator):
    result = pipeline.run(FIRST_DAY, ANCHOR.date())
    assert result.success
    # one run covered the whole range: one materialization event per day, all from this run
    raw = materializations_of(result, "raw_feedback")
    days = (ANCHOR.date() - FIRST_DAY).days + 1
    assert sorted(m.partition for m in raw) == \
        [(FIRST_DAY + timedelta(days=n)).isoformat() for n in range(days)]
    truth = {item["feedback_id"]: item for item in pipeline_emulator.store.items()}
    assert len(truth) == 700
    # Each day's event counts that day's rows; the window's total is under its own name.
    per_day = Counter(_utc(item["created_at"]).date().isoformat() for item in truth.values())
    assert {m.partition: m.metadata["dagster/row_count"].value for m in raw} == {
        m.partition: per_day[m.partition] for m in raw}
    points_per_day = {m.partition: m.metadata["dagster/row_count"].value
                      for m in materializations_of(result, "data_points")}
    assert points_per_day == {m.partition: per_day[m.partition] for m in raw}
    assert raw[0].metadata["items"].value == 700
    warehouse = pipeline.warehouse
    points = {row["feedback_id"]: row for row in warehouse.rows(schema.data_points)}
    assert set(points) == set(truth)
    raw = {row["feedback_id"]: json.loads(row["item_json"]) for row in warehouse.rows(schema.raw_feedback)}
    assert raw == truth  # the raw layer is the API's JSON, unchanged

    messages, fields = _by_id(warehouse, schema.data_point_messages), _by_id(warehouse, schema.data_point_fields)
    labels, custom = _by_id(warehouse, schema.data_point_labels), _by_id(warehouse, schema.data_point_custom_data)
    for feedback_id, item in truth.items():
        point = points[feedback_id]
        assert point["project_id"] == item["project_id"]
        assert point["partition_date"] == _utc(item["created_at"]).date()
        assert point["feedback_number"] == item["feedback_number"]
        assert _utc(point["created_at"]) == _utc(item["created_at"])
        assert _utc(point["updated_at"]) == _utc(item["updated_at"])
        assert point["status"] == item["status_type"]
        assert point["priority"] == item.get("priority")
        assert point["submitter_email"] == item.get("email")
        assert point["assignee_id"] == item.get("assignee_id")
        assert point["source_url"] == item["public_link"]
        assert point["screenshot_url"] == (item["screenshot"] or {}).get("annotated_image_url")
        assert point["page_url"] == (item["client"] or {}).get("url")
        assert point["country"] == (item["client"] or {}).get("country_name")
        assert point["is_demo"] is item["is_demo"]
        assert (point["rating"], point["rating_scale"]) == _expected_rating(item, pipeline_emulator.store.rating_scales)

        thread = _expected_thread(item)
        got = [(m["position"], m["label"], m["text"]) for m in sorted(messages.get(feedback_id, []),
                                                                      key=lambda m: m["position"])]
        assert got == [(position, label, text) for position, label, text, _ in thread]
        assert len(fields.get(feedback_id, [])) == len(thread)
        assert point["text"] == _expected_text(thread)
        assert not [line for line in point["text"].splitlines() if line.strip().lstrip("-").isdigit()]

        assert {(lab["label_id"], lab["name"]) for lab in labels.get(feedback_id, [])} == \
            {(lab["company_label_id"], lab["name"]) for lab in item["labels"]}
        assert {c["key"]: json.loads(c["value_json"]) for c in custom.get(feedback_id, [])} == \
            _flatten(item.get("custom_data"))

    assert not list(warehouse.rows(schema.rejected_feedback))


def _snapshot(warehouse):
    tables = {}
    for table in schema.ROW_TYPES:
        columns = [c for c in table.columns if c.name != "fetched_at"]
        query = sa.select(*columns).order_by(*table.primary_key.columns)
        tables[table.name] = [tuple(row) for row in warehouse.fetch(query)]
    return tables


def test_a_second_run_of_the_same_range_leaves_identical_tables(pipeline):
    assert pipeline.run(FIRST_DAY, ANCHOR.date()).success
    first = _snapshot(pipeline.warehouse)
    assert pipeline.run(FIRST_DAY, ANCHOR.date()).success
    assert _snapshot(pipeline.warehouse) == first
    assert len(first["data_points"]) == 700


def test_edits_replace_their_rows_and_nothing_else(pipeline, pipeline_emulator):
    assert pipeline.run(FIRST_DAY, ANCHOR.date()).success
    before = _snapshot(pipeline.warehouse)
    item = pipeline_emulator.store.items()[10]
    pipeline_emulator.store.edit(item["feedback_id"], {"status_type": "done", "labels": [], "custom_data": None})
    day = _utc(item["created_at"]).date()
    assert pipeline.run(day, day).success
    after = _snapshot(pipeline.warehouse)
    point = next(r for r in after["data_points"] if r[0] == item["feedback_id"])
    assert "done" in point
    assert not [r for r in after["data_point_labels"] if r[0] == item["feedback_id"]]
    unchanged = lambda rows: [r for r in rows if r[0] != item["feedback_id"]]  # noqa: E731
    for name in before:
        assert unchanged(after[name]) == unchanged(before[name]), name


def test_each_asset_alone_does_its_own_part(pipeline, pipeline_emulator):
    assert pipeline.run(FIRST_DAY, ANCHOR.date()).success
    imported = _snapshot(pipeline.warehouse)
    tags = range_tags(FIRST_DAY.isoformat(), ANCHOR.date().isoformat())

    # data_points alone: rebuilt from the stored raw layer, without fetching
    with pipeline.warehouse.engine.begin() as conn:
        for table in schema.NORMALIZED_TABLES:
            conn.execute(table.delete())
    pipeline_emulator.reset_request_counts()
    with dg.instance_for_test() as instance:
        result = pipeline.materialize(tags, None, instance=instance, selection=[dg.AssetKey("data_points")])
    assert result.success
    # no page fetched: the only calls are the reconciliation check's one count per project
    assert pipeline_emulator.requests_made() == pipeline_emulator.requests_made("filter_count") == 2
    assert {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()} == {"data_points"}
    assert _snapshot(pipeline.warehouse) == imported

    # raw_feedback alone: fetches an edit into the raw layer; the data points wait for their own run
    item = next(i for i in pipeline_emulator.store.items() if i["status_type"] != "done")
    pipeline_emulator.store.edit(item["feedback_id"], {"status_type": "done"})
    with dg.instance_for_test() as instance:
        assert pipeline.materialize(tags, None, instance=instance, selection=[dg.AssetKey("raw_feedback")]).success
    raw = {r["feedback_id"]: json.loads(r["item_json"]) for r in pipeline.warehouse.rows(schema.raw_feedback)}
    points = {r["feedback_id"]: r for r in pipeline.warehouse.rows(schema.data_points)}
    assert raw[item["feedback_id"]]["status_type"] == "done"
    assert points[item["feedback_id"]]["status"] == item["status_type"]


def test_a_day_written_in_groups_of_pages_is_whole(pipeline, pipeline_emulator, monkeypatch):
    """Many windows in flight write each day in groups of pages (ITEMS_IN_FLIGHT over the concurrency):
    here pages of 7 items, written two pages at a time, by 4 windows at once."""
    from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET
    from usersnap_pipeline.steps import import_window as step
    from usersnap_pipeline.steps.projects import resolve_projects
    from usersnap_pipeline.usersnap import UsersnapClient

    monkeypatch.setattr(step, "ITEMS_IN_FLIGHT", 40)  # 40 // 4 windows = 10 items: two pages of 7 per write
    pipeline.warehouse.ensure_schema()
    with UsersnapClient(pipeline_emulator.base_url, DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, page_size=7) as client:
        report = step.import_window(client, pipeline.warehouse, resolve_projects(client, ()), FIRST_DAY,
                                    ANCHOR.date() + timedelta(days=1), concurrency=4)
        pages = client.stats.snapshot()["pages"]
    truth = {item["feedback_id"]: item for item in pipeline_emulator.store.items()}
    assert pages > 2 * len(report.items_per_day)  # days of several pages each
    assert report.items == report.rows["data_points"] == len(truth) == 700
    raw = {row["feedback_id"]: json.loads(row["item_json"]) for row in pipeline.warehouse.rows(schema.raw_feedback)}
    assert raw == truth
    assert {row["feedback_id"] for row in pipeline.warehouse.rows(schema.data_points)} == set(truth)
    per_day: dict = {}
    for item in truth.values():
        key = (item["project_id"], _utc(item["created_at"]).date())
        per_day[key] = per_day.get(key, 0) + 1
    state = {(r["project_id"], r["partition_date"]): (r["raw_rows"], r["data_points"])
             for r in pipeline.warehouse.rows(schema.partition_state)}
    assert {key: counts for key, counts in state.items() if counts[0]} == \
        {key: (count, count) for key, count in per_day.items()}


def test_a_sparse_history_costs_the_pages_a_crawl_needs_and_a_few_requests_per_project(warehouse_url):
    """Windows are sized by items, not days: a quiet year (3 items a day per project) is fetched in about
    the pages a sequential crawl reads, whatever the number of days, and every day lands whole."""
    from usersnap_pipeline.emulator import DEFAULT_JWT_ID, DEFAULT_JWT_SECRET, Emulator, generate
    from usersnap_pipeline.steps.import_window import import_window
    from usersnap_pipeline.usersnap import UsersnapClient
    from usersnap_pipeline.warehouse import Warehouse

    days, projects, concurrency = 365, 2, 4
    dataset = generate(seed=5, items=days * projects * 3, projects=projects, days=days, end=ANCHOR)
    warehouse = Warehouse(warehouse_url)
    warehouse.ensure_schema()
    first, end = ANCHOR.date() - timedelta(days=days), ANCHOR.date() + timedelta(days=1)
    try:
        with Emulator(dataset, seed=5) as api, UsersnapClient(api.base_url, DEFAULT_JWT_ID, DEFAULT_JWT_SECRET) as client:
            ids = [p["project_id"] for p in api.store.list_projects()]
            api.reset_request_counts()
            report = import_window(client, warehouse, ids, first, end, concurrency=concurrency)
            requests = api.requests_made()
            truth = {item["feedback_id"]: item for item in api.store.items()}
        pages = sum(-(-sum(1 for i in truth.values() if i["project_id"] == p) // 100) for p in ids)
        assert requests <= 1.1 * pages + 2 * concurrency * projects, (requests, pages)
        assert report.items == report.rows["data_points"] == len(truth)
        per_day: dict = {}
        for item in truth.values():
            key = (item["project_id"], _utc(item["created_at"]).date())
            per_day[key] = per_day.get(key, 0) + 1
        state = {(r["project_id"], r["partition_date"]): (r["raw_rows"], r["data_points"])
                 for r in warehouse.rows(schema.partition_state)}
        # every (project, day) recorded, empty ones with zero rows
        assert len(state) == projects * (end - first).days
        assert {key: counts for key, counts in state.items() if counts != (0, 0)} == \
            {key: (count, count) for key, count in per_day.items()}
        placed = {(r["feedback_id"], r["partition_date"]) for r in warehouse.rows(schema.data_points)}
        assert placed == {(key, _utc(item["created_at"]).date()) for key, item in truth.items()}
    finally:
        warehouse.dispose()

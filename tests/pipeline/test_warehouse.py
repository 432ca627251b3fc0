"""Partition writes on the real databases: atomic, idempotent, never a duplicate."""

import sqlite3
from datetime import date, datetime, timedelta, timezone

import psycopg2
import pytest

from usersnap_pipeline.transform.raw import raw_row
from usersnap_pipeline.warehouse import Warehouse, schema

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def _write(warehouse, project, day, rows, version=NOW, ids=()):
    return warehouse.replace_partition(project, day, {schema.raw_feedback: rows}, layer="raw", version=version,
                                       feedback_ids=ids)


def _raw(feedback_id, day, created="2026-06-01T10:00:00Z", project="p1"):
    return raw_row({"feedback_id": feedback_id, "created_at": created, "text": "tab\there\nnew \\ line ☃"},
                   project_id=project, partition_date=day, fetched_at=NOW)


@pytest.fixture
def warehouse(warehouse_url):
    store = Warehouse(warehouse_url)
    store.ensure_schema()
    yield store
    store.dispose()


def _ids(warehouse):
    return sorted((r["feedback_id"], r["partition_date"]) for r in warehouse.rows(schema.raw_feedback))


def test_replace_is_exact_and_text_survives_bulk_loading(warehouse):
    day = date(2026, 6, 1)
    _write(warehouse, "p1", day, [_raw("a", day), _raw("b", day)])
    _write(warehouse, "p2", day, [_raw("c", day, project="p2")])
    _write(warehouse, "p1", day, [_raw("b", day)])
    assert _ids(warehouse) == [("b", day), ("c", day)]
    stored = next(warehouse.rows(schema.raw_feedback))
    assert stored["item_json"] == _raw("b", day).item_json


def test_an_item_that_moved_partition_is_never_there_twice(warehouse):
    first, second = date(2026, 6, 1), date(2026, 6, 2)
    _write(warehouse, "p1", first, [_raw("a", first)], ids=["a"])
    _write(warehouse, "p1", second, [_raw("a", second)], ids=["a"])
    assert _ids(warehouse) == [("a", second)]


def test_a_failed_write_leaves_the_previous_rows(warehouse):
    day = date(2026, 6, 1)
    _write(warehouse, "p1", day, [_raw("a", day)])
    # the bulk load runs on the driver's cursor, so the driver's own IntegrityError surfaces
    with pytest.raises((sqlite3.IntegrityError, psycopg2.IntegrityError)):
        # the same key twice violates the primary key half-way through the transaction
        _write(warehouse, "p1", day, [_raw("x", day), _raw("x", day)], version=NOW + timedelta(seconds=1))
    assert _ids(warehouse) == [("a", day)]
    assert warehouse.partition_version("p1", day) == NOW


def test_a_stale_fetch_that_commits_late_does_not_overwrite_a_newer_one(warehouse):
    day = date(2026, 6, 1)
    assert _write(warehouse, "p1", day, [_raw("new", day)], version=NOW + timedelta(minutes=1))
    assert not _write(warehouse, "p1", day, [_raw("old", day)], version=NOW)
    assert _ids(warehouse) == [("new", day)]
    assert _write(warehouse, "p1", day, [_raw("again", day)], version=NOW + timedelta(minutes=1))  # same version: a re-run
    assert _ids(warehouse) == [("again", day)]

"""Partition writes on the real databases: atomic, idempotent, never a duplicate."""

import sqlite3
import uuid
from datetime import date, datetime, timedelta, timezone

import psycopg
import pytest
import sqlalchemy as sa

from tests.conftest import reset_postgres, utc
from usersnap_pipeline.transform.normalize import DataPoint, Field, normalize_items
from usersnap_pipeline.transform.raw import raw_row
from usersnap_pipeline.warehouse import Warehouse, schema
from usersnap_pipeline.warehouse.store import DaysChunk, read_date

NOW = datetime(2026, 6, 1, tzinfo=timezone.utc)


def _write(warehouse, project, day, rows, version=NOW, ids=()):
    return warehouse.replace_partition(project, day, {schema.raw_feedback: rows}, version=version,
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
    """The raw items as they are in Usersnap now: those found gone are kept, marked, and left out here."""
    return _where(warehouse, schema.raw_feedback)


def _deleted(warehouse, table=schema.raw_feedback):
    return sorted((r["feedback_id"], r["partition_date"]) for r in warehouse.rows(table) if r["deleted_at"])


def test_replace_is_exact_and_text_survives_bulk_loading(warehouse):
    day = date(2026, 6, 1)
    _write(warehouse, "p1", day, [_raw("a", day), _raw("b", day)])
    _write(warehouse, "p2", day, [_raw("c", day, project="p2")])
    _write(warehouse, "p1", day, [_raw("b", day)])
    assert _ids(warehouse) == [("b", day), ("c", day)]
    assert _deleted(warehouse) == [("a", day)]  # gone from the fetch: kept, marked
    stored = next(row for row in warehouse.rows(schema.raw_feedback) if row["feedback_id"] == "b")
    assert stored["item_json"] == _raw("b", day).item_json


def test_every_column_type_and_awkward_text_survive_bulk_loading(warehouse):
    """Binary COPY on PostgreSQL, executemany on SQLite: what is read back is exactly what was written."""
    day = date(2026, 6, 1)
    awkward = ["tab\tand\nnewline\r\n", "carriage\rreturn", "back\\slash \\N \\t", "\\N", "", " ", "☃ ü 𝄞", "a\x01b"]
    points = [DataPoint(f"id-{index}", "p1", day, feedback_number=index, created_at=NOW + timedelta(microseconds=index),
                        updated_at=None if index % 2 else NOW, status=text, priority=None, rating=index / 3,
                        rating_scale=None, submitter_email=text, assignee_id=None, title=text, text=text,
                        source_url=None, screenshot_url=None, page_url=None, browser=None, os=None, country=None,
                        city=None, is_demo=bool(index % 2))
              for index, text in enumerate(awkward)]
    fields = [Field(points[0].feedback_id, "p1", day, 0, "label\t", "number", None, 2.0 ** 60 + 0.5, None, "1e18"),
              Field(points[1].feedback_id, "p1", day, 0, "b", "boolean", None, None, False, "No"),
              Field(points[2].feedback_id, "p1", day, 0, "c", "text", awkward[0], None, None, None)]
    rows = {schema.raw_feedback: [_raw(point.feedback_id, day) for point in points], schema.data_points: points,
            schema.data_point_fields: fields}
    assert warehouse.replace_partition("p1", day, rows, version=NOW, feedback_ids=[p.feedback_id for p in points])

    def read(table):
        return sorted(tuple(_plain(value) for value in row.values()) for row in warehouse.rows(table))
    for table, written in rows.items():
        assert read(table) == sorted(tuple(_plain(value) for value in row) for row in written), table.name


def _plain(value):
    """A value as comparable across databases: SQLite gives naive UTC timestamps and text dates."""
    if isinstance(value, datetime):
        return utc(value)
    return read_date(value) if isinstance(value, str) and len(value) == 10 and value[4] == "-" else value


def test_a_warehouse_of_the_earlier_schema_is_upgraded_in_place_losing_nothing(warehouse):
    """Until 2026-11 the thread was a table; now it is a view of data_point_fields."""
    day = date(2026, 6, 1)
    with warehouse.engine.begin() as conn:  # the earlier schema, with a partition written by it
        conn.execute(sa.text("DROP VIEW data_point_messages"))
        conn.execute(sa.text("ALTER TABLE data_point_fields DROP COLUMN message_text"))
        conn.execute(sa.text(
            "CREATE TABLE data_point_messages (feedback_id TEXT NOT NULL, project_id TEXT NOT NULL, "
            "partition_date DATE NOT NULL, position INTEGER NOT NULL, label TEXT NOT NULL, text TEXT NOT NULL, "
            "PRIMARY KEY (project_id, partition_date, feedback_id, position))"))
        thread = [("a", "p1", day, 0, "Comment", "tab\there ☃"), ("a", "p1", day, 1, "Score", "9"),
                  ("a", "p1", day, 2, "Found it?", "No"),
                  ("a", "p1", day, 3, "Blank", "")]  # text with nothing readable left: an empty message then
        conn.execute(sa.text("INSERT INTO data_point_messages VALUES (:f, :p, :d, :n, :l, :t)"),
                     [dict(zip("fpdnlt", row)) for row in thread])
        conn.execute(sa.text("INSERT INTO data_point_fields (feedback_id, project_id, partition_date, position, "
                             "label, field_type, text_value, number_value, boolean_value) "
                             "VALUES (:f, :p, :d, :n, :l, :k, :t, :x, :b)"),
                     [{"f": "a", "p": "p1", "d": day, "n": 0, "l": "Comment", "k": "text", "t": thread[0][5],
                       "x": None, "b": None},
                      {"f": "a", "p": "p1", "d": day, "n": 1, "l": "Score", "k": "number", "t": None, "x": 9.0,
                       "b": None},
                      {"f": "a", "p": "p1", "d": day, "n": 2, "l": "Found it?", "k": "boolean", "t": None, "x": None,
                       "b": False},
                      {"f": "a", "p": "p1", "d": day, "n": 3, "l": "Blank", "k": "text", "t": None, "x": None,
                       "b": None}])

    warehouse.ensure_schema()
    warehouse.ensure_schema()  # a second start finds nothing left to do

    inspector = sa.inspect(warehouse.engine)
    assert "data_point_messages" not in inspector.get_table_names()
    assert "data_point_messages" in inspector.get_view_names()
    assert [tuple(_plain(value) for value in row.values()) for row in warehouse.rows(schema.data_point_messages)] \
        == thread
    assert [row["message_text"] for row in warehouse.rows(schema.data_point_fields)] == [None, "9", "No", ""]


def test_an_item_that_moved_partition_is_never_there_twice(warehouse):
    first, second = date(2026, 6, 1), date(2026, 6, 2)
    _write(warehouse, "p1", first, [_raw("a", first)], ids=["a"])
    _write(warehouse, "p1", second, [_raw("a", second)], ids=["a"])
    assert _ids(warehouse) == [("a", second)]


def test_a_failed_write_leaves_the_previous_rows(warehouse):
    day = date(2026, 6, 1)
    _write(warehouse, "p1", day, [_raw("a", day)])
    # the bulk load runs on the driver's cursor, so the driver's own IntegrityError surfaces
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):
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
    assert _ids(warehouse) == [("again", day)] and _deleted(warehouse) == [("new", day)]


def _with_data_points(day, *feedback_ids, project="p1"):
    """The raw rows of these items and their data point tables, as the import writes them together."""
    items = [{"feedback_id": fid, "created_at": f"{day.isoformat()}T10:00:00Z",
              "ordered_inputs": [{"order": 0, "label": "Comment", "text_value": f"about {fid}"}]}
             for fid in feedback_ids]
    raw = [raw_row(item, project_id=project, partition_date=day, fetched_at=NOW) for item in items]
    batch = normalize_items([(row.feedback_id, item) for row, item in zip(raw, items)], project_id=project,
                            partition_date=day)
    return {schema.raw_feedback: raw, **schema.normalized_rows(batch)}


def _where(warehouse, table):
    """Where the rows of ``table`` are; for raw items and data points, those not marked deleted."""
    return sorted((r["feedback_id"], r["partition_date"]) for r in warehouse.rows(table) if not r.get("deleted_at"))


def test_an_item_that_moved_leaves_every_table_of_its_old_partition(warehouse):
    first, second = date(2026, 6, 1), date(2026, 6, 2)
    assert warehouse.replace_partition("p1", first, _with_data_points(first, "a", "b"), version=NOW,
                                       feedback_ids=["a", "b"])
    # "a" now arrives under the second day: raw only first (a fetch without normalizing) ...
    moved = _with_data_points(second, "a")
    assert warehouse.replace_partition("p1", second, {schema.raw_feedback: moved[schema.raw_feedback]},
                                       version=NOW, feedback_ids=["a"])
    for table in (schema.raw_feedback, schema.data_points, schema.data_point_messages):
        assert ("a", first) not in _where(warehouse, table), table.name
        assert ("b", first) in _where(warehouse, table), table.name
    # ... then with its data point tables: in the new partition, once
    assert warehouse.replace_partition("p1", second, moved, version=NOW, feedback_ids=["a"])
    assert _where(warehouse, schema.data_points) == [("a", second), ("b", first)]
    assert _where(warehouse, schema.data_point_messages) == [("a", second), ("b", first)]
    state = {r["partition_date"]: r for r in warehouse.rows(schema.partition_state)}
    assert state[second]["raw_rows"] == 1 and state[second]["data_points"] == 1


def test_a_re_normalization_never_takes_an_item_back_from_where_it_moved(warehouse):
    """Data points alone (re-normalized from raw rows read earlier) are written only for items whose raw
    row is still in that partition: the stale rows of an item that moved since are dropped, and the
    item's raw row and data point where it went stay."""
    first, second = date(2026, 6, 1), date(2026, 6, 2)
    assert warehouse.replace_partition("p1", first, _with_data_points(first, "a", "b"), version=NOW,
                                       feedback_ids=["a", "b"])
    stale = _with_data_points(first, "a", "b")  # as re-normalized from the raw rows read now
    del stale[schema.raw_feedback]
    later = NOW + timedelta(minutes=1)
    assert warehouse.replace_partition("p1", second, _with_data_points(second, "a"), version=later,
                                       feedback_ids=["a"])
    assert warehouse.replace_partition("p1", first, stale, version=NOW, feedback_ids=["a", "b"])
    assert _where(warehouse, schema.raw_feedback) == [("a", second), ("b", first)]
    assert _where(warehouse, schema.data_points) == [("a", second), ("b", first)]
    assert _where(warehouse, schema.data_point_messages) == [("a", second), ("b", first)]
    state = {r["partition_date"]: r["data_points"] for r in warehouse.rows(schema.partition_state)}
    assert state == {first: 1, second: 1}


def test_raw_and_data_points_of_a_partition_are_written_together_or_not_at_all(warehouse):
    day = date(2026, 6, 1)
    assert warehouse.replace_partition("p1", day, _with_data_points(day, "a"), version=NOW, feedback_ids=["a"])
    broken = _with_data_points(day, "b", "c")
    broken[schema.data_point_fields] = broken[schema.data_point_fields] * 2  # a duplicate key mid-write
    with pytest.raises((sqlite3.IntegrityError, psycopg.IntegrityError)):
        warehouse.replace_partition("p1", day, broken, version=NOW + timedelta(seconds=1), feedback_ids=["b", "c"])
    assert _where(warehouse, schema.raw_feedback) == [("a", day)]
    assert _where(warehouse, schema.data_points) == [("a", day)]
    assert warehouse.partition_version("p1", day, "normalized") == NOW


def _chunk(rows):
    return rows, [row.feedback_id for row in rows[schema.raw_feedback]]


def _stream_day(warehouse, day, tables, pages, version):
    """A day's pages handed over as they come, as the import does; whether the day was written."""
    def chunks():
        for chunk in pages():
            yield DaysChunk({day: chunk}, whole_before=day)
        yield DaysChunk({}, whole_before=day + timedelta(days=1))
    written = warehouse.write_days("p1", day, day + timedelta(days=1), tables, lambda _: (version, chunks()))
    warehouse.mark_gone("p1", written)  # the day's listing was whole: what it lacks is gone
    return day in written.days


def test_a_partition_streamed_page_by_page_is_written_whole_or_not_at_all(warehouse):
    """The import hands its pages over as they come: a failure on a later page (the API gave up) leaves
    the partition as it was, and a complete stream replaces it, counts included."""
    day = date(2026, 6, 1)
    tables = [schema.raw_feedback, *schema.NORMALIZED_TABLES]
    assert warehouse.replace_partition("p1", day, _with_data_points(day, "a"), version=NOW, feedback_ids=["a"])

    def failing_on_the_second_page():
        yield _chunk(_with_data_points(day, "b", "c"))
        raise RuntimeError("page 2: the API kept answering 503")
    with pytest.raises(RuntimeError, match="page 2"):
        _stream_day(warehouse, day, tables, failing_on_the_second_page, NOW + timedelta(seconds=1))
    assert _where(warehouse, schema.raw_feedback) == [("a", day)]
    assert _where(warehouse, schema.data_points) == [("a", day)]
    assert warehouse.partition_version("p1", day) == NOW

    pages = [_chunk(_with_data_points(day, "b", "c")), _chunk(_with_data_points(day, "d"))]
    assert _stream_day(warehouse, day, tables, lambda: iter(pages), NOW + timedelta(seconds=2))
    assert _where(warehouse, schema.raw_feedback) == [("b", day), ("c", day), ("d", day)]
    assert _deleted(warehouse) == _deleted(warehouse, schema.data_points) == [("a", day)]
    # the deleted item's thread stays with its data point
    assert _where(warehouse, schema.data_point_messages) == [("a", day), ("b", day), ("c", day), ("d", day)]
    [state] = warehouse.rows(schema.partition_state)
    assert (state["raw_rows"], state["data_points"]) == (3, 3)


def test_a_stale_stream_is_dropped_and_on_postgres_never_fetched(warehouse):
    day = date(2026, 6, 1)
    assert warehouse.replace_partition("p1", day, _with_data_points(day, "a"), version=NOW, feedback_ids=["a"])
    fetched = []

    def pages():
        fetched.append(day)
        yield _chunk(_with_data_points(day, "b"))
    assert not _stream_day(warehouse, day, [schema.raw_feedback], pages, NOW - timedelta(seconds=1))
    assert _where(warehouse, schema.raw_feedback) == [("a", day)]
    # SQLite gathers the pages before it may take the write lock; PostgreSQL claims the partition first.
    assert fetched == ([day] if warehouse.dialect == "sqlite" else [])


def _days_stream(pages, first, end, version, *, fail_after=None):
    """``pages``: lists of (day, feedback ids) as a crawl serves them, in day order; each page one chunk,
    whole up to its last item's day. With ``fail_after``, the API gives up after that many pages. Records
    the day each call starts from."""
    calls = []

    def stream(from_day):
        calls.append(from_day)

        def chunks():
            for n, page in enumerate(p for p in pages if p[-1][0] >= from_day):
                if fail_after is not None and n == fail_after:
                    raise RuntimeError("the API kept answering 503")
                days = {}
                for day, feedback_id in page:
                    if day >= from_day:
                        days.setdefault(day, []).append(feedback_id)
                yield DaysChunk({day: _chunk(_with_data_points(day, *ids)) for day, ids in days.items()},
                                whole_before=page[-1][0])
            yield DaysChunk({}, whole_before=end)
        return version, chunks()
    return stream, calls


def test_many_days_are_written_in_transactions_of_whole_days(warehouse):
    """A window's days go in batches of a few items, each a transaction of whole days: a day split over
    two pages lands whole, empty days are recorded, and when the API gives up midway the batches before
    stay written, the rest as they were."""
    tables = [schema.raw_feedback, *schema.NORMALIZED_TABLES]
    first = date(2026, 6, 1)
    day = [first + timedelta(days=n) for n in range(8)]
    pages = [[(day[0], "a"), (day[0], "b"), (day[1], "c")], [(day[1], "d"), (day[3], "e"), (day[3], "f")],
             [(day[4], "g"), (day[6], "h"), (day[6], "i")]]
    stream, _ = _days_stream(pages, first, day[7], NOW, fail_after=2)
    with pytest.raises(RuntimeError, match="503"):
        warehouse.write_days("p1", first, day[7], tables, stream, items_per_transaction=2)
    # the first batch took days 0 to 2 once page 2 showed day 3 (day 2 empty); the second, from day 3, failed
    assert _where(warehouse, schema.raw_feedback) == [("a", day[0]), ("b", day[0]), ("c", day[1]), ("d", day[1])]
    assert _where(warehouse, schema.data_points) == _where(warehouse, schema.raw_feedback)
    assert {r["partition_date"] for r in warehouse.rows(schema.partition_state)} == set(day[:3])

    stream, calls = _days_stream(pages, first, day[7], NOW + timedelta(seconds=1))
    written = warehouse.write_days("p1", first, day[7], tables, stream, items_per_transaction=2)
    assert written.days == set(day[:7]) and not written.stale and calls == [first]
    assert _where(warehouse, schema.raw_feedback) == sorted((fid, d) for page in pages for d, fid in page)
    assert _where(warehouse, schema.data_points) == _where(warehouse, schema.raw_feedback)
    state = {r["partition_date"]: (r["raw_rows"], r["data_points"]) for r in warehouse.rows(schema.partition_state)}
    assert state == {day[0]: (2, 2), day[1]: (2, 2), day[2]: (0, 0), day[3]: (2, 2), day[4]: (1, 1),
                     day[5]: (0, 0), day[6]: (2, 2)}


@pytest.mark.postgres
def test_postgres_loads_each_page_before_the_next_is_fetched(postgres_url):
    """What keeps memory flat: a page's rows are in the open transaction before the next page is asked
    for. Another session sees the writer's lock on raw_feedback (taken by its COPY) while it "fetches"."""
    reset_postgres(postgres_url)
    warehouse = Warehouse(postgres_url)
    warehouse.ensure_schema()
    observer = sa.create_engine(postgres_url)
    day = date(2026, 6, 1)
    locked_while_fetching = []

    def raw_feedback_locked_for_writing() -> bool:
        with observer.connect() as conn:
            return bool(conn.execute(sa.text(
                "SELECT count(*) FROM pg_locks WHERE relation = 'raw_feedback'::regclass "
                "AND mode = 'RowExclusiveLock' AND pid <> pg_backend_pid()")).scalar())

    def pages():
        for ids in (("a", "b"), ("c",)):
            locked_while_fetching.append(raw_feedback_locked_for_writing())
            yield _chunk(_with_data_points(day, *ids))
    try:
        assert _stream_day(warehouse, day, [schema.raw_feedback, *schema.NORMALIZED_TABLES], pages, NOW)
        assert locked_while_fetching == [False, True]
        assert _where(warehouse, schema.raw_feedback) == [("a", day), ("b", day), ("c", day)]
    finally:
        observer.dispose()
        warehouse.dispose()


@pytest.mark.postgres
def test_a_connection_lost_in_the_copy_itself_is_retried_and_the_day_lands_whole(postgres_url, monkeypatch):
    """The bulk load runs on psycopg's own cursor, outside SQLAlchemy's wrapping of errors: a connection lost
    there raises the driver's own error, which must be retried like any lost connection."""
    reset_postgres(postgres_url)
    warehouse = Warehouse(postgres_url, retry_seconds=30)
    warehouse.ensure_schema()
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    load, cut = Warehouse._bulk_insert, []

    def cut_then_load(self, conn, table, rows):
        if not cut:  # the first load only: its connection's server process is ended just before the COPY
            cut.append(conn.connection.driver_connection.info.backend_pid)
            with admin.connect() as other:
                other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": cut[0]})
        return load(self, conn, table, rows)

    monkeypatch.setattr(Warehouse, "_bulk_insert", cut_then_load)
    day = date(2026, 6, 1)
    try:
        _write(warehouse, "p1", day, [_raw("a", day), _raw("b", day)])
        assert cut
        assert _ids(warehouse) == [("a", day), ("b", day)]
        assert warehouse.partition_version("p1", day) == NOW
    finally:
        admin.dispose()
        warehouse.dispose()


def test_statistics_are_refreshed_after_a_large_write_only(postgres_url):
    reset_postgres(postgres_url)  # no counters left by other tests
    warehouse = Warehouse(postgres_url)
    warehouse.ensure_schema()
    try:
        day = date(2026, 6, 1)
        _write(warehouse, "p1", day, [_raw(f"id-{n}", day) for n in range(300)])
        warehouse.dispose()  # a backend reports its table counters when it ends
        assert warehouse.refresh_statistics(schema.PARTITIONED_TABLES) == ["raw_feedback"]
        warehouse.dispose()
        assert warehouse.refresh_statistics(schema.PARTITIONED_TABLES) == []  # nothing changed since
        _write(warehouse, "p1", day, [_raw(f"id-{n}", day) for n in range(305)], version=NOW + timedelta(seconds=1))
        warehouse.dispose()
        assert warehouse.refresh_statistics(schema.PARTITIONED_TABLES) == ["raw_feedback"]  # 300 deleted + 305 inserted
    finally:
        warehouse.dispose()


def _item_json_compression(warehouse) -> str:
    """How new raw_feedback.item_json values are compressed: l (lz4), p (pglz) or '' (the server's default)."""
    return warehouse.fetch(sa.text("SELECT attcompression FROM pg_attribute WHERE "
                                   "attrelid = 'raw_feedback'::regclass AND attname = 'item_json'"))[0][0]


@pytest.mark.postgres
def test_raw_items_are_compressed_with_lz4_and_read_back_exactly(postgres_url):
    reset_postgres(postgres_url)
    warehouse = Warehouse(postgres_url)
    try:
        warehouse.ensure_schema()
        warehouse.ensure_schema()  # a second start finds it done
        assert _item_json_compression(warehouse) == "l"
        day = date(2026, 6, 1)
        long_item = {"feedback_id": "long", "created_at": "2026-06-01T10:00:00Z", "text": "ça va ☃ " * 2000}
        row = raw_row(long_item, project_id="p1", partition_date=day, fetched_at=NOW)
        _write(warehouse, "p1", day, [row])
        [(stored, stored_method)] = warehouse.fetch(sa.text(
            "SELECT item_json, pg_column_compression(item_json) FROM raw_feedback"))
        assert stored == row.item_json and stored_method == "lz4"
    finally:
        warehouse.dispose()


@pytest.mark.postgres
def test_a_role_that_does_not_own_the_tables_can_still_start_and_write(postgres_url):
    reset_postgres(postgres_url)
    admin = Warehouse(postgres_url)
    role = f"usersnap_writer_{uuid.uuid4().hex[:8]}"
    try:
        admin.ensure_schema()
        with admin.engine.begin() as conn:  # tables made by an admin, before lz4 was set
            conn.execute(sa.text("ALTER TABLE raw_feedback ALTER COLUMN item_json SET COMPRESSION pglz"))
            conn.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
            conn.execute(sa.text(f"GRANT USAGE ON SCHEMA public TO {role}"))
            conn.execute(sa.text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"))
        writer = Warehouse(postgres_url.replace("postgres@", f"{role}@", 1))
        try:
            writer.ensure_schema()  # would need ownership to ALTER: it leaves the column as it is
            day = date(2026, 6, 1)
            assert _write(writer, "p1", day, [_raw("a", day)], ids=["a"])
        finally:
            writer.dispose()
        assert _ids(admin) == [("a", day)]
        assert _item_json_compression(admin) == "p"
    finally:
        with admin.engine.begin() as conn:
            if conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}).first():
                conn.execute(sa.text(f"DROP OWNED BY {role}; DROP ROLE {role}"))
        admin.dispose()

"""Reading and writing the warehouse. Every write replaces one (project, day) partition of a set
of tables in a single transaction: a re-run gives the same rows, a failed run leaves the previous
rows in place, and readers see either the old partition or the new one, never half of it.

PostgreSQL is loaded with COPY; SQLite with executemany inside the transaction.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import psycopg2
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from . import migrate, schema
from .copy_text import copy_data

log = logging.getLogger(__name__)

_IDS_PER_CHUNK = 5000  # ids per statement: a bounded size for any database
_ATTEMPTS = 5  # a restarting PostgreSQL is usually back within a few seconds
_TRANSIENT = ("could not connect", "connection refused", "server closed the connection", "terminating connection",
              "the database system is starting up", "the database system is shutting down", "database is locked",
              "connection already closed", "ssl connection has been closed",
              # two partitions written at once, each removing an item that moved into the other
              "deadlock detected")
NAMESPACE = re.compile(r"^[a-z][a-z0-9_]*$")
_SCHEMA_LOCK = 0x75736E70  # PostgreSQL advisory lock key ("usnp") held while the schema is made current
_SQLITE_LOCK = threading.Lock()  # one writer at a time per process; busy_timeout covers other processes
# partition_state's counts of a partition's rows, by the table counted
_COUNTED = {schema.raw_feedback: "raw_rows", schema.data_points: "data_points"}

# A connection lost mid-transaction surfaces as OperationalError, or as InterfaceError when the rollback
# meets the dead connection; COPY runs on the driver's own cursor, whose errors SQLAlchemy does not wrap.
_CONNECTION_ERRORS = (sa.exc.OperationalError, sa.exc.InterfaceError, psycopg2.OperationalError,
                      psycopg2.InterfaceError)

Chunk = tuple[dict[sa.Table, Sequence[tuple]], Sequence[str]]  # rows by table, and the feedback ids they are of


class Warehouse:
    def __init__(self, url: str, *, connections: int = 5, namespace: str = ""):
        """``connections``: how many threads write at once. A PostgreSQL write holds its connection while
        its pages are fetched, so each writer needs one of its own.

        ``namespace`` keeps one Usersnap account's tables apart from another's in the same warehouse, under
        the same table names: on PostgreSQL it is a schema (every connection's ``search_path``), on SQLite,
        which has no schemas, a database file beside the main one (``warehouse.eu.sqlite``). Empty: the
        database's default schema, the main file.
        """
        self.url = sa.make_url(url)
        if self.url.drivername == "postgresql":
            # psycopg2 ships with dagster-postgres; SQLAlchemy 2.1 would otherwise pick psycopg 3.
            self.url = self.url.set(drivername="postgresql+psycopg2")
        self.dialect = self.url.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise ValueError("the warehouse must be SQLite or PostgreSQL")
        if namespace and not NAMESPACE.match(namespace):
            raise ValueError(f"warehouse namespace {namespace!r}: lowercase letters, digits and underscores only")
        self.namespace = namespace
        in_file = self.dialect == "sqlite" and self.url.database and self.url.database != ":memory:"
        if in_file and namespace:
            main = Path(self.url.database)
            self.url = self.url.set(database=str(main.with_name(f"{main.stem}.{namespace}{main.suffix}")))
        if in_file:
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": 60} if self.dialect == "sqlite" else {"connect_timeout": 10}
        if self.dialect == "postgresql" and namespace:
            # Every statement, raw SQL and COPY included, then reads and writes the account's schema alone.
            connect_args["options"] = f"-c search_path={namespace}"
        self.engine = sa.create_engine(self.url, connect_args=connect_args, pool_pre_ping=True,
                                       pool_size=max(5, connections))
        if self.dialect == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)

    def __repr__(self) -> str:
        return f"Warehouse({self.url.render_as_string(hide_password=True)!r})"

    def dispose(self) -> None:
        self.engine.dispose()

    def ensure_schema(self) -> None:
        with self._writing(), self.engine.begin() as conn:
            if self.dialect == "postgresql":
                # Every step of a run starts here, several at once: one at a time, or two would both find
                # a table missing (or an upgrade to do) and the second would fail making it.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
                if self.namespace:
                    conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.namespace}"'))
            migrate.to_current_schema(conn)
        if self.dialect == "postgresql":
            self._compress_with_lz4(schema.raw_feedback.c.item_json)

    def _compress_with_lz4(self, column: sa.Column) -> None:
        """Store ``column``'s long values compressed with lz4 where the server has it (PostgreSQL 14+).

        Raw items are about 2 kB, so half of them are compressed on the way in: with the default
        (pglz) that was 8% of PostgreSQL's CPU during an import; lz4 compresses several times faster
        at a similar size. Values already stored keep their compression; both read back the same.
        """
        with self.engine.begin() as conn:
            if not conn.execute(sa.text(  # no such setting before 14; no lz4 in a server built without it
                    "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")).scalar():
                return
            current, may_alter = conn.execute(sa.text(
                "SELECT a.attcompression, pg_has_role(c.relowner, 'USAGE') FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid WHERE c.oid = CAST(:table AS regclass) AND a.attname = :column"),
                {"table": column.table.name, "column": column.name}).one()
            # Altered only once: the ALTER takes a lock that would wait for running imports. A role that
            # does not own the table (tables made by an admin, the pipeline on a narrower role) leaves it.
            if current != "l" and may_alter:
                conn.execute(sa.text(f'ALTER TABLE "{column.table.name}" ALTER COLUMN "{column.name}" '
                                     "SET COMPRESSION lz4"))
            elif current != "l":
                log.info("%s.%s stays on the server's default compression: only its owner may change that",
                         column.table.name, column.name)

    # -- writing ------------------------------------------------------------------------------

    def replace_partition(self, project_id: str, day: date, rows: dict[sa.Table, Sequence[tuple]], *,
                          version: datetime, feedback_ids: Iterable[str] = ()) -> bool:
        """Replace the rows of (project_id, day) in each given table, all in one transaction.

        Each table belongs to a layer (``raw`` or ``normalized``: ``schema.LAYERS``); ``version`` orders
        the writes of a layer: the write happens only if no newer version of the partition was written
        already (a stale run that commits late is dropped and False is returned). Rows of
        ``feedback_ids`` are removed wherever they are, so an item that arrives under another
        partition is never there twice.
        """
        chunk = (rows, list(feedback_ids))
        return self.stream_partition(project_id, day, list(rows), lambda: [chunk], version=version)

    def stream_partition(self, project_id: str, day: date, tables: Sequence[sa.Table],
                         chunks: Callable[[], Iterable[Chunk]], *, version: datetime,
                         gone: list[str] | None = None) -> bool:
        """:meth:`replace_partition` with the rows of ``tables`` arriving in chunks, (rows by table, their
        feedback ids), as pages come from the API.

        PostgreSQL loads each chunk as it arrives, inside the one transaction: memory holds a chunk, not a
        partition, whatever the partition's size. SQLite, one writer at a time, gathers the
        chunks before it takes the write lock: fetching while holding it would stop every other write.
        ``chunks`` is called again when the transaction is retried; on PostgreSQL, it is not iterated at
        all when a newer version of the partition is already stored (nothing is fetched for nothing).
        A PostgreSQL transaction stays open while the API is waited for: seconds, under a 429 pause
        longer, which a server's ``idle_in_transaction_session_timeout`` must allow.

        A fetch of a partition fetched before replaces its items one by one, and the items it held that
        the fetch no longer returned are kept, marked deleted; ``gone`` receives their ids.
        """
        layers = sorted({schema.LAYERS[table] for table in tables})

        def attempt() -> bool:
            found: list[str] = []  # only a committed attempt's count: a retried transaction finds them again
            written = self._replace_once(project_id, day, tables, layers, version, chunks, found)
            if gone is not None:
                gone.extend(found)
            return written

        return self._retrying(f"write {project_id} {day} ({', '.join(layers)})", attempt)

    def _replace_once(self, project_id: str, day: date, tables: Sequence[sa.Table], layers: list[str],
                      version: datetime, chunks: Callable[[], Iterable[Chunk]], gone: list[str]) -> bool:
        # Calling ``chunks`` fetches nothing yet: a generator's pages come as the loop below asks for them.
        arriving = [gathered(chunks())] if self.dialect == "sqlite" else chunks()
        with_raw = schema.raw_feedback in tables
        with self._writing(), self.engine.begin() as conn:
            if self.dialect == "postgresql":
                # Tables that grow during an import have no statistics yet, and for the moved-id lookups
                # (hundreds of ids) the planner then prefers a sequential scan: a cost growing with the
                # table, paid per partition, quadratic over a backfill (85 s of 166 s at 200k items).
                # Every statement here has an index that serves it.
                conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
            written_before = self._claim(conn, project_id, day, layers, version)
            if written_before is None:
                return False
            # A fetch of a partition fetched before replaces its items one by one: an item the API no
            # longer returns keeps its rows, marked deleted (soft delete), instead of vanishing.
            refetch = with_raw and "raw" in written_before
            present = self._present_ids(conn, project_id, day) if refetch else set()
            for table in tables:
                # A layer never written for this partition has no rows in it: nothing to delete.
                if schema.LAYERS[table] in written_before and not refetch:
                    conn.execute(table.delete().where(table.c.project_id == project_id,
                                                      table.c.partition_date == day))
            counts = {name: 0 for table, name in _COUNTED.items() if table in tables}
            arrived: set[str] = set()
            for rows, chunk_ids in arriving:
                if with_raw:
                    # feedback_id is the first column of every partitioned table (schema._partitioned).
                    ids = sorted({*chunk_ids, *(row[0] for row in rows.get(schema.raw_feedback, ()))})
                    if refetch:
                        self._delete_ids(conn, tables, ids, project_id, day)
                        arrived.update(ids)
                    self._delete_moved(conn, ids, project_id, day)
                else:
                    # Data point rows alone (a re-normalization) follow the raw layer, which says where an
                    # item lives: only items whose raw row is here now are written. One that moved since
                    # its raw row was read keeps its rows where it went.
                    rows = self._only_items_here(conn, rows, chunk_ids, project_id, day)
                for table, table_rows in rows.items():
                    if table_rows:
                        self._bulk_insert(conn, table, table_rows)
                    if table in _COUNTED:
                        counts[_COUNTED[table]] += len(table_rows)
            if refetch:
                gone.extend(sorted(present - arrived))
                self._mark_deleted(conn, gone, project_id, day, version)
            if counts:
                conn.execute(schema.partition_state.update().where(*_state_key(project_id, day)).values(**counts))
        return True

    def _present_ids(self, conn: sa.Connection, project_id: str, day: date) -> set[str]:
        """The items of a partition that are not marked deleted."""
        raw = schema.raw_feedback
        return set(conn.execute(sa.select(raw.c.feedback_id).where(
            raw.c.project_id == project_id, raw.c.partition_date == day, raw.c.deleted_at.is_(None))).scalars())

    def _delete_ids(self, conn: sa.Connection, tables: Sequence[sa.Table], ids: list[str], project_id: str,
                    day: date) -> None:
        """The rows of ``ids`` in the partition (``project_id``, ``day``) of each of ``tables``."""
        for chunk in _chunks(ids):
            for table in tables:
                conn.execute(table.delete().where(table.c.project_id == project_id, table.c.partition_date == day,
                                                  self._id_in(table.c.feedback_id)),
                             {"ids": self._ids_value(chunk)})

    def _mark_deleted(self, conn: sa.Connection, ids: list[str], project_id: str, day: date,
                      when: datetime) -> None:
        """Items Usersnap no longer returns: their raw and data point rows stay, with ``deleted_at``; their
        other rows stay with them. A rejected item gone is no longer listed as rejected."""
        for chunk in _chunks(ids):
            where = {"ids": self._ids_value(chunk)}
            for table in (schema.raw_feedback, schema.data_points):
                conn.execute(table.update().where(table.c.project_id == project_id, table.c.partition_date == day,
                                                  self._id_in(table.c.feedback_id), table.c.deleted_at.is_(None))
                             .values(deleted_at=when), where)
            rejected = schema.rejected_feedback
            conn.execute(rejected.delete().where(rejected.c.project_id == project_id, rejected.c.partition_date == day,
                                                 self._id_in(rejected.c.feedback_id)), where)

    def _delete_moved(self, conn: sa.Connection, ids: list[str], project_id: str, day: date) -> None:
        """An item lives in one partition: if any of ``ids`` has rows in another (it moved), they go from
        there, from every table, so no layer ever holds it twice."""
        for (old_project, old_day), moved in self._ids_elsewhere(conn, ids, project_id, day).items():
            self._delete_ids(conn, schema.PARTITIONED_TABLES, moved, old_project, old_day)

    def _only_items_here(self, conn: sa.Connection, rows: dict[sa.Table, Sequence[tuple]], ids: Sequence[str],
                         project_id: str, day: date) -> dict[sa.Table, Sequence[tuple]]:
        """``rows`` without those of items whose raw row is not in this partition. The raw rows kept
        are locked until commit: a write moving one of them elsewhere waits, then removes these rows too."""
        raw = schema.raw_feedback
        here: set[str] = set()
        for chunk in _chunks(ids):
            query = (sa.select(raw.c.feedback_id)
                     .where(raw.c.project_id == project_id, raw.c.partition_date == day,
                            self._id_in(raw.c.feedback_id))
                     .with_for_update(read=True))
            here.update(conn.execute(query, {"ids": self._ids_value(chunk)}).scalars())
        if here.issuperset(ids):
            return rows
        # feedback_id is the first column of every partitioned table (schema._partitioned).
        return {table: [row for row in table_rows if row[0] in here] for table, table_rows in rows.items()}

    def _claim(self, conn: sa.Connection, project_id: str, day: date, layers: list[str],
               version: datetime) -> set[str] | None:
        """Take the partition for this write: the layers written before, or None when a newer version
        of one of them is already stored (this write lost).

        A new partition is one INSERT. Otherwise the row is locked until commit (two writers of one
        partition are serialized, and the older one sees it lost), compared, then updated.
        """
        state = schema.partition_state
        versions = {f"{layer}_version": version for layer in layers}
        values = {"project_id": project_id, "partition_date": day, **versions}
        if conn.execute(_insert_state_if_missing(self.dialect, values).returning(state.c.project_id)).first():
            return set()
        columns = [state.c[name] for name in versions]
        previous = conn.execute(sa.select(*columns).where(*_state_key(project_id, day)).with_for_update()).one()
        stored = [read_timestamp(value) for value in previous]
        if any(value is not None and value > version for value in stored):
            return None
        conn.execute(state.update().where(*_state_key(project_id, day)).values(**versions))
        return {layer for layer, value in zip(layers, stored, strict=True) if value is not None}

    def _ids_elsewhere(self, conn: sa.Connection, ids: list[str], project_id: str,
                       day: date) -> dict[tuple[str, date], list[str]]:
        """Which of ``ids`` have rows in another partition (items that moved), by that partition: one
        query, usually answered with nothing. Every id with rows in a partition has one in
        ``schema.ID_TABLES`` there."""
        found: dict[tuple[str, date], set[str]] = {}
        for chunk in _chunks(ids):
            where = {"ids": self._ids_value(chunk), "project_id": project_id, "day": day}
            for old_project, old_day, feedback_id in conn.execute(self._moved_lookup, where):
                found.setdefault((old_project, read_date(old_day)), set()).add(feedback_id)
        return {partition: sorted(moved) for partition, moved in sorted(found.items())}

    @functools.cached_property
    def _moved_lookup(self) -> sa.CompoundSelect:
        # Built once: building it per partition cost three times as much CPU as running it.
        return sa.union(*(sa.select(table.c.project_id, table.c.partition_date, table.c.feedback_id)
                          .where(self._id_in(table.c.feedback_id),
                                 sa.or_(table.c.project_id != sa.bindparam("project_id"),
                                        table.c.partition_date != sa.bindparam("day")))
                          for table in schema.ID_TABLES))

    def _id_in(self, column: sa.Column) -> sa.ColumnElement[bool]:
        """``column`` is one of the ids given as parameter ``ids`` (its value from ``_ids_value``).

        One parameter holds every id: rendering hundreds of IN parameters per statement cost more than
        the lookup. PostgreSQL takes an array; SQLite a JSON array, read back with json_each.
        """
        if self.dialect == "postgresql":
            return column == sa.any_(sa.bindparam("ids", type_=postgresql.ARRAY(sa.Text)))
        return column.in_(sa.select(sa.column("value")).select_from(sa.func.json_each(sa.bindparam("ids"))))

    def _ids_value(self, ids: Sequence[str]) -> list[str] | str:
        return list(ids) if self.dialect == "postgresql" else json.dumps(list(ids))

    def replace_project_rows(self, table: sa.Table, project_id: str, rows: Sequence[tuple]) -> None:
        """Replace one project's rows of an unpartitioned table in one transaction."""
        self._replace({table: rows}, lambda t: [t.delete().where(t.c.project_id == project_id)],
                      f"write {table.name} of {project_id}")

    def replace_rows(self, rows: dict[sa.Table, Sequence[tuple]], *, feedback_ids: Iterable[str] = (),
                     whole: Iterable[sa.Table] = ()) -> None:
        """Replace rows of several unpartitioned tables in one transaction: every row of the tables
        in ``whole``, only the rows of ``feedback_ids`` in the others."""
        ids, whole = sorted(set(feedback_ids)), set(whole)

        def deletes(table: sa.Table) -> list[sa.Delete]:
            if table in whole:
                return [table.delete()]
            return [table.delete().where(table.c.feedback_id.in_(chunk)) for chunk in _chunks(ids)]
        self._replace(rows, deletes, f"write {', '.join(table.name for table in rows)}")

    def _replace(self, rows: dict[sa.Table, Sequence[tuple]], deletes, what: str) -> None:
        """In one transaction, per table: run ``deletes(table)``, then bulk-load its new rows."""
        def replace() -> None:
            with self._writing(), self.engine.begin() as conn:
                for table, table_rows in rows.items():
                    for statement in deletes(table):
                        conn.execute(statement)
                    if table_rows:
                        self._bulk_insert(conn, table, table_rows)
        self._retrying(what, replace)

    def _retrying(self, what: str, action):
        """Run a whole transaction again when the connection was lost (a database restart, a network
        blip) or SQLite was busy. Safe: a transaction that failed left nothing, and every write is
        idempotent."""
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                return action()
            except _CONNECTION_ERRORS as exc:
                if attempt == _ATTEMPTS or not _is_transient(exc):
                    raise
                delay = 0.5 * 2 ** (attempt - 1)
                cause = getattr(exc, "orig", None) or exc
                log.warning("%s failed (%s); retry %d/%d in %.1fs", what,
                            (str(cause).strip().splitlines() or [type(exc).__name__])[0], attempt, _ATTEMPTS - 1,
                            delay)
                self.engine.dispose()  # drop pooled connections to the old server
                time.sleep(delay)
        raise AssertionError("unreachable")

    def partition_version(self, project_id: str, day: date, layer: str = "raw") -> datetime | None:
        state = schema.partition_state
        rows = self.fetch(sa.select(state.c[f"{layer}_version"]).where(*_state_key(project_id, day)))
        return read_timestamp(rows[0][0]) if rows else None

    def _bulk_insert(self, conn: sa.Connection, table: sa.Table, rows: Sequence[tuple]) -> None:
        columns = list(table.columns.keys())
        cursor = conn.connection.driver_connection.cursor()
        try:
            if self.dialect == "postgresql":
                data = copy_data(table, rows)
                quoted = ", ".join(f'"{c}"' for c in columns)
                # One read of the whole buffer: psycopg2 reads 8 kB at a time by default, and each read
                # waits for the GIL behind the other import threads (a convoy: most of the load time).
                cursor.copy_expert(f'COPY "{table.name}" ({quoted}) FROM STDIN', io.BytesIO(data),
                                   size=max(len(data), 8192))
            else:
                marks = ", ".join("?" for _ in columns)
                cursor.executemany(f'INSERT INTO "{table.name}" VALUES ({marks})',
                                   [tuple(map(_sqlite_value, row)) for row in rows])
        finally:
            cursor.close()

    def refresh_statistics(self, tables: Iterable[sa.Table]) -> list[str]:
        """ANALYZE the tables changed by more than autovacuum's own threshold (50 rows + 10%) since
        their statistics were taken; returns their names.

        Autovacuum gets there eventually, but the checks run right after an import: planned without
        statistics, the orphan check took 4.2 s at 200k items, 0.6 s after a 1.6 s ANALYZE. SQLite
        plans well enough without.
        """
        if self.dialect != "postgresql":
            return []
        names = [table.name for table in tables]
        stale = [row[0] for row in self.fetch(sa.text(
            "SELECT relname FROM pg_stat_user_tables WHERE relname = ANY(:names) AND schemaname = current_schema() "
            "AND n_mod_since_analyze > 50 + 0.1 * n_live_tup ORDER BY relname"), {"names": names})]
        if stale:
            with self.engine.begin() as conn:
                conn.execute(sa.text("ANALYZE " + ", ".join(f'"{name}"' for name in stale)))
        return stale

    def _writing(self):
        return _SQLITE_LOCK if self.dialect == "sqlite" else contextlib.nullcontext()

    # -- reading ------------------------------------------------------------------------------

    def read_raw(self, project_id: str, day: date) -> list[tuple[str, str, datetime | None]]:
        """(feedback_id, item JSON, deleted_at) of a partition's raw items, in created_at order."""
        table = schema.raw_feedback
        query = (sa.select(table.c.feedback_id, table.c.item_json, table.c.deleted_at)
                 .where(table.c.project_id == project_id, table.c.partition_date == day)
                 .order_by(table.c.created_at, table.c.feedback_id))
        return [(key, text, read_timestamp(deleted)) for key, text, deleted in self.fetch(query)]

    def raw_project_ids(self) -> list[str]:
        table = schema.raw_feedback
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(table.c.project_id).distinct().order_by(table.c.project_id)).scalars())

    def has_partitions(self, project_id: str) -> bool:
        """Whether any day of this project was ever imported (empty days count)."""
        state = schema.partition_state
        return bool(self.fetch(sa.select(state.c.project_id).where(state.c.project_id == project_id).limit(1)))

    def newest_update(self, project_id: str) -> datetime | None:
        """The newest ``updated_at`` among the project's imported items."""
        table = schema.raw_feedback
        return read_timestamp(self.fetch(sa.select(sa.func.max(table.c.updated_at))
                                         .where(table.c.project_id == project_id))[0][0])

    def fetch(self, query: sa.Executable, params: dict[str, Any] | None = None) -> list[sa.Row]:
        def read() -> list[sa.Row]:
            with self.engine.connect() as conn:
                return list(conn.execute(query, params or {}))
        return self._retrying("read", read)

    def rows(self, table: sa.Table, *, where: Iterable[Any] = (), order_by: Iterable[Any] = ()) -> Iterator[dict]:
        query = sa.select(table).where(*where).order_by(*(order_by or table.primary_key.columns))
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                yield dict(row._mapping)

    def fetch_by_ids(self, query: sa.Select, column: sa.ColumnElement, ids: Sequence[str]) -> list[sa.Row]:
        """``query`` restricted to ``column IN ids``, in chunks a database accepts."""
        rows: list[sa.Row] = []
        for chunk in _chunks(ids):
            rows.extend(self.fetch(query.where(column.in_(chunk))))
        return rows


def _is_transient(exc: Exception) -> bool:
    """A lost or refused connection, or a busy SQLite file: worth another try. A missing table is not."""
    if getattr(exc, "connection_invalidated", False):
        return True
    return any(marker in str(getattr(exc, "orig", None) or exc).lower() for marker in _TRANSIENT)


def _state_key(project_id: str, day: date) -> tuple:
    state = schema.partition_state
    return state.c.project_id == project_id, state.c.partition_date == day


def _insert_state_if_missing(dialect: str, values: dict[str, Any]):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(schema.partition_state).values(**values).on_conflict_do_nothing()


def gathered(chunks: Iterable[Chunk]) -> Chunk:
    """Chunks of rows as one."""
    chunks = list(chunks)
    if len(chunks) == 1:
        return chunks[0]
    rows: dict[sa.Table, list[tuple]] = {}
    ids: list[str] = []
    for chunk_rows, chunk_ids in chunks:
        for table, table_rows in chunk_rows.items():
            rows.setdefault(table, []).extend(table_rows)
        ids.extend(chunk_ids)
    return rows, ids


def _chunks(ids: Sequence[str]) -> Iterator[Sequence[str]]:
    """Id lists in pieces any database accepts as one IN list."""
    for start in range(0, len(ids), _IDS_PER_CHUNK):
        yield ids[start:start + _IDS_PER_CHUNK]


def read_timestamp(value: datetime | str | None) -> datetime | None:
    """A timestamp column as read back, made aware UTC: SQLite gives naive values, and text for aggregates."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def read_date(value: date | str) -> date:
    """A date column as read back: SQLite gives text."""
    return date.fromisoformat(value) if isinstance(value, str) else value


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.close()


def _sqlite_value(value: Any) -> Any:
    # The same text forms SQLAlchemy's SQLite types write and read back.
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value

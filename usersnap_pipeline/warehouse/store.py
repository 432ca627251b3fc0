"""Reading and writing the warehouse. Every write replaces whole (project, day) partitions of a set of
tables, each partition within a single transaction (a window of many days is written in transactions of
many whole days): a re-run gives the same rows, a failed run leaves the previous rows in place, and
readers see either the old partition or the new one, never half of it.

PostgreSQL is loaded with COPY; SQLite with executemany inside the transaction.
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from . import migrate, schema
from .deadlines import StatementDeadlines

log = logging.getLogger(__name__)

_IDS_PER_CHUNK = 5000  # ids per statement: a bounded size for any database
# How long a lost or refused connection is retried before a run gives up: a restart or a failover of
# PostgreSQL takes up to a couple of minutes. Pauses between tries grow to _LONGEST_PAUSE.
RETRY_SECONDS = 120.0
# How long one statement (or COPY, commit, ping) may take on PostgreSQL before the server cancels it (or, when
# the server does not answer, the client cuts its connection) and the transaction is tried again: far above any
# statement a run sends (seconds, at 200,000 items), far below forever.
STATEMENT_SECONDS = 300.0
CONNECT_SECONDS = 10  # to open a PostgreSQL connection, greeting and login included
SQLITE_BUSY_SECONDS = 60  # a try's wait for another process's lock on the SQLite file
_LONGEST_PAUSE = 5.0
_TRANSIENT = ("could not connect", "connection refused", "server closed the connection", "terminating connection",
              "the database system is starting up", "the database system is shutting down", "database is locked",
              "the connection is closed", "the connection is lost", "ssl connection has been closed",
              "timeout expired", "connection timed out", "no route to host",
              # DNS down during a failover (a mistyped host fails the same way, after the retry budget)
              "could not translate host name", "failed to resolve host",
              # two partitions written at once, each removing an item that moved into the other
              "deadlock detected",
              # the server's own statement deadline (statement_seconds): tried again within the budget
              "canceling statement due to statement timeout")
NAMESPACE = re.compile(r"^[a-z][a-z0-9_]*$")
_SCHEMA_LOCK = 0x75736E70  # PostgreSQL advisory lock key ("usnp") held while the schema is made current
_TIMESTAMP = {"postgresql": "timestamptz", "sqlite": "TEXT"}  # a version as a statement parameter
_SQLITE_LOCK = threading.Lock()  # one writer at a time per process; busy_timeout covers other processes
# partition_state's counts of a partition's rows, by the table counted
_COUNTED = {schema.raw_feedback: "raw_rows", schema.data_points: "data_points"}

# A connection lost mid-transaction surfaces as OperationalError, or as InterfaceError when the rollback
# meets the dead connection; COPY runs on the driver's own cursor, whose errors SQLAlchemy does not wrap
# (when psycopg's COPY loses its connection, the failed rollback's wrapped error is what arrives here).
_CONNECTION_ERRORS = (sa.exc.OperationalError, sa.exc.InterfaceError, psycopg.OperationalError,
                      psycopg.InterfaceError)

Chunk = tuple[dict[sa.Table, Sequence[tuple]], Sequence[str]]  # rows by table, and the feedback ids they are of


class WarehouseUnavailableError(RuntimeError):
    """The warehouse did not answer within the retry budget. Nothing was half-written: every transaction
    committed before stays whole, and the one under way left nothing."""


class Warehouse:
    def __init__(self, url: str, *, connections: int = 5, namespace: str = "", retry_seconds: float = RETRY_SECONDS,
                 statement_seconds: float = STATEMENT_SECONDS):
        """``connections``: how many threads write at once. A PostgreSQL write holds its connection while
        its pages are fetched, so each writer needs one of its own.

        ``namespace`` keeps one Usersnap account's tables apart from another's in the same warehouse, under
        the same table names: on PostgreSQL it is a schema (every connection's ``search_path``), on SQLite,
        which has no schemas, a database file beside the main one (``warehouse.eu.sqlite``). Empty: the
        database's default schema, the main file.

        ``retry_seconds``: how long a lost or refused connection is tried again (a database restart or a
        failover) before :class:`WarehouseUnavailableError`.

        ``statement_seconds``: how long one wait on PostgreSQL may last (a statement, a COPY, a commit, a
        ping): the server cancels a slow statement then (its ``statement_timeout``), and the client cuts the
        connection of one that does not answer a little later (deadlines.py); either way the transaction is
        retried like a lost connection. SQLite waits for a lock up to ``SQLITE_BUSY_SECONDS`` per try.
        """
        self.retry_seconds = retry_seconds
        self._stopped = threading.Event()
        self.url = sa.make_url(url)
        if self.url.get_backend_name() == "postgresql":
            # psycopg 3 whatever driver the URL names: the bulk load uses its binary COPY (bench/README.md).
            # Dagster's own storage (dagster-postgres) keeps psycopg2.
            self.url = self.url.set(drivername="postgresql+psycopg")
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
        connect_args = ({"timeout": SQLITE_BUSY_SECONDS} if self.dialect == "sqlite"
                        else {"connect_timeout": CONNECT_SECONDS})
        if self.dialect == "postgresql":
            # A server that answers but is slow cancels the statement itself at the deadline, leaving nothing
            # running behind a retry; one that hangs is cut a little later by the client (deadlines.py).
            options = [f"-c statement_timeout={round(statement_seconds * 1000)}"]
            if namespace:
                # Every statement, raw SQL and COPY included, then reads and writes the account's schema alone.
                options.append(f"-c search_path={namespace}")
            connect_args["options"] = " ".join(options)
        # PostgreSQL's pings run under the statement deadlines instead of SQLAlchemy's pre-ping.
        self.engine = sa.create_engine(self.url, connect_args=connect_args, pool_pre_ping=self.dialect == "sqlite",
                                       pool_size=max(5, connections))
        self._deadlines = None
        if self.dialect == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        else:
            self._deadlines = StatementDeadlines(self.engine, statement_seconds + min(statement_seconds, 10))

    def __repr__(self) -> str:
        return f"Warehouse({self.url.render_as_string(hide_password=True)!r})"

    def dispose(self) -> None:
        self.engine.dispose()

    def stop(self) -> None:
        """Give up at once instead of waiting for the database to come back (the run is being stopped): waits
        on PostgreSQL in flight are cut, and later ones as they start."""
        self._stopped.set()
        if self._deadlines is not None:
            self._deadlines.stop()

    def describe(self) -> str:
        """Where the warehouse is, never with its password: ``host:port/database``, or the SQLite file."""
        if self.dialect == "sqlite":
            return f"SQLite file {self.url.database}"
        return f"PostgreSQL {self.url.host or 'localhost'}:{self.url.port or 5432}/{self.url.database}"

    def ensure_schema(self) -> None:
        def make_current() -> None:
            with self._writing(), self.engine.begin() as conn:
                if self.dialect == "postgresql":
                    # Every step of a run starts here, several at once: one at a time, or two would both
                    # find a table missing (or an upgrade to do) and the second would fail making it.
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK})
                    if self.namespace:
                        conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{self.namespace}"'))
                migrate.to_current_schema(conn)
        # Each step checks before it acts: a connection lost half-way leaves nothing a second try trips on.
        self._retrying("make the schema current", make_current)
        if self.dialect == "postgresql":
            self._retrying("set raw_feedback's compression", lambda: self._compress_with_lz4(schema.raw_feedback.c.item_json))

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
        """Replace the rows of (project_id, day) in each given table, all in one transaction; False when a
        newer version of the partition was already stored (see :meth:`write_days`). Rows of
        ``feedback_ids`` are removed wherever they are, too."""
        arrival = DaysChunk({day: (rows, list(feedback_ids))}, whole_before=day + timedelta(days=1))
        written = self.write_days(project_id, day, arrival.whole_before, list(rows), lambda _: (version, [arrival]))
        self.mark_gone(project_id, written)
        return day in written.days

    def write_days(self, project_id: str, start: date, end: date, tables: Sequence[sa.Table],
                   stream: Callable[[date], tuple[datetime, Iterable[DaysChunk]]], *,
                   items_per_transaction: int = 0) -> WrittenDays:
        """Replace every day of ``[start, end)`` of one project in ``tables``, from rows arriving in day
        order as the API serves them: ``stream(first)`` gives the fetch's version (when it started) and
        its chunks from day ``first`` on, the last one whole up to ``end``.

        Days are written in transactions of at least ``items_per_transaction`` items, each holding
        whole days: a day is replaced atomically, readers see its old rows or its new ones. A day with
        no rows is recorded as fetched and empty. PostgreSQL loads each chunk as it arrives; SQLite, one
        writer at a time, gathers a transaction's chunks before it takes the write lock. Memory holds a
        chunk, or a transaction's on SQLite, never the window.

        Each table belongs to a layer (``raw`` or ``normalized``: ``schema.LAYERS``); the version orders
        a layer's writes: a day whose layer holds a newer version stays as it is (a stale run that
        commits late loses). A day fetched before has its items replaced one by one: those no longer
        served stay as they were, and are returned in ``gone`` (by day) for :meth:`mark_gone` once the
        caller knows the API's listing of their day is complete. An item with rows in another partition
        (it moved) leaves it, so no layer holds an item twice.

        A lost connection is retried from the first day not committed, the stream called again from it.
        """
        layers = sorted({schema.LAYERS[table] for table in tables})
        outcome, first, failing_since = WrittenDays(), start, None
        while first < end:
            try:
                version, chunks = stream(first)
                arriving = _Arrivals(iter(chunks))
                while first < end:
                    first = self._write_batch(project_id, first, end, tables, layers, version, arriving,
                                              items_per_transaction, outcome)
                    failing_since = None
            except _CONNECTION_ERRORS as exc:
                failing_since = failing_since or time.monotonic()
                self._pause_before_retry(f"write {project_id} from {first}", exc, failing_since)
        return outcome

    def _write_batch(self, project_id: str, first: date, end: date, tables: Sequence[sa.Table], layers: list[str],
                     version: datetime, arriving: _Arrivals, items_per_transaction: int, outcome: WrittenDays) -> date:
        """One transaction: whole days from ``first`` on, at least ``items_per_transaction`` items unless
        the window ends first. Returns the first day it left for the next."""
        if self.dialect == "sqlite":
            # Gathered before the lock: fetching while holding it would stop every other write.
            held = list(_take_batch(arriving, first, end, items_per_transaction))
            with self._writing(), self.engine.begin() as conn:
                batch = _Batch(self, conn, project_id, first, tables, layers, version)
                for days in held[:-1]:
                    batch.add(days)
                until = batch.finish(held[-1])
        else:
            with self.engine.begin() as conn:
                # Tables that grow during an import have no statistics yet, and for the id lookups the
                # planner then prefers a sequential scan: a cost growing with the table, paid per batch,
                # quadratic over a backfill. Every statement here has an index that serves it.
                conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
                batch = _Batch(self, conn, project_id, first, tables, layers, version)
                # The first day is taken before anything is fetched: a stale write of a single day
                # fetches nothing.
                batch.claim_until(first + timedelta(days=1))
                steps = _take_batch(arriving, first, end, items_per_transaction)
                if batch.stale and batch.claimed_until == end:
                    steps = [end]
                for step in steps:
                    if isinstance(step, date):
                        until = batch.finish(step)
                    else:
                        batch.add(step)
        outcome.days.update(batch.before)
        outcome.versions.update(dict.fromkeys(batch.before, version))
        outcome.stale.update(batch.stale)
        outcome.gone.update(batch.gone)
        return until

    def _claim_days(self, conn: sa.Connection, project_id: str, days: list[date], layers: list[str],
                    version: datetime, counted: Sequence[str]) -> dict[date, set[str] | None]:
        """Take days for a write: by day, the layers written before, or None when a newer version of one
        of them is already stored (this write lost the day).

        New days are inserted (their counts zero); the others are locked until commit (two writers of
        one day are serialized, and the older one sees it lost), compared, then updated.
        """
        state = schema.partition_state
        versions = {f"{layer}_version": version for layer in layers}
        claimed: dict[date, set[str] | None] = {}
        # One statement for any number of days, its days one parameter: a batch of a sparse history holds
        # hundreds, and a multi-row VALUES cost more to compile than to run.
        columns = ", ".join(f'"{name}"' for name in [*versions, *counted])
        values = ", ".join([*(f"CAST(:{name} AS {_TIMESTAMP[self.dialect]})" for name in versions), *("0" for _ in counted)])
        insert = sa.text(f'INSERT INTO partition_state (project_id, partition_date, {columns}) '
                         f'SELECT :project_id, {self._days_column}, {values} FROM {self._days_source} '
                         "WHERE true ON CONFLICT DO NOTHING RETURNING partition_date")
        for piece in _chunks(days):
            inserted = conn.execute(insert, {"project_id": project_id, "days": self._days_value(piece),
                                             **{name: self._timestamp_value(version) for name in versions}})
            claimed.update((read_date(day), set()) for day in inserted.scalars())
            existing = [day for day in piece if day not in claimed]
            if not existing:
                continue
            columns = [state.c[name] for name in versions]
            stored = conn.execute(sa.select(state.c.partition_date, *columns)
                                  .where(state.c.project_id == project_id, state.c.partition_date.in_(existing))
                                  .with_for_update()).all()
            taken = []
            for day, *values in stored:
                values = [read_timestamp(value) for value in values]
                if any(value is not None and value > version for value in values):
                    claimed[read_date(day)] = None
                else:
                    claimed[read_date(day)] = {layer for layer, value in zip(layers, values, strict=True)
                                               if value is not None}
                    taken.append(read_date(day))
            if taken:
                conn.execute(state.update().where(state.c.project_id == project_id,
                                                  state.c.partition_date.in_(taken)).values(**versions))
        return claimed

    def _set_counts(self, conn: sa.Connection, project_id: str, counts: dict[date, dict[str, int]]) -> None:
        """partition_state's row counts of the given days."""
        if not counts:
            return
        state = schema.partition_state
        names = sorted(next(iter(counts.values())))
        if self.dialect == "postgresql":
            # One statement for any number of days: a batch of a sparse history holds hundreds.
            assignments = ", ".join(f'"{name}" = v."{name}"' for name in names)
            unnested = ", ".join(f'unnest(CAST(:{name} AS integer[])) AS "{name}"' for name in names)
            conn.execute(sa.text(f"UPDATE partition_state s SET {assignments} FROM (SELECT unnest(CAST(:days AS date[])) "
                                 f"AS day, {unnested}) v WHERE s.project_id = :project_id AND s.partition_date = v.day"),
                         {"project_id": project_id, "days": list(counts),
                          **{name: [count[name] for count in counts.values()] for name in names}})
        else:
            statement = state.update().where(state.c.project_id == sa.bindparam("p"),
                                             state.c.partition_date == sa.bindparam("d"))
            conn.execute(statement.values(**{name: sa.bindparam(f"n_{name}") for name in names}),
                         [{"p": project_id, "d": day, **{f"n_{name}": count[name] for name in names}}
                          for day, count in counts.items()])

    def _present_ids(self, conn: sa.Connection, project_id: str, days: Sequence[date]) -> dict[date, set[str]]:
        """By day, the items of partitions that are not marked deleted."""
        raw = schema.raw_feedback
        present: dict[date, set[str]] = {day: set() for day in days}
        for piece in _chunks(days):
            for day, feedback_id in conn.execute(sa.select(raw.c.partition_date, raw.c.feedback_id).where(
                    raw.c.project_id == project_id, raw.c.partition_date.in_(piece), raw.c.deleted_at.is_(None))):
                present[read_date(day)].add(feedback_id)
        return present

    def _delete_partitions(self, conn: sa.Connection, tables: Sequence[sa.Table], project_id: str,
                           days: Sequence[date]) -> None:
        for piece in _chunks(days):
            for table in tables:
                conn.execute(table.delete().where(table.c.project_id == project_id, table.c.partition_date.in_(piece)))

    def _delete_ids(self, conn: sa.Connection, tables: Sequence[sa.Table], ids: list[str], project_id: str,
                    days: Sequence[date]) -> None:
        """The rows of ``ids`` in the partitions of ``project_id`` on ``days``, in each of ``tables``."""
        for chunk in _chunks(ids):
            for table in tables:
                conn.execute(table.delete().where(table.c.project_id == project_id, table.c.partition_date.in_(days),
                                                  self._id_in(table.c.feedback_id)),
                             {"ids": self._ids_value(chunk)})

    def mark_gone(self, project_id: str, written: WrittenDays, *, except_days: Iterable[date] = ()) -> dict[date, list[str]]:
        """Mark deleted the items :meth:`write_days` found gone (``written.gone``) from the days that still hold
        the fetch that wrote them: a day a newer fetch has written since is that fetch's to judge. Days in
        ``except_days`` are left alone (their listing was not complete). Returns what was marked, by day."""
        skip = set(except_days)
        gone = {day: ids for day, ids in written.gone.items() if ids and day not in skip}
        days = sorted(gone)
        if not days:
            return {}

        def mark() -> dict[date, list[str]]:
            state = schema.partition_state
            with self._writing(), self.engine.begin() as conn:
                current = {read_date(day): read_timestamp(stored) for day, stored in conn.execute(
                    sa.select(state.c.partition_date, state.c.raw_version).where(
                        state.c.project_id == project_id, state.c.partition_date.in_(days)).with_for_update())}
                marked = {day: gone[day] for day in days if current.get(day) == written.versions[day]}
                for version in sorted({written.versions[day] for day in marked}):
                    same = sorted(day for day in marked if written.versions[day] == version)
                    self._mark_deleted(conn, [key for day in same for key in marked[day]], project_id, same, version)
                return marked
        return self._retrying(f"mark items gone from {project_id}", mark)

    def _mark_deleted(self, conn: sa.Connection, ids: list[str], project_id: str, days: Sequence[date],
                      when: datetime) -> None:
        """Items Usersnap no longer returns: their raw and data point rows stay, with ``deleted_at``; their
        other rows stay with them. A rejected item gone is no longer listed as rejected."""
        for chunk in _chunks(ids):
            where = {"ids": self._ids_value(chunk)}
            for table in (schema.raw_feedback, schema.data_points):
                conn.execute(table.update().where(table.c.project_id == project_id, table.c.partition_date.in_(days),
                                                  self._id_in(table.c.feedback_id), table.c.deleted_at.is_(None))
                             .values(deleted_at=when), where)
            rejected = schema.rejected_feedback
            conn.execute(rejected.delete().where(rejected.c.project_id == project_id,
                                                 rejected.c.partition_date.in_(days),
                                                 self._id_in(rejected.c.feedback_id)), where)

    def _delete_moved(self, conn: sa.Connection, project_id: str, days_of: dict[str, date]) -> None:
        """An item lives in one partition: if any item of ``days_of`` (feedback id -> the day it is being
        written to) has rows in another partition (it moved), they go from there, from every table, so no
        layer ever holds it twice. One query, usually answered with nothing."""
        found: dict[tuple[str, date], set[str]] = {}
        for chunk in _chunks(list(days_of)):
            for old_project, old_day, feedback_id in conn.execute(self._moved_lookup, {"ids": self._ids_value(chunk)}):
                old_day = read_date(old_day)
                if (old_project, old_day) != (project_id, days_of[feedback_id]):
                    found.setdefault((old_project, old_day), set()).add(feedback_id)
        for (old_project, old_day), moved in sorted(found.items()):
            self._delete_ids(conn, schema.PARTITIONED_TABLES, sorted(moved), old_project, [old_day])

    def _raw_days(self, conn: sa.Connection, project_id: str, ids: Sequence[str]) -> dict[str, date]:
        """Where the raw layer holds each of ``ids`` (those it holds), locking those rows until commit: a
        write moving one of them elsewhere waits, then removes the rows written here too."""
        raw = schema.raw_feedback
        where: dict[str, date] = {}
        for chunk in _chunks(ids):
            query = (sa.select(raw.c.feedback_id, raw.c.partition_date)
                     .where(raw.c.project_id == project_id, self._id_in(raw.c.feedback_id))
                     .with_for_update(read=True))
            where.update((key, read_date(day)) for key, day in conn.execute(query, {"ids": self._ids_value(chunk)}))
        return where

    @functools.cached_property
    def _moved_lookup(self) -> sa.CompoundSelect:
        # Built once: building it per write cost three times as much CPU as running it. Every id with rows
        # in a partition has one in schema.ID_TABLES there; the partitions being written are told apart
        # after (a write of raw_feedback alone leaves their data point rows in place).
        return sa.union(*(sa.select(table.c.project_id, table.c.partition_date, table.c.feedback_id)
                          .where(self._id_in(table.c.feedback_id)) for table in schema.ID_TABLES))
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

    @property
    def _days_source(self) -> str:
        """The rows of parameter ``days`` (its value from ``_days_value``), as a FROM clause."""
        return "unnest(CAST(:days AS date[])) AS day" if self.dialect == "postgresql" else "json_each(:days)"

    @property
    def _days_column(self) -> str:
        return "day" if self.dialect == "postgresql" else "value"

    def _days_value(self, days: Sequence[date]) -> list[date] | str:
        return list(days) if self.dialect == "postgresql" else json.dumps([day.isoformat() for day in days])

    def _timestamp_value(self, moment: datetime) -> datetime | str:
        return moment if self.dialect == "postgresql" else _sqlite_value(moment)

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

    def insert_missing(self, table: sa.Table, rows: Sequence[dict]) -> None:
        """Insert the rows whose primary key is not in ``table`` yet; leave the others as they are."""
        if not rows:
            return
        insert = (postgresql.insert if self.dialect == "postgresql" else sqlite.insert)(table)
        statement = insert.values(list(rows)).on_conflict_do_nothing(index_elements=list(table.primary_key.columns))

        def write() -> None:
            with self._writing(), self.engine.begin() as conn:
                conn.execute(statement)
        self._retrying(f"write {table.name}", write)

    def set_aside(self, project_id: str, first: date, stop: date, rows: Sequence[dict]) -> None:
        """Replace the project's ``set_aside_feedback`` rows listed on the days of ``[first, stop)`` (a fetch of
        those days says what their listings hold now) with ``rows``, in one transaction. A row of the same id
        listed elsewhere before is replaced too: an item is set aside once."""
        table = schema.set_aside_feedback
        ids = sorted({row["feedback_id"] for row in rows})

        def write() -> None:
            with self._writing(), self.engine.begin() as conn:
                conn.execute(table.delete().where(table.c.project_id == project_id, table.c.listed_day >= first,
                                                  table.c.listed_day < stop))
                for chunk in _chunks(ids):
                    conn.execute(table.delete().where(table.c.project_id == project_id,
                                                      table.c.feedback_id.in_(chunk)))
                if rows:
                    conn.execute(table.insert(), list({row["feedback_id"]: row for row in rows}.values()))
        self._retrying(f"write {table.name}", write)

    def update(self, statement: sa.Update) -> int:
        """Run one UPDATE in its own transaction; the rows it changed."""
        def write() -> int:
            with self._writing(), self.engine.begin() as conn:
                return conn.execute(statement).rowcount
        return self._retrying(f"update {statement.table.name}", write)

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
        blip) or SQLite was busy, for up to ``retry_seconds`` from the start of the first try that failed.
        Safe: a transaction that failed left nothing, and every write is idempotent."""
        failing_since = None
        while True:
            started = time.monotonic()
            if self._stopped.is_set():
                raise self._unavailable(what, "the run is being stopped", 0)
            try:
                return action()
            except _CONNECTION_ERRORS as exc:
                failing_since = failing_since or started
                self._pause_before_retry(what, exc, failing_since)
            except sa.exc.InvalidRequestError:
                # A connection cut by stop() while the pool was handing it out.
                if self._stopped.is_set():
                    raise self._unavailable(what, "the run is being stopped", 0) from None
                raise

    def _reason(self, exc: Exception) -> str:
        """The driver's first line about ``exc``, never with the password."""
        cause = getattr(exc, "orig", None) or exc
        reason = (str(cause).strip().splitlines() or [type(exc).__name__])[0]
        return reason.replace(self.url.password, "***") if self.url.password else reason

    def _unavailable(self, what: str, reason: str, waited: float) -> WarehouseUnavailableError:
        """The one sentence a run ends with when the warehouse does not answer: where it is (never its
        password), for how long, why, and that nothing was lost."""
        return WarehouseUnavailableError(
            f"the warehouse ({self.describe()}) did not answer for {waited:.0f} s while trying to {what} "
            f"({reason}); nothing was lost: what was written before stays whole, and running the import "
            "again once the database is back brings the rest")

    def _pause_before_retry(self, what: str, exc: Exception, failing_since: float) -> None:
        """After a failure of ``what``, failing since ``failing_since``: wait before trying again; raise
        ``exc`` when it is not worth another try, :class:`WarehouseUnavailableError` once the budget is spent."""
        if not _is_transient(exc):
            raise exc
        waited, reason = time.monotonic() - failing_since, self._reason(exc)
        if waited >= self.retry_seconds or self._stopped.is_set():
            raise self._unavailable(what, reason, waited) from None
        delay = min(_LONGEST_PAUSE, max(0.5, waited), self.retry_seconds - waited)
        log.warning("%s failed (%s); retrying in %.1f s (for up to %.0f s more)", what, reason, delay,
                    self.retry_seconds - waited)
        self.engine.dispose()  # drop pooled connections to the old server
        self._stopped.wait(delay)

    def partition_version(self, project_id: str, day: date, layer: str = "raw") -> datetime | None:
        state = schema.partition_state
        rows = self.fetch(sa.select(state.c[f"{layer}_version"]).where(*_state_key(project_id, day)))
        return read_timestamp(rows[0][0]) if rows else None

    def _bulk_insert(self, conn: sa.Connection, table: sa.Table, rows: Sequence[tuple]) -> None:
        columns = list(table.columns.keys())
        cursor = conn.connection.driver_connection.cursor()
        try:
            if self.dialect == "postgresql":
                quoted = ", ".join(f'"{c}"' for c in columns)
                # The import's tables go as binary COPY: psycopg's C dumpers write each value, and the
                # server parses no text. Their rows are typed by transform's row types; other tables'
                # rows, from steps this module does not know the types of, go as text the server reads.
                binary = table in schema.PARTITIONED_TABLES
                statement = f'COPY "{table.name}" ({quoted}) FROM STDIN' + (" (FORMAT BINARY)" if binary else "")
                with self._waiting(conn), cursor.copy(statement) as copy:
                    if binary:
                        copy.set_types(_copy_types(table))
                    for row in rows:
                        copy.write_row(row)
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
            def analyze() -> None:
                with self.engine.begin() as conn:
                    conn.execute(sa.text("ANALYZE " + ", ".join(f'"{name}"' for name in stale)))
            self._retrying("refresh statistics", analyze)
        return stale

    def _writing(self):
        return _SQLITE_LOCK if self.dialect == "sqlite" else contextlib.nullcontext()

    def _waiting(self, conn: sa.Connection):
        """A wait on ``conn`` that SQLAlchemy's events do not see (COPY, a streamed fetch), under the deadline."""
        return self._deadlines.guard(conn) if self._deadlines is not None else contextlib.nullcontext()

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
        return [row[0] for row in self.fetch(sa.select(table.c.project_id).distinct().order_by(table.c.project_id))]

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

    def rows(self, table: sa.Table, *, where: Iterable[Any] = (), order_by: Iterable[Any] = ()) -> list[dict]:
        query = sa.select(table).where(*where).order_by(*(order_by or table.primary_key.columns))
        return [dict(row._mapping) for row in self.fetch(query)]

    def stream(self, query: sa.Select, *, rows_per_fetch: int = 2000) -> Iterator[sa.Row]:
        """``query``'s rows without holding them all: fetched ``rows_per_fetch`` at a time, each fetch under the
        statement deadline. Not retried (rows already handed out cannot be taken back): a lost connection ends
        the stream with :class:`WarehouseUnavailableError`."""
        try:
            with self.engine.connect() as conn:
                result = conn.execution_options(yield_per=rows_per_fetch).execute(query)
                while True:
                    with self._waiting(conn):
                        rows = result.fetchmany(rows_per_fetch)
                    if not rows:
                        return
                    yield from rows
        except _CONNECTION_ERRORS as exc:
            if not _is_transient(exc):
                raise
            raise self._unavailable("read", self._reason(exc), 0) from None

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


@dataclass
class DaysChunk:
    """Rows of consecutive days of one project as they arrive: by day, the rows by table and the feedback
    ids they are of. Every day before ``whole_before`` is complete: no later chunk has rows of it."""
    days: dict[date, Chunk]
    whole_before: date

    @property
    def items(self) -> int:
        return sum(len(ids) for _, ids in self.days.values())


@dataclass
class WrittenDays:
    """What :meth:`Warehouse.write_days` did: the days it replaced, those a newer fetch had already
    written (left as they were), and by day the items it no longer found there (for :meth:`Warehouse.mark_gone`)."""
    days: set[date] = field(default_factory=set)
    versions: dict[date, datetime] = field(default_factory=dict)  # the fetch each day was written from
    stale: set[date] = field(default_factory=set)
    gone: dict[date, list[str]] = field(default_factory=dict)

    def update(self, other: WrittenDays) -> None:
        self.days |= other.days
        self.versions.update(other.versions)
        self.stale |= other.stale
        self.gone.update(other.gone)


class _Arrivals:
    """A stream of chunks that a batch can hand a chunk back to, for the next batch."""

    def __init__(self, chunks: Iterator[DaysChunk]):
        self._chunks, self._returned = chunks, []

    def __iter__(self) -> _Arrivals:
        return self

    def __next__(self) -> DaysChunk:
        return self._returned.pop() if self._returned else next(self._chunks)

    def hand_back(self, chunk: DaysChunk) -> None:
        self._returned.append(chunk)


def _take_batch(arriving: _Arrivals, first: date, end: date, items: int) -> Iterator[DaysChunk | date]:
    """One transaction's chunks, then the first day it leaves for the next: whole days from ``first`` on.

    Once the batch holds ``items`` items it takes no new day: it waits for the days it has rows of to be
    whole, and hands later days' rows back. A day larger than ``items`` stays in one batch, whole.
    """
    held, last_day, full = 0, first, False  # last_day: the latest day the batch has rows of
    for chunk in arriving:
        if full:
            now = {day: rows for day, rows in chunk.days.items() if day <= last_day}
            later = {day: rows for day, rows in chunk.days.items() if day > last_day}
            if now:
                yield DaysChunk(now, chunk.whole_before)
            if later:  # rows come in day order: the batch's days are whole
                arriving.hand_back(DaysChunk(later, chunk.whole_before))
            if later or chunk.whole_before > last_day:
                yield min([chunk.whole_before, *later])
                return
            continue
        yield chunk
        held += chunk.items
        last_day = max([last_day, *chunk.days])
        if chunk.whole_before >= end:
            yield end
            return
        full = held >= items
        if full and chunk.whole_before > last_day:
            yield chunk.whole_before
            return
    raise RuntimeError(f"the rows stopped before the window did: days from {first} to {end} never came whole")


class _Batch:
    """One transaction of :meth:`Warehouse.write_days`: takes days as rows of them arrive (empty days
    too), clears what they replace, loads the rows, and at the end marks the items gone and the counts."""

    def __init__(self, warehouse: Warehouse, conn: sa.Connection, project_id: str, first: date,
                 tables: Sequence[sa.Table], layers: list[str], version: datetime):
        self.warehouse, self.conn, self.project_id = warehouse, conn, project_id
        self.tables, self.layers, self.version = tables, layers, version
        self.with_raw = schema.raw_feedback in tables
        self.counted = [name for table, name in _COUNTED.items() if table in tables]
        self.claimed_until = first
        self.before: dict[date, set[str]] = {}  # days taken: the layers written before
        self.stale: set[date] = set()
        self.present: dict[date, set[str]] = {}  # days fetched before: their items not marked deleted
        self.arrived: dict[date, set[str]] = {}
        self.counts: dict[date, dict[str, int]] = {}
        self.gone: dict[date, list[str]] = {}

    def claim_until(self, until: date) -> None:
        days = []
        while self.claimed_until < until:
            days.append(self.claimed_until)
            self.claimed_until += timedelta(days=1)
        if not days:
            return
        warehouse, conn = self.warehouse, self.conn
        claimed = warehouse._claim_days(conn, self.project_id, days, self.layers, self.version, self.counted)
        refetched = []
        for day, before in sorted(claimed.items()):
            if before is None:
                self.stale.add(day)
                continue
            self.before[day] = before
            self.counts[day] = dict.fromkeys(self.counted, 0)
            if self.with_raw and "raw" in before:
                refetched.append(day)
        # A day fetched before has its items replaced one by one: an item the API no longer returns keeps
        # its rows, marked deleted (soft delete), instead of vanishing.
        if refetched:
            self.present.update(warehouse._present_ids(conn, self.project_id, refetched))
            self.arrived.update((day, set()) for day in refetched)
        for table in self.tables:
            # A layer never written for a day has no rows in it: nothing to delete.
            cleared = [day for day in days if day in self.before and day not in self.present
                       and schema.LAYERS[table] in self.before[day]]
            if cleared:
                warehouse._delete_partitions(conn, [table], self.project_id, cleared)

    def add(self, chunk: DaysChunk) -> None:
        if not chunk.days:
            return
        self.claim_until(max(chunk.days) + timedelta(days=1))
        live = {day: rows for day, rows in chunk.days.items() if day not in self.stale}
        if not live:
            return
        warehouse, conn = self.warehouse, self.conn
        if self.with_raw:
            # feedback_id is the first column of every partitioned table (schema._partitioned).
            ids = {day: sorted({*day_ids, *(row[0] for row in rows.get(schema.raw_feedback, ()))})
                   for day, (rows, day_ids) in live.items()}
            refetched = [day for day in live if day in self.present]
            if refetched:
                warehouse._delete_ids(conn, self.tables, [key for day in refetched for key in ids[day]],
                                      self.project_id, refetched)
                for day in refetched:
                    self.arrived[day].update(ids[day])
            warehouse._delete_moved(conn, self.project_id, {key: day for day, day_ids in ids.items() for key in day_ids})
        else:
            # Data point rows alone (a re-normalization) follow the raw layer, which says where an item
            # lives: only items whose raw row is on their day now are written. One that moved since its
            # raw row was read keeps its rows where it went.
            where = warehouse._raw_days(conn, self.project_id, [key for _, day_ids in live.values() for key in day_ids])
            live = {day: ({table: [row for row in table_rows if where.get(row[0]) == day]
                           for table, table_rows in rows.items()}, day_ids)
                    for day, (rows, day_ids) in live.items()}
        by_table: dict[sa.Table, list[tuple]] = {}
        for day, (rows, _) in live.items():
            for table, table_rows in rows.items():
                by_table.setdefault(table, []).extend(table_rows)
                if table in _COUNTED:
                    self.counts[day][_COUNTED[table]] += len(table_rows)
        for table, table_rows in by_table.items():
            if table_rows:
                warehouse._bulk_insert(conn, table, table_rows)

    def finish(self, until: date) -> date:
        self.claim_until(until)
        for day, present in self.present.items():
            gone = sorted(present - self.arrived[day])
            if gone:
                self.gone[day] = gone
        # Days taken for the first time were inserted with zero counts.
        self.warehouse._set_counts(self.conn, self.project_id, {
            day: counts for day, counts in self.counts.items() if self.before[day] or any(counts.values())})
        return until


def _chunks(values: Sequence, size: int = _IDS_PER_CHUNK) -> Iterator[Sequence]:
    """Id or day lists in pieces any database accepts as one IN list."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


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


# The import's column types, and PostgreSQL's names for them (BigInteger before Integer: it is one).
_POSTGRES_TYPES = ((sa.Text, "text"), (sa.Boolean, "bool"), (sa.DateTime, "timestamptz"), (sa.Date, "date"),
                   (sa.Float, "float8"), (sa.BigInteger, "int8"), (sa.Integer, "int4"))


@functools.cache
def _copy_types(table: sa.Table) -> list[str]:
    """PostgreSQL's name of each column's type, for a binary COPY (which sends values in that type's own form)."""
    def name(column: sa.Column) -> str:
        kind = column.type
        if isinstance(kind, sa.DateTime) and not kind.timezone:
            raise TypeError(f"{table.name}.{column.name}: timestamps are stored with their time zone")
        for sqlalchemy_type, postgres in _POSTGRES_TYPES:
            if isinstance(kind, sqlalchemy_type):
                return postgres
        raise TypeError(f"no binary COPY form for column {table.name}.{column.name} of type {kind}")
    return [name(column) for column in table.columns]


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
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

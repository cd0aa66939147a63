"""The production warehouse: PostgreSQL, same interface as the embedded DuckDB one.

Writes are bulk and atomic: the frame goes to a temporary staging table with ADBC (binary
COPY from Arrow, no row-by-row inserts), then one transaction deletes the partition
window and inserts the staged rows with casts to the table's types (NUMERIC, JSONB). A
transaction-scoped advisory lock per (table, window) serialises two writers of the same
window, so launching one minute twice leaves one copy of its rows. Reads come back as
Arrow. An unreachable server or a connection lost part-way is retried with backoff,
the whole operation each time (a write is one transaction and idempotent, so a retry
never leaves half a window or two copies). Every value is a bound parameter;
identifiers come from `tables.TABLES` only. The schema comes from the migrations
(`vol-pipeline db upgrade`), never from here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from datetime import datetime, timezone

import polars as pl

from vol_pipeline.storage.postgres_url import driver_url, redacted
from vol_pipeline.storage import postgres_partitions, revisions
from vol_pipeline.storage.tables import Table, new_rows, read_columns, table, window_rows

PG_TYPES = {pl.String: "text", pl.Float64: "float8", pl.Int64: "int8", pl.Int32: "int4", pl.Boolean: "bool"}
STAGE = "vol_pipeline_stage"  # = revisions.STAGE: the staged rows of a write (temporary table)
CONNECT_ATTEMPTS = 4  # 0.5 + 1 + 2 s of backoff before giving up on an unreachable server or lost connections
MISSING_SCHEMA_STATES = {"42P01", "42703"}  # undefined_table, undefined_column: migrations not applied
SHUTDOWN_STATES = {"57P01", "57P02", "57P03"}  # admin_shutdown, crash_shutdown, cannot_connect_now


class WarehouseUnavailableError(RuntimeError):
    """The PostgreSQL server could not be reached (the message never contains credentials)."""


class WarehouseSchemaError(RuntimeError):
    """A table is missing: the migrations have not been applied to this database."""


def _connection_lost(error: Exception) -> bool:
    """libpq reports a dropped connection with no SQLSTATE ("server closed the connection
    unexpectedly"); a server going away says class 08 or 57P0x. Errors of a statement
    (bad data, a missing table, a timeout) carry their own SQLSTATE and are not retried."""
    state = getattr(error, "sqlstate", None)
    return not state or state.startswith("08") or state in SHUTDOWN_STATES


def _quoted(name: str) -> str:
    return f'"{name}"'


def _pg_type(tbl: Table, column: str) -> str:
    if column in tbl.json_columns:
        return "jsonb"
    dtype = tbl.columns[column]
    return "timestamptz" if isinstance(dtype, pl.Datetime) else PG_TYPES[dtype.base_type()]


def _insert_lists(tbl: Table) -> tuple[str, str]:
    """The table's columns, and the staged columns cast to their types: INSERT ... SELECT."""
    columns = ", ".join(_quoted(c) for c in tbl.columns)
    casts = ", ".join(f"{_quoted(c)}::{_pg_type(tbl, c)}" for c in tbl.columns)
    return columns, casts


def _select_list(tbl: Table, columns: Iterable[str]) -> str:
    """Each column (of `tbl`, checked by the caller) cast to the type polars expects
    (NUMERIC -> float8, JSONB -> text)."""
    out = []
    for column in columns:
        target = "text" if column in tbl.json_columns else _pg_type(tbl, column)
        out.append(f"{_quoted(column)}::{target} AS {_quoted(column)}")
    return ", ".join(out)


class PostgresWarehouse:
    def __init__(self, url: str):
        self._url = driver_url(url)
        self.location = redacted(url)  # what messages may show

    def __repr__(self) -> str:
        return f"PostgresWarehouse({self.location})"

    # -- connections -------------------------------------------------------------------
    def _run(self, work: Callable):
        """`work(connection)` on a new connection. The whole of it is retried with backoff
        while the server is unreachable or when the connection is lost part-way: safe,
        because every call here is one transaction (a window replace or a read) and
        repeating it gives the same result; a lost write rolls back on the server."""
        import adbc_driver_postgresql.dbapi as adbc

        delay = 0.5
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                connection = adbc.connect(self._url)
            except adbc.OperationalError as error:
                failure = error
            else:
                try:
                    return work(connection)
                except adbc.ProgrammingError as error:
                    if getattr(error, "sqlstate", None) in MISSING_SCHEMA_STATES:
                        raise WarehouseSchemaError(
                            f"warehouse {self.location}: {str(error).splitlines()[0]}; "
                            "apply the migrations with `vol-pipeline db upgrade`") from None
                    raise
                except adbc.OperationalError as error:
                    if not _connection_lost(error):
                        raise
                    failure = error
                finally:
                    with suppress(adbc.Error):
                        connection.close()
            if attempt == CONNECT_ATTEMPTS:
                reason = str(failure).splitlines()[0]
                raise WarehouseUnavailableError(
                    f"warehouse {self.location} unreachable after {attempt} attempts: {reason}") from None
            time.sleep(delay)
            delay *= 2

    # -- writes ------------------------------------------------------------------------
    def replace(self, table_name: str, frame: pl.DataFrame, start: datetime, end: datetime) -> int:
        tbl = table(table_name)
        rows = window_rows(tbl, frame, start, end)
        start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
        column = _quoted(tbl.partition_column)
        if tbl.name in postgres_partitions.BY_DAY:
            return self._run(lambda connection: self._replace_by_day(connection, tbl, rows, start, end))
        lock_key = f"{tbl.name}:{start.isoformat()}:{end.isoformat()}"
        return self._write(tbl, rows, f"DELETE FROM {tbl.name} WHERE {column} >= $1 AND {column} < $2", (start, end),
                           lock_key, record_revisions=tbl.name == "bars")

    def replace_unplaced(self, source: str, frame: pl.DataFrame) -> None:
        tbl = table("bars_quarantine")
        rows = frame.with_columns(minute_ts=pl.lit(None, tbl.columns["minute_ts"]), source=pl.lit(source))
        rows = rows.select(list(tbl.columns)).cast(tbl.columns)
        self._write(tbl, rows, f"DELETE FROM {tbl.name} WHERE minute_ts IS NULL AND source = $1", (source,),
                    f"{tbl.name}:unplaced:{source}")

    def insert_new(self, table_name: str, frame: pl.DataFrame) -> int:
        tbl, rows = new_rows(table_name, frame)
        if not rows.height:
            return 0
        columns, casts = _insert_lists(tbl)
        key = ", ".join(_quoted(c) for c in tbl.key)  # the table's primary key (migrations)
        data = rows.to_arrow()

        def write(connection) -> int:
            with connection.cursor() as cursor:
                cursor.adbc_ingest(STAGE, data, mode="create", temporary=True)
                cursor.execute(f"WITH inserted AS (INSERT INTO {tbl.name} ({columns}) SELECT {casts} FROM {STAGE} "
                               f"ON CONFLICT ({key}) DO NOTHING RETURNING 1) SELECT count(*) FROM inserted")
                inserted = int(cursor.fetchone()[0])
                connection.commit()
            return inserted

        return self._run(write)

    def _write(self, tbl: Table, rows: pl.DataFrame, delete_sql: str, params: tuple, lock_key: str,
               record_revisions: bool = False) -> int:
        columns, casts = _insert_lists(tbl)
        data = rows.to_arrow() if rows.height else None

        def write(connection) -> int:
            revised = 0
            with connection.cursor() as cursor:
                if data is not None:
                    cursor.adbc_ingest(STAGE, data, mode="create", temporary=True)
                cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", (lock_key,))
                if record_revisions:
                    revised = self._record_revisions(cursor, params, rows if data is None else None)
                cursor.execute(delete_sql, params)
                if data is not None:
                    cursor.execute(f"INSERT INTO {tbl.name} ({columns}) SELECT {casts} FROM {STAGE}")
                connection.commit()
            return revised

        return self._run(write)

    @staticmethod
    def _replace_by_day(connection, tbl: Table, rows: pl.DataFrame, start: datetime, end: datetime) -> int:
        """One transaction: big days swapped in as new partitions, the rest deleted and
        inserted from the stage (storage/postgres_partitions.py)."""
        columns, casts = _insert_lists(tbl)
        with connection.cursor() as cursor:
            rest = postgres_partitions.replace_days(cursor, tbl, rows, start, end)
            if rest.height:
                cursor.adbc_ingest(STAGE, rest.to_arrow(), mode="create", temporary=True)
                cursor.execute(f"INSERT INTO {tbl.name} ({columns}) SELECT {casts} FROM {STAGE}")
            connection.commit()
        return 0

    @staticmethod
    def _record_revisions(cursor, window: tuple, unstaged: pl.DataFrame | None) -> int:
        """bar_revisions rows for what this bars write changes (storage/revisions.py). The new
        rows are staged already, except an empty window's (staged here, empty)."""
        cursor.execute(revisions.ANY_STORED_SQL, window)
        if not cursor.fetchone()[0]:
            return 0
        if unstaged is not None:
            cursor.adbc_ingest(STAGE, unstaged.to_arrow(), mode="create", temporary=True)
        cursor.execute(revisions.RECORD_COUNTED_SQL, window)
        return int(cursor.fetchone()[0])

    # -- reads -------------------------------------------------------------------------
    def read(
        self,
        table_name: str,
        start: datetime | None = None,
        end: datetime | None = None,
        equals: dict[str, object] | None = None,
        newest_first: int | None = None,
        columns: Sequence[str] | None = None,
        tickers: Sequence[str] | None = None,
    ) -> pl.DataFrame:
        tbl = table(table_name)
        schema = read_columns(tbl, columns)
        column = _quoted(tbl.partition_column)
        where, params = [], []
        if start is not None:
            params.append(start.astimezone(timezone.utc))
            where.append(f"{column} >= ${len(params)}")
        if end is not None:
            params.append(end.astimezone(timezone.utc))
            where.append(f"{column} < ${len(params)}")
        for name, value in (equals or {}).items():
            if name not in tbl.columns:
                raise ValueError(f"{table_name} has no column {name!r}")
            params.append(value)
            cast = "::jsonb" if name in tbl.json_columns else ""  # JSON equality, not text equality
            where.append(f"{_quoted(name)} = ${len(params)}{cast}")
        by_ticker = "ticker" in tbl.columns
        if tickers is not None:
            if not by_ticker:
                raise ValueError(f"{table_name} has no ticker column")
            params.append(list(tickers))
            where.append(f"ticker = ANY(${len(params)}::text[])")
        sql = f"SELECT {_select_list(tbl, schema)} FROM {tbl.name}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        if newest_first is not None:
            params.append(int(newest_first))
            sql += f" ORDER BY {column} DESC{', ticker' if by_ticker else ''} LIMIT ${len(params)}"
        else:
            sql += f" ORDER BY {'ticker, ' if by_ticker else ''}{column}"
        return self._query(sql, tuple(params), schema)

    def volume_coverage(self) -> pl.DataFrame:
        sql = (
            "SELECT ticker, count(*)::int8 AS feature_rows, count(volume_ratio)::int8 AS rows_with_volume,"
            " (count(*) FILTER (WHERE volume_surge))::int8 AS surges, max(ts) AS newest_ts"
            " FROM lane_features GROUP BY ticker ORDER BY ticker"
        )
        schema = {"ticker": pl.String, "feature_rows": pl.Int64, "rows_with_volume": pl.Int64,
                  "surges": pl.Int64, "newest_ts": table("lane_features").columns["ts"]}
        return self._query(sql, (), schema)

    def _query(self, sql: str, params: tuple, schema: dict) -> pl.DataFrame:
        def query(connection):
            with connection.cursor() as cursor:
                cursor.execute(sql, params or None)
                return pl.from_arrow(cursor.fetch_arrow_table())

        result = self._run(query)
        return result.cast(schema) if result.height else pl.DataFrame(schema=schema)

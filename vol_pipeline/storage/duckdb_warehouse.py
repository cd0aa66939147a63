"""The embedded warehouse: one DuckDB file, one table per asset.

A DuckDB file admits one process at a time when any of them writes (DESIGN §5), and the
minute runs, backfills, the UI's code server and `vol-pipeline status` all touch it. So a
connection lives for one read or one write only, and opening retries on the lock error
with a bounded backoff.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

import duckdb
import polars as pl

from vol_pipeline.storage import revisions
from vol_pipeline.storage.tables import TABLES, Table, new_rows, read_columns, table, window_rows

DUCKDB_TYPES = {
    pl.String: "VARCHAR",
    pl.Float64: "DOUBLE",
    pl.Int64: "BIGINT",
    pl.Int32: "INTEGER",
    pl.Boolean: "BOOLEAN",
}
LOCK_RETRY_SECONDS = 30.0
STAGE = "vol_pipeline_stage"  # = revisions.STAGE: the new bars, registered for the revision statement


class WarehouseBusyError(RuntimeError):
    """Another process held the warehouse file for longer than the retry budget."""


def _sql_type(tbl: Table, column: str) -> str:
    if column in tbl.json_columns:
        return "JSON"
    dtype = tbl.columns[column]
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ"  # stored and returned in UTC (the session time zone)
    return DUCKDB_TYPES[dtype.base_type()]


def create_table_sql(tbl: Table) -> str:
    columns = ", ".join(f"{name} {_sql_type(tbl, name)}" for name in tbl.columns)
    return f"CREATE TABLE IF NOT EXISTS {tbl.name} ({columns})"


class DuckDBWarehouse:
    def __init__(self, path: str | Path, lock_retry_seconds: float = LOCK_RETRY_SECONDS):
        self.path = Path(path)
        self.lock_retry_seconds = lock_retry_seconds

    # -- connections -------------------------------------------------------------------
    @contextmanager
    def _connect(self, read_only: bool) -> Iterator[duckdb.DuckDBPyConnection]:
        deadline = time.monotonic() + self.lock_retry_seconds
        delay = 0.05
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as error:
                if "lock" not in str(error).lower():
                    raise
                if time.monotonic() >= deadline:
                    raise WarehouseBusyError(
                        f"warehouse {self.path} is held by another process (waited {self.lock_retry_seconds:.0f} s)"
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        try:
            con.execute("SET TimeZone = 'UTC'")
            yield con
        finally:
            con.close()

    def _writer(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self._connect(read_only=False)

    @staticmethod
    def _create_tables(con: duckdb.DuckDBPyConnection) -> None:
        for tbl in TABLES.values():
            con.execute(create_table_sql(tbl))
            for column in tbl.added_columns:  # a file written before the column existed
                con.execute(f"ALTER TABLE {tbl.name} ADD COLUMN IF NOT EXISTS {column} {_sql_type(tbl, column)}")

    # -- writes ------------------------------------------------------------------------
    def replace(self, table_name: str, frame: pl.DataFrame, start: datetime, end: datetime) -> int:
        tbl = table(table_name)
        rows = window_rows(tbl, frame, start, end)
        start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
        column = tbl.partition_column
        revised = 0
        with self._writer() as con:
            self._create_tables(con)
            con.execute("BEGIN TRANSACTION")
            if tbl.name == "bars" and con.execute(revisions.ANY_STORED_SQL, [start, end]).fetchone()[0]:
                con.register(STAGE, rows.to_arrow())
                revised = con.execute(revisions.RECORD_SQL, [start, end]).fetchone()[0]
                con.unregister(STAGE)
            con.execute(f"DELETE FROM {tbl.name} WHERE {column} >= ? AND {column} < ?", [start, end])
            self._insert(con, tbl, rows)
            con.execute("COMMIT")
        return revised

    def replace_unplaced(self, source: str, frame: pl.DataFrame) -> None:
        tbl = table("bars_quarantine")
        rows = frame.with_columns(minute_ts=pl.lit(None, tbl.columns["minute_ts"]), source=pl.lit(source))
        with self._writer() as con:
            self._create_tables(con)
            con.execute("BEGIN TRANSACTION")
            con.execute(f"DELETE FROM {tbl.name} WHERE minute_ts IS NULL AND source = ?", [source])
            self._insert(con, tbl, rows.select(list(tbl.columns)).cast(tbl.columns))
            con.execute("COMMIT")

    def insert_new(self, table_name: str, frame: pl.DataFrame) -> int:
        tbl, rows = new_rows(table_name, frame)
        if not rows.height:
            return 0
        match = " AND ".join(f"stored.{c} = incoming.{c}" for c in tbl.key)
        with self._writer() as con:
            self._create_tables(con)
            con.register("incoming", rows.to_arrow())
            inserted = con.execute(f"INSERT INTO {tbl.name} BY NAME SELECT * FROM incoming WHERE NOT EXISTS "
                                   f"(SELECT 1 FROM {tbl.name} AS stored WHERE {match})").fetchone()[0]
            con.unregister("incoming")
        return int(inserted)

    @staticmethod
    def _insert(con: duckdb.DuckDBPyConnection, tbl: Table, rows: pl.DataFrame) -> None:
        if rows.height:
            con.register("incoming", rows.to_arrow())
            con.execute(f"INSERT INTO {tbl.name} BY NAME SELECT * FROM incoming")
            con.unregister("incoming")

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
        where, params = [], []
        if start is not None:
            where.append(f"{tbl.partition_column} >= ?")
            params.append(start)
        if end is not None:
            where.append(f"{tbl.partition_column} < ?")
            params.append(end)
        for column, value in (equals or {}).items():
            if column not in tbl.columns:
                raise ValueError(f"{table_name} has no column {column!r}")
            where.append(f"{column} = ?")
            params.append(value)
        by_ticker = "ticker" in tbl.columns  # session_reports has none
        if tickers is not None:
            if not by_ticker:
                raise ValueError(f"{table_name} has no ticker column")
            where.append("ticker IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(tickers))
        sql = f"SELECT {', '.join(schema)} FROM {tbl.name}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        if newest_first is not None:
            sql += f" ORDER BY {tbl.partition_column} DESC{', ticker' if by_ticker else ''} LIMIT ?"
            params.append(int(newest_first))
        else:
            sql += f" ORDER BY {'ticker, ' if by_ticker else ''}{tbl.partition_column}"
        return self._query(tbl, sql, params, schema)

    def volume_coverage(self) -> pl.DataFrame:
        sql = (
            "SELECT ticker, count(*) AS feature_rows, count(volume_ratio) AS rows_with_volume,"
            " count(*) FILTER (WHERE volume_surge) AS surges, max(ts) AS newest_ts"
            " FROM lane_features GROUP BY ticker ORDER BY ticker"
        )
        schema = {"ticker": pl.String, "feature_rows": pl.Int64, "rows_with_volume": pl.Int64,
                  "surges": pl.Int64, "newest_ts": table("lane_features").columns["ts"]}
        return self._query(None, sql, [], schema)

    def _query(self, tbl: Table | None, sql: str, params: list, schema: dict | None = None) -> pl.DataFrame:
        schema = schema or tbl.columns
        if not self.path.exists():
            return pl.DataFrame(schema=schema)
        with self._connect(read_only=True) as con:
            try:
                result = con.execute(sql, params).pl()
            except duckdb.CatalogException:  # table not written yet
                return pl.DataFrame(schema=schema)
        return result.cast(schema) if result.height else pl.DataFrame(schema=schema)

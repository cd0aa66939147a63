"""Window replaces of the PostgreSQL tables partitioned by UTC day (migration 009: lane_features).

A day receiving many rows (a session, a backfill) is not deleted and re-inserted row by
row into indexed B-trees: its rows are COPYed into a new table, the day's rows outside the
window are carried over, the indexes are built once, and the table replaces the day's
partition (DROP, RENAME, ATTACH; a CHECK constraint matching the bounds lets ATTACH skip
its scan, and indexes matching the parent's are adopted, not rebuilt). Measured on a
5,000-ticker session: ~3x the rows/s of delete + insert, at this server's bulk-load floor.
A day receiving few rows (a minute) is deleted and inserted as before, into its partition,
created on first use.

All of it runs inside the caller's transaction, so a failure anywhere leaves every day as
it was; a transaction-scoped advisory lock per (table, day) serialises writers of a day.
Readers wait only for the final DROP ... ATTACH, not for the load. Identifiers are the
registry's table name and a partition name built from a date; bounds are ISO timestamps
built from that date (DDL takes no bind parameters).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import polars as pl

from vol_pipeline.storage.tables import Table

BY_DAY = frozenset({"lane_features"})
SWAP_MIN_ROWS = 50_000  # a day with at least this many new rows is loaded into a new partition
# NUMERIC columns, sent as Arrow decimals so COPY can load the partition directly.
DECIMAL_COLUMNS = {"volume_ratio": pl.Decimal(10, 4)}
DAY = timedelta(days=1)


def partition_name(tbl: Table, day: date) -> str:
    return f"{tbl.name}_{day:%Y%m%d}"


def utc_days(start: datetime, end: datetime) -> list[date]:
    """The UTC days the window [start, end) touches."""
    first, last = start.astimezone(timezone.utc).date(), (end.astimezone(timezone.utc) - timedelta(microseconds=1)).date()
    return [first + i * DAY for i in range((last - first).days + 1)] if end > start else []


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), timezone.utc)


def _bound(day: date) -> str:
    """The SQL literal of a day's start, e.g. '2026-11-23 00:00:00+00:00'."""
    return f"'{_day_start(day).isoformat(sep=' ')}'"


def replace_days(cursor, tbl: Table, rows: pl.DataFrame, start: datetime, end: datetime) -> pl.DataFrame:
    """Replace the window [start, end) of a day-partitioned table with `rows` (all inside it).

    Days with >= SWAP_MIN_ROWS rows are swapped in here; for the others the window is
    deleted and their partitions exist afterwards. Returns those other rows, which the
    caller inserts in the same transaction."""
    days = utc_days(start, end)
    for day in days:
        cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", (partition_name(tbl, day),))
    by_day = {day: rows.filter((pl.col("ts") >= _day_start(day)) & (pl.col("ts") < _day_start(day + DAY)))
              for day in days}
    swapped = {day for day, day_rows in by_day.items() if day_rows.height >= SWAP_MIN_ROWS}
    inserted = [day for day, day_rows in by_day.items() if day_rows.height and day not in swapped]
    # Partitions first: creating one locks the parent exclusively, and asking for that
    # while holding a DELETE's lock on it could deadlock with another writer's swap.
    for day in inserted:
        _ensure_partition(cursor, tbl, day)
    for day, day_rows in by_day.items():
        low, high = max(start, _day_start(day)), min(end, _day_start(day + DAY))
        if day in swapped:
            _swap(cursor, tbl, day, day_rows, low, high)
        else:
            cursor.execute(f"DELETE FROM {tbl.name} WHERE ts >= $1 AND ts < $2", (low, high))
    return pl.concat([by_day[day] for day in inserted]) if inserted else rows.clear()


def _exists(cursor, relation: str) -> bool:
    cursor.execute("SELECT to_regclass($1) IS NOT NULL", (relation,))
    return bool(cursor.fetchone()[0])


def _ensure_partition(cursor, tbl: Table, day: date) -> None:
    name = partition_name(tbl, day)
    if not _exists(cursor, name):
        cursor.execute(f"CREATE TABLE {name} PARTITION OF {tbl.name} "
                       f"FOR VALUES FROM ({_bound(day)}) TO ({_bound(day + DAY)})")


def _swap(cursor, tbl: Table, day: date, rows: pl.DataFrame, low: datetime, high: datetime) -> None:
    name = partition_name(tbl, day)
    new = f"{name}_new"
    cursor.execute(f"CREATE TABLE {new} (LIKE {tbl.name} INCLUDING DEFAULTS)")
    cursor.adbc_ingest(new, rows.cast(DECIMAL_COLUMNS).to_arrow(), mode="append")
    existed = _exists(cursor, name)
    if existed:  # the day's rows outside the window stay (none for a whole session)
        cursor.execute(f"INSERT INTO {new} SELECT * FROM {name} WHERE ts < $1 OR ts >= $2", (low, high))
    # The parent's key and index (migration 009), built once over the loaded rows.
    cursor.execute(f"ALTER TABLE {new} ADD CONSTRAINT {new}_pkey PRIMARY KEY (ts, ticker)")
    cursor.execute(f"CREATE INDEX {new}_ticker_ts_volume_ratio_idx ON {new} (ticker, ts, volume_ratio)")
    cursor.execute(f"ALTER TABLE {new} ADD CONSTRAINT {new}_day "
                   f"CHECK (ts >= {_bound(day)} AND ts < {_bound(day + DAY)})")
    # From here on readers of the table wait: milliseconds.
    if existed:
        cursor.execute(f"DROP TABLE {name}")
    cursor.execute(f"ALTER TABLE {new} RENAME TO {name}")
    cursor.execute(f"ALTER TABLE {name} RENAME CONSTRAINT {new}_pkey TO {name}_pkey")
    cursor.execute(f"ALTER INDEX {new}_ticker_ts_volume_ratio_idx RENAME TO {name}_ticker_ts_volume_ratio_idx")
    cursor.execute(f"ALTER TABLE {tbl.name} ATTACH PARTITION {name} "
                   f"FOR VALUES FROM ({_bound(day)}) TO ({_bound(day + DAY)})")
    cursor.execute(f"ALTER TABLE {name} DROP CONSTRAINT {new}_day")

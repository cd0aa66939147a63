"""lane_features partitioned by UTC day (migration 009): a big day is loaded into a new
partition and swapped in; a small one is deleted and inserted. Either way a replace is one
transaction with the same result as DELETE + INSERT of the window, on the real server."""

from __future__ import annotations

from contextlib import closing
from datetime import date, datetime, timedelta, timezone

import polars as pl
import psycopg2
import pytest
from polars.testing import assert_frame_equal

from vol_pipeline.core.features import lane_features
from vol_pipeline.defs.session_partitions import session_bounds
from vol_pipeline.sources.synthetic import SyntheticBarSource
from vol_pipeline.storage import migrate, postgres_partitions
from vol_pipeline.storage.migrate import upgrade
from vol_pipeline.storage.postgres_warehouse import PostgresWarehouse
from vol_pipeline.storage.tables import TABLES

MONDAY, TUESDAY = date(2026, 11, 23), date(2026, 11, 24)
COLUMNS = TABLES["lane_features"].columns


def session_features(day: date, tickers: int = 12, seed: int = 5) -> pl.DataFrame:
    bars = SyntheticBarSource(tickers=tuple(f"T{i:03d}" for i in range(tickers)), seed=seed).session_bars(day)
    return lane_features(bars).select(list(COLUMNS)).cast(COLUMNS)


def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with closing(psycopg2.connect(url)) as connection, connection.cursor() as cursor:
        cursor.execute(sql, params or None)
        return cursor.fetchall()


def partitions(url: str) -> list[str]:
    return [r[0] for r in query(url, "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                                     " WHERE i.inhparent = 'lane_features'::regclass ORDER BY 1")]


def sorted_rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("ticker", "ts")


@pytest.fixture
def swap_small_days(monkeypatch):
    """Swap any day of >= 100 rows, so a dozen tickers exercise the session path."""
    monkeypatch.setattr(postgres_partitions, "SWAP_MIN_ROWS", 100)


@pytest.fixture
def pg(emptied_postgres_url) -> PostgresWarehouse:
    return PostgresWarehouse(emptied_postgres_url)


def test_a_session_is_swapped_in_and_reads_back_exactly(pg, emptied_postgres_url, swap_small_days):
    features = session_features(MONDAY)
    start, end = session_bounds(MONDAY)
    pg.replace("lane_features", features, start, end)
    assert_frame_equal(pg.read("lane_features"), sorted_rows(features))
    assert "lane_features_20261123" in partitions(emptied_postgres_url)
    # The load's key and index became the partitions of the parent's (adopted, not rebuilt).
    attached = query(emptied_postgres_url, "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
                                           " WHERE i.inhparent IN ('lane_features_pkey'::regclass,"
                                           " 'idx_lane_features_volume'::regclass) ORDER BY 1")
    assert attached == [("lane_features_20261123_pkey",), ("lane_features_20261123_ticker_ts_volume_ratio_idx",)]
    assert query(emptied_postgres_url, "SELECT count(*) FROM pg_indexes WHERE tablename = 'lane_features_20261123'") == [(2,)]
    assert query(emptied_postgres_url, "SELECT count(*) FROM pg_class WHERE relname LIKE 'lane\\_features\\_%\\_new%'") == [(0,)]


def test_replacing_a_session_twice_leaves_one_copy_and_minutes_write_into_it(pg, swap_small_days):
    features = session_features(MONDAY)
    start, end = session_bounds(MONDAY)
    pg.replace("lane_features", features, start, end)
    pg.replace("lane_features", features, start, end)  # the swap again, over its own partition
    last = features["ts"].max()
    minute_rows = features.filter(pl.col("ts") == last).with_columns(close=pl.col("close") + 1)
    pg.replace("lane_features", minute_rows, last, last + timedelta(minutes=1))  # small: delete + insert
    expected = pl.concat([features.filter(pl.col("ts") != last), minute_rows])
    assert_frame_equal(pg.read("lane_features"), sorted_rows(expected))
    pg.replace("lane_features", features, start, end)  # and a swap replaces that minute's rows too
    assert_frame_equal(pg.read("lane_features"), sorted_rows(features))


def test_rows_of_the_day_outside_the_window_are_carried_over(pg, swap_small_days):
    features = session_features(MONDAY)
    start, _ = session_bounds(MONDAY)
    pg.replace("lane_features", features, start, start + timedelta(hours=8))
    afternoon = start + timedelta(hours=4)
    morning = features.filter(pl.col("ts") < afternoon).with_columns(sma20=pl.col("sma20") * 2)
    pg.replace("lane_features", morning, start, afternoon)  # a big day, a window of half of it
    expected = pl.concat([morning, features.filter(pl.col("ts") >= afternoon)])
    assert_frame_equal(pg.read("lane_features"), sorted_rows(expected))


def test_a_window_over_two_days_swaps_each_and_an_empty_day_only_deletes(pg, emptied_postgres_url, swap_small_days):
    both = pl.concat([session_features(MONDAY), session_features(TUESDAY, seed=6)])
    start, end = session_bounds(MONDAY)[0], session_bounds(TUESDAY)[1]
    pg.replace("lane_features", both, start, end)
    assert_frame_equal(pg.read("lane_features"), sorted_rows(both))
    assert {"lane_features_20261123", "lane_features_20261124"} <= set(partitions(emptied_postgres_url))
    pg.replace("lane_features", both.clear(), *session_bounds(TUESDAY))
    assert_frame_equal(pg.read("lane_features"), sorted_rows(both.filter(pl.col("ts") < session_bounds(TUESDAY)[0])))


def test_a_swap_failing_at_the_last_step_leaves_the_day_as_it_was(pg, emptied_postgres_url, swap_small_days, monkeypatch):
    features = session_features(MONDAY)
    start, end = session_bounds(MONDAY)
    pg.replace("lane_features", features, start, end)
    before = partitions(emptied_postgres_url)
    original_swap = postgres_partitions._swap

    def swap_then_fail(cursor, *args):
        original_swap(cursor, *args)  # old partition dropped, new one attached ...
        cursor.execute("SELECT 1 / 0")  # ... and then the transaction fails

    monkeypatch.setattr(postgres_partitions, "_swap", swap_then_fail)
    with pytest.raises(Exception, match="division by zero"):
        pg.replace("lane_features", features.with_columns(close=pl.col("close") + 1), start, end)
    assert_frame_equal(pg.read("lane_features"), sorted_rows(features))
    assert partitions(emptied_postgres_url) == before


def test_migration_009_moves_existing_rows_into_day_partitions(postgres_url, monkeypatch):
    everything = migrate.migrations
    monkeypatch.setattr(migrate, "migrations", lambda: [m for m in everything() if m.version < "009"])
    upgrade(postgres_url)
    with closing(psycopg2.connect(postgres_url)) as connection, connection.cursor() as cursor:
        cursor.execute("INSERT INTO lane_features (ticker, ts, close, volume_ratio) VALUES"
                       " ('AAA', '2026-11-23 14:30+00', 10.5, 1.2345), ('BBB', '2026-11-24 20:59+00', 11.0, NULL)")
        connection.commit()
    monkeypatch.setattr(migrate, "migrations", everything)
    assert upgrade(postgres_url) == ["009_lane_features_by_day"]
    assert partitions(postgres_url) == ["lane_features_20261123", "lane_features_20261124"]
    stored = PostgresWarehouse(postgres_url).read("lane_features")
    assert stored.select("ticker", "ts", "close", "volume_ratio").rows() == [
        ("AAA", datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc), 10.5, 1.2345),
        ("BBB", datetime(2026, 11, 24, 20, 59, tzinfo=timezone.utc), 11.0, None),
    ]


def test_swaps_and_minutes_creating_new_days_run_at_once_without_errors(pg, swap_small_days):
    # A minute writer creates its day's partition while another thread swaps a session in:
    # both lock the parent, so the order of their locks matters (no deadlock, no lost rows).
    import threading

    features = session_features(MONDAY)
    start, end = session_bounds(MONDAY)
    pg.replace("lane_features", features, start, end)
    last_minute = features.filter(pl.col("ts") == features["ts"].max())
    errors: list[BaseException] = []

    def guarded(work):
        def run():
            try:
                work()
            except BaseException as error:  # reported below, not lost in the thread
                errors.append(error)
        return threading.Thread(target=run)

    def swaps():
        for _ in range(8):
            pg.replace("lane_features", features, start, end)

    def minutes_of_new_days():
        for days in range(1, 9):
            rows = last_minute.with_columns(ts=pl.col("ts") + timedelta(days=days))
            pg.replace("lane_features", rows, rows["ts"][0], rows["ts"][0] + timedelta(minutes=1))

    threads = [guarded(swaps), guarded(minutes_of_new_days)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert pg.read("lane_features").height == features.height + 8 * last_minute.height

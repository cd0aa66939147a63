"""Bar revisions, on both warehouses: a later write of a minute's bars records what it
changed (old and new values, when) in the same transaction; a first write or the same
values again record nothing."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse
from vol_pipeline.storage.postgres_warehouse import PostgresWarehouse
from vol_pipeline.storage.tables import TABLES

T0 = datetime(2026, 4, 20, 13, 30, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)
VALUES = ("open", "high", "low", "close", "volume")


def bars(rows: list[tuple], fetched: datetime) -> pl.DataFrame:
    """rows: (ticker, minute index, close, volume)."""
    return pl.DataFrame(
        [{"ticker": t, "ts": T0 + i * MINUTE, "open": 10.0, "high": max(11.0, c), "low": 9.0, "close": c,
          "volume": v, "feed": "iex", "fetched_at": fetched} for t, i, c, v in rows],
        schema=TABLES["bars"].columns,
    )


@pytest.fixture(params=["duckdb", "postgres"])
def store(request, tmp_path):
    if request.param == "duckdb":
        return DuckDBWarehouse(tmp_path / "warehouse.duckdb")
    return PostgresWarehouse(request.getfixturevalue("emptied_postgres_url"))


def revisions(store) -> pl.DataFrame:
    return store.read("bar_revisions").sort("ticker", "ts", "change")


def test_a_first_write_and_the_same_values_again_record_nothing(store):
    first = bars([("AAPL", 0, 10.5, 100), ("MSFT", 0, 20.5, 200)], T0 + MINUTE)
    assert store.replace("bars", first, T0, T0 + MINUTE) == 0
    again = first.with_columns(fetched_at=pl.lit(T0 + 2 * MINUTE, TABLES["bars"].columns["fetched_at"]))
    assert store.replace("bars", again, T0, T0 + MINUTE) == 0  # a re-fetch of the same values
    assert revisions(store).is_empty()
    assert store.read("bars")["fetched_at"].to_list() == [T0 + 2 * MINUTE] * 2  # the stored bar is the newest


def test_a_changed_a_late_and_a_vanished_bar_are_each_recorded_with_old_and_new_values(store):
    fetched1, fetched2 = T0 + MINUTE + timedelta(seconds=10), T0 + 5 * MINUTE
    store.replace("bars", bars([("AAPL", 0, 10.5, 100), ("MSFT", 0, 20.5, 200), ("TSLA", 1, 30.0, 5)], fetched1),
                  T0, T0 + 2 * MINUTE)
    later = bars([("AAPL", 0, 10.75, 130), ("NVDA", 0, 40.0, 7), ("TSLA", 1, 30.0, 5)], fetched2)
    before = datetime.now(timezone.utc)
    assert store.replace("bars", later, T0, T0 + 2 * MINUTE) == 3
    found = revisions(store)
    assert found.select("ticker", "change").rows() == [("AAPL", "revised"), ("MSFT", "removed"), ("NVDA", "added")]
    aapl, msft, nvda = found.iter_rows(named=True)
    assert (aapl["old_close"], aapl["new_close"], aapl["old_volume"], aapl["new_volume"]) == (10.5, 10.75, 100, 130)
    assert (aapl["old_fetched_at"], aapl["new_fetched_at"], aapl["feed"]) == (fetched1, fetched2, "iex")
    assert msft["old_close"] == 20.5 and msft["new_close"] is None
    assert nvda["old_close"] is None and nvda["new_close"] == 40.0
    assert all(before - timedelta(seconds=5) <= r <= datetime.now(timezone.utc) + timedelta(seconds=5)
               for r in found["recorded_at"])
    # the bars are the new ones; writing them again adds no revision
    assert sorted(store.read("bars")["ticker"]) == ["AAPL", "NVDA", "TSLA"]
    assert store.replace("bars", later, T0, T0 + 2 * MINUTE) == 0
    assert revisions(store).height == 3


def test_a_minute_never_stored_before_is_not_compared(store):
    store.replace("bars", bars([("AAPL", 0, 10.5, 100)], T0 + MINUTE), T0, T0 + MINUTE)
    # a range write over minute 0 (unchanged) and minute 1 (new): nothing was revised
    wider = bars([("AAPL", 0, 10.5, 100), ("AAPL", 1, 11.0, 50), ("MSFT", 1, 20.0, 60)], T0 + 3 * MINUTE)
    assert store.replace("bars", wider, T0, T0 + 2 * MINUTE) == 0
    assert revisions(store).is_empty()


def test_a_null_volume_that_gains_a_value_is_a_revision(store):
    store.replace("bars", bars([("AAPL", 0, 10.5, None)], T0 + MINUTE), T0, T0 + MINUTE)
    assert store.replace("bars", bars([("AAPL", 0, 10.5, 90)], T0 + 2 * MINUTE), T0, T0 + MINUTE) == 1
    (row,) = revisions(store).iter_rows(named=True)
    assert row["old_volume"] is None and row["new_volume"] == 90


def test_both_warehouses_stage_the_new_bars_under_the_name_the_statement_reads():
    from vol_pipeline.storage import duckdb_warehouse, postgres_warehouse, revisions

    assert duckdb_warehouse.STAGE == postgres_warehouse.STAGE == revisions.STAGE

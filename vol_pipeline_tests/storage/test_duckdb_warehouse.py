"""The embedded DuckDB warehouse: per-window replaces, reads, types, and two processes at once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse, WarehouseBusyError
from vol_pipeline.storage.tables import TABLES

UTC_TS = pl.Datetime("us", "UTC")
T0 = datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc)  # 09:30 New York
MINUTE = timedelta(minutes=1)
TICKERS = ("AAPL", "MSFT")


def minute(i: int) -> datetime:
    return T0 + i * MINUTE


def bars_at(i: int, volume_base: int = 1000, tickers=TICKERS) -> pl.DataFrame:
    """One bar per ticker for minute i; volume_base makes the rows distinguishable."""
    n = len(tickers)
    price = 100.0 + i
    return pl.DataFrame(
        {
            "ticker": list(tickers),
            "ts": [minute(i)] * n,
            "open": [price] * n,
            "high": [price + 1] * n,
            "low": [price - 1] * n,
            "close": [price + 0.5] * n,
            "volume": [volume_base + i * 10 + k for k in range(n)],
            "feed": ["iex"] * n,
            "fetched_at": [minute(i) + MINUTE] * n,
        },
        schema=TABLES["bars"].columns,
    )


def recommendation_row(ticker: str, i: int, reason: dict) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [f"{ticker}-{minute(i):%Y%m%dT%H%MZ}"],
            "ticker": [ticker],
            "ts": [minute(i)],
            "action": ["BUY"],
            "instrument_type": ["CALL"],
            "rule": ["BULLISH_ENTRY"],
            "rule_version": ["1.0-phase12"],
            "base_confidence": [0.6],
            "volume_ratio": [1.7],
            "volume_mult": [1.0],
            "volume_assessment": ["GOOD_VOLUME"],
            "confidence": [0.6],
            "reason": [json.dumps(reason)],
        },
        schema=TABLES["recommendations"].columns,
    )


@pytest.fixture
def store(tmp_path) -> DuckDBWarehouse:
    return DuckDBWarehouse(tmp_path / "wh" / "warehouse.duckdb")


@pytest.fixture
def three_minutes(store) -> pl.DataFrame:
    """Minutes 0, 1, 2 written one replace each; returns what was written."""
    frames = [bars_at(i) for i in range(3)]
    for i, frame in enumerate(frames):
        store.replace("bars", frame, minute(i), minute(i + 1))
    return pl.concat(frames).sort("ticker", "ts")


# --- replace --------------------------------------------------------------------------------
def test_replace_rewrites_only_its_window_and_leaves_neighbours_untouched(store, three_minutes):
    before = store.read("bars")
    assert_frame_equal(before, three_minutes)

    new_middle = bars_at(1, volume_base=777_000, tickers=("AAPL", "MSFT", "TSLA"))
    store.replace("bars", new_middle, minute(1), minute(2))

    after = store.read("bars")
    expected = pl.concat([bars_at(0), new_middle, bars_at(2)]).sort("ticker", "ts")
    assert_frame_equal(after, expected)
    # the neighbours are byte-for-byte the rows written first
    assert_frame_equal(store.read("bars", minute(0), minute(1)), bars_at(0).sort("ticker"))
    assert_frame_equal(store.read("bars", minute(2), minute(3)), bars_at(2).sort("ticker"))


def test_replace_with_fewer_rows_removes_the_rest_of_the_window(store, three_minutes):
    store.replace("bars", bars_at(1, tickers=("MSFT",)), minute(1), minute(2))
    middle = store.read("bars", minute(1), minute(2))
    assert middle["ticker"].to_list() == ["MSFT"]

    store.replace("bars", bars_at(1).clear(), minute(1), minute(2))
    assert store.read("bars", minute(1), minute(2)).is_empty()
    assert store.read("bars").height == 4  # minutes 0 and 2 still there


def test_replacing_twice_gives_identical_rows_without_duplicates(store, three_minutes):
    store.replace("bars", bars_at(1), minute(1), minute(2))
    first = store.read("bars")
    store.replace("bars", bars_at(1), minute(1), minute(2))
    second = store.read("bars")
    assert_frame_equal(first, second)
    assert second.height == 6
    assert second.select("ticker", "ts").is_duplicated().sum() == 0


def test_replace_over_a_multi_minute_window(store, three_minutes):
    """A backfill range replaces every minute of its window in one write."""
    new = pl.concat([bars_at(1, volume_base=5), bars_at(2, volume_base=5)])
    store.replace("bars", new, minute(1), minute(3))
    assert_frame_equal(store.read("bars", minute(1), minute(3)), new.sort("ticker", "ts"))
    assert_frame_equal(store.read("bars", minute(0), minute(1)), bars_at(0).sort("ticker"))


@pytest.mark.parametrize("stray", [minute(2), minute(0) - timedelta(microseconds=1), None],
                         ids=["at-window-end", "before-window", "null-ts"])
def test_a_row_outside_the_window_raises_and_nothing_is_written(store, three_minutes, stray):
    bad = pl.concat([
        bars_at(1, volume_base=1),
        bars_at(1, volume_base=2, tickers=("TSLA",)).with_columns(ts=pl.lit(stray, UTC_TS)),
    ])
    with pytest.raises(ValueError, match=r"^bars: 1 row\(s\) outside the partition window"):
        store.replace("bars", bad, minute(1), minute(2))
    assert_frame_equal(store.read("bars"), three_minutes)


def test_replace_of_an_unknown_table_raises(store):
    with pytest.raises(ValueError, match="unknown table 'nope'"):
        store.replace("nope", bars_at(0), minute(0), minute(1))


def test_replace_unplaced_quarantine_rows_are_replaced_per_source(store):
    quarantine = TABLES["bars_quarantine"].columns
    rows = pl.DataFrame(
        {"source_row": [3, 4], "ticker": ["AAPL", "MSFT"], "ts": ["2026-11-23 09:30", None],
         "open": ["1"] * 2, "high": ["1"] * 2, "low": ["1"] * 2, "close": ["1"] * 2, "volume": ["1"] * 2,
         "reason": ["ts failed 'has a UTC offset'", "ts failed 'not null'"]},
        schema={k: v for k, v in quarantine.items() if k not in ("minute_ts", "source")},
    )
    store.replace_unplaced("a.csv", rows)
    store.replace_unplaced("b.csv", rows.head(1))
    store.replace_unplaced("a.csv", rows)  # again: no duplicates
    got = store.read("bars_quarantine")
    assert got.group_by("source").len().sort("source").rows() == [("a.csv", 2), ("b.csv", 1)]
    assert got["minute_ts"].null_count() == 3


# --- reads ----------------------------------------------------------------------------------
def test_read_by_window_is_start_inclusive_end_exclusive(store, three_minutes):
    got = store.read("bars", minute(1), minute(2))
    assert got["ts"].unique().to_list() == [minute(1)]
    assert store.read("bars", start=minute(2)).height == 2
    assert store.read("bars", end=minute(1)).height == 2
    assert store.read("bars", minute(3), minute(10)).is_empty()


def test_read_rows_are_ordered_by_ticker_then_time(store, three_minutes):
    got = store.read("bars")
    assert got.rows() == got.sort("ticker", "ts").rows()


def test_read_by_equals(store, three_minutes):
    got = store.read("bars", equals={"ticker": "MSFT"})
    assert got.height == 3
    assert set(got["ticker"]) == {"MSFT"}
    both = store.read("bars", minute(1), minute(3), equals={"ticker": "AAPL", "volume": 1020})
    assert both.rows(named=True) == bars_at(2).filter(pl.col("ticker") == "AAPL").rows(named=True)


def test_read_only_some_columns_in_the_order_asked(store, three_minutes):
    got = store.read("bars", minute(1), minute(3), columns=["volume", "ticker", "ts"])
    assert got.columns == ["volume", "ticker", "ts"]
    assert got.schema["ts"] == UTC_TS and got.schema["volume"] == pl.Int64
    assert_frame_equal(got, store.read("bars", minute(1), minute(3)).select("volume", "ticker", "ts"))


def test_read_only_some_tickers(store, three_minutes):
    got = store.read("bars", minute(1), minute(3), tickers=["MSFT", "nobody"])
    assert_frame_equal(got, store.read("bars", minute(1), minute(3), equals={"ticker": "MSFT"}))
    assert store.read("bars", tickers=[]).is_empty()
    assert store.read("bars", tickers=["x') OR 1=1 --"]).is_empty()  # data, never SQL


def test_reading_a_column_the_table_lacks_names_it(store, three_minutes):
    with pytest.raises(ValueError, match=r"bars has no column\(s\) \['tick'\]"):
        store.read("bars", columns=["ticker", "tick"])
    with pytest.raises(ValueError, match="session_report has no ticker column"):
        store.read("session_report", tickers=["AAPL"])


def test_read_newest_first(store, three_minutes):
    got = store.read("bars", newest_first=3)
    assert [(r["ticker"], r["ts"]) for r in got.iter_rows(named=True)] == [
        ("AAPL", minute(2)), ("MSFT", minute(2)), ("AAPL", minute(1)),
    ]
    assert store.read("bars", newest_first=100).height == 6


def test_timestamps_come_back_as_utc_microseconds(store, three_minutes):
    got = store.read("bars")
    assert got.schema["ts"] == UTC_TS
    assert got["ts"].min() == T0
    # a bar stored at 14:30 UTC is 09:30 in New York
    assert got["ts"].dt.convert_time_zone("America/New_York").dt.strftime("%H:%M").min() == "09:30"


def test_every_table_round_trips_with_its_schema(store):
    """Write one row of every table and read it back: same columns, types and values."""
    rec = recommendation_row("AAPL", 0, {"volume": {"volume_ratio": 1.7, "volume_mult": 1.0}})
    store.replace("recommendations", rec, minute(0), minute(1))
    got = store.read("recommendations")
    assert got.schema == pl.Schema(TABLES["recommendations"].columns)
    assert_frame_equal(got, rec)


def test_json_column_round_trips(store):
    reason = {
        "version": "1.0-phase12",
        "volume": {"volume_ratio": 1.7123, "volume_mult": 1.2, "assessment": "STRONG_VOLUME (ratio 1.71)"},
        "technicals": {"close": 101.25, "trend_state": -1, "above_sma20": False},
        "text": "quote ' and \"double\" and unicode é",
        "nothing": None,
    }
    store.replace("recommendations", recommendation_row("AAPL", 0, reason), minute(0), minute(1))
    got = store.read("recommendations")
    assert got.schema["reason"] == pl.String
    assert json.loads(got["reason"].item()) == reason
    # stored as DuckDB JSON: the warehouse can query into it
    with duckdb.connect(str(store.path), read_only=True) as con:
        assert con.execute("SELECT reason->>'$.volume.assessment' FROM recommendations").fetchone()[0] == \
            "STRONG_VOLUME (ratio 1.71)"


def test_reading_a_missing_file_gives_an_empty_frame_with_the_schema(tmp_path):
    store = DuckDBWarehouse(tmp_path / "never" / "warehouse.duckdb")
    for name, tbl in TABLES.items():
        got = store.read(name)
        assert got.is_empty()
        assert got.schema == pl.Schema(tbl.columns), name
    assert store.volume_coverage().is_empty()
    assert not store.path.exists()  # reading never creates the file


def test_reading_a_table_never_written_gives_an_empty_frame_with_the_schema(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()  # a warehouse file without any table
    store = DuckDBWarehouse(path)
    for name, tbl in TABLES.items():
        equals = {"ticker": "AAPL"} if "ticker" in tbl.columns else None
        got = store.read(name, minute(0), minute(1), equals=equals)
        assert got.is_empty()
        assert got.schema == pl.Schema(tbl.columns), name


def test_a_table_with_no_rows_in_the_window_gives_the_schema(store, three_minutes):
    got = store.read("signals", minute(0), minute(1))
    assert got.is_empty() and got.schema == pl.Schema(TABLES["signals"].columns)


def test_unknown_table_raises_value_error(store, three_minutes):
    with pytest.raises(ValueError, match=r"unknown table 'bar'.*bars"):
        store.read("bar")


def test_unknown_column_in_equals_raises_value_error(store, three_minutes):
    with pytest.raises(ValueError, match=r"bars has no column 'tick'"):
        store.read("bars", equals={"tick": "AAPL"})
    with pytest.raises(ValueError, match="no column"):
        store.read("bars", equals={"ticker = ticker OR 1": 1})


@pytest.mark.parametrize("value", ["x'; DROP TABLE bars; --", "AAPL' OR '1'='1", "AAPL\" OR 1=1 --"])
def test_sql_in_a_value_is_treated_as_data(store, three_minutes, value):
    assert store.read("bars", equals={"ticker": value}).is_empty()
    assert_frame_equal(store.read("bars"), three_minutes)  # table still there, rows intact
    # the same text stored as a ticker is found exactly
    odd = bars_at(5, tickers=(value,))
    store.replace("bars", odd, minute(5), minute(6))
    assert_frame_equal(store.read("bars", equals={"ticker": value}), odd)


def test_volume_coverage_counts_rows_with_volume_per_ticker(store):
    features = pl.DataFrame(
        {
            "ticker": ["AAPL", "AAPL", "MSFT"],
            "ts": [minute(0), minute(1), minute(1)],
            "close": [1.0] * 3, "sma20": [1.0] * 3, "sma50": [1.0] * 3, "recent_vol": [0.1] * 3,
            "baseline_vol": [0.1] * 3, "vol_ratio": [1.0] * 3, "distance_sma20": [0.0] * 3,
            "distance_sma50": [0.0] * 3, "trend_state": [0] * 3, "volume_current": [10, 50, None],
            "volume_avg_20": [10, 20, None], "volume_ratio": [1.0, 2.5, None], "volume_surge": [False, True, None],
        },
        schema=TABLES["lane_features"].columns,
    )
    store.replace("lane_features", features, minute(0), minute(2))
    coverage = store.volume_coverage()
    assert coverage.rows() == [("AAPL", 2, 2, 1, minute(1)), ("MSFT", 1, 0, 0, minute(1))]


# --- two processes at once ------------------------------------------------------------------
HOLDER = """
import sys, time, duckdb
con = duckdb.connect(sys.argv[1])
con.execute("BEGIN TRANSACTION")
con.execute("CREATE TABLE IF NOT EXISTS holder_marker (x INTEGER)")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.execute("COMMIT")
con.close()
"""
HOLD_SECONDS = 2.0


class Holder:
    """Another process holding a write connection on the warehouse file."""

    def __init__(self, path: Path, seconds: float):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, str(path), str(seconds)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        line = self.proc.stdout.readline()
        if line.strip() != "locked":
            self.proc.kill()
            raise AssertionError(f"lock holder did not start: {line!r} {self.proc.stderr.read()}")
        self.locked_at = time.monotonic()

    def finish(self) -> None:
        self.proc.communicate(timeout=30)
        assert self.proc.returncode == 0


@pytest.fixture
def held(store, three_minutes):
    holder = Holder(store.path, HOLD_SECONDS)
    yield holder
    if holder.proc.poll() is None:
        holder.proc.kill()
        holder.proc.wait()


def test_read_waits_for_another_process_then_succeeds(store, three_minutes, held):
    got = store.read("bars")
    waited = time.monotonic() - held.locked_at
    held.finish()
    assert_frame_equal(got, three_minutes)
    assert waited >= 1.0, f"the read should have waited for the lock (waited {waited:.2f} s)"


def test_replace_waits_for_another_process_then_succeeds(store, three_minutes, held):
    new_middle = bars_at(1, volume_base=42)
    store.replace("bars", new_middle, minute(1), minute(2))
    waited = time.monotonic() - held.locked_at
    held.finish()
    assert waited >= 1.0, f"the replace should have waited for the lock (waited {waited:.2f} s)"
    assert_frame_equal(store.read("bars", minute(1), minute(2)), new_middle.sort("ticker"))
    assert store.read("bars").height == 6


def test_a_lock_held_past_the_retry_budget_raises_warehouse_busy(store, three_minutes, held):
    impatient = DuckDBWarehouse(store.path, lock_retry_seconds=0.2)
    started = time.monotonic()
    with pytest.raises(WarehouseBusyError, match="held by another process") as caught:
        impatient.read("bars")
    assert str(store.path) in str(caught.value)
    with pytest.raises(WarehouseBusyError):
        impatient.replace("bars", bars_at(1, volume_base=9), minute(1), minute(2))
    assert time.monotonic() - started < HOLD_SECONDS, "gave up only after the lock was released"
    held.finish()
    assert_frame_equal(store.read("bars"), three_minutes)  # the refused replace wrote nothing

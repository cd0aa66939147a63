"""The PostgreSQL warehouse against the embedded DuckDB one: same frames in, same frames out.

Every table of TABLES round-trips; per-window replaces are idempotent and touch nothing
outside their window; reads filter like DuckDB's; values are bound parameters; two writers
of one window leave one copy (the advisory lock); a missing schema and an unreachable
server give clear errors that never show the URL's password.

The tests share one migrated database per module (created with the suite's helpers on the
suite's server, emptied before each test: a fresh database per test would triple the
runtime); tests that need no schema or their own migrations use `postgres_url`. Nothing
is mocked in place of the database or its driver.
"""

from __future__ import annotations

import json
import socket
import threading
import traceback
from contextlib import closing
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import polars as pl
import psycopg2
import pytest
from polars.testing import assert_frame_equal

from vol_pipeline.storage import migrate
from vol_pipeline.storage import postgres_warehouse as pw
from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse
from vol_pipeline.storage.migrate import upgrade
from vol_pipeline.storage.postgres_warehouse import PostgresWarehouse, WarehouseSchemaError, WarehouseUnavailableError
from vol_pipeline.storage.tables import TABLES, Table

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
T0 = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # 09:30 New York
MINUTE = timedelta(minutes=1)
TABLE_NAMES = list(TABLES)
# four rows per sample frame: (minute offset, ticker); unique per (ticker, partition column)
ROW_MINUTES = (0, 0, 1, 2)
ROW_TICKERS = ("AAPL", "MSFT", "AAPL", "MSFT")
WINDOW_MINUTES = 3  # a sample at offset k fills the window [minute(k), minute(k + 3))
ACTIONS = {"signals": ("BUY", "SELL", "HOLD", "HOLD")}
VOLUME_RATIOS = (1.2345, 0.0001, 2.5, 999999.9999)  # 4 decimals, up to NUMERIC(10,4)'s maximum
NASTY = ("X'; DROP TABLE bars; --", "AAPL' OR '1'='1", 'AAPL" OR 1=1 --', "$1", "é\\n'\"")


def minute(i: float) -> datetime:
    return T0 + i * MINUTE


def window(offset: int = 0) -> tuple[datetime, datetime]:
    return minute(offset), minute(offset + WINDOW_MINUTES)


# --- sample frames ----------------------------------------------------------------------------
def nullable_columns(url: str) -> dict[str, set[str]]:
    """Per table, the columns PostgreSQL lets be NULL (the samples put NULLs in all of them)."""
    with closing(psycopg2.connect(url)) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT table_name, column_name FROM information_schema.columns"
                       " WHERE table_schema = 'public' AND is_nullable = 'YES'")
        found: dict[str, set[str]] = {}
        for table_name, column in cursor.fetchall():
            found.setdefault(table_name, set()).add(column)
    return found


def json_document(i: int, salt: int) -> str:
    return json.dumps({
        "version": "1.0-phase12",
        "volume": {"volume_ratio": 1.7123, "volume_mult": 1.2, "assessment": f"STRONG_VOLUME ({i}, {salt})"},
        "gates": [{"name": "confidence", "passed": True}, {"name": "cooldown", "passed": False}],
        "text": "quote ' and \"double\" and unicode é and SQL '; DROP TABLE bars; --",
        "nothing": None,
        "big": 12345678901234,
        "tiny": 0.30000000000000004,
    })


def sample(tbl: Table, nullable: set[str] = frozenset(), offset: int = 0, salt: int = 0) -> pl.DataFrame:
    """Four rows of `tbl` in window(offset): every column filled by its type, row 1 NULL
    wherever the database allows it; `salt` makes versions of the same rows distinguishable."""
    data: dict[str, list] = {}
    for column, dtype in tbl.columns.items():
        values = []
        for i, (m, ticker) in enumerate(zip(ROW_MINUTES, ROW_TICKERS)):
            ts = minute(offset + m) + timedelta(microseconds=123_456 * (i % 2))
            if column == tbl.partition_column:
                value = ts
            elif isinstance(dtype, pl.Datetime):
                value = ts + timedelta(seconds=17, microseconds=654_321)
            elif column == "ticker":
                value = ticker
            elif column in ("id", "recommendation_id"):
                value = f"{ticker}-{ts:%Y%m%dT%H%MZ}-{i}"
            elif column == "session_date":
                value = (T0 + timedelta(days=offset * 7 + i)).date().isoformat()
            elif column == "action":
                value = ACTIONS.get(tbl.name, ("BUY", "SELL", "BUY", "SELL"))[i]
            elif column == "status":
                value = ("SIMULATED", "SKIPPED")[i % 2]
            elif column in tbl.json_columns:
                value = json_document(i, salt)
            elif tbl.name == "lane_features" and column == "volume_ratio":
                value = VOLUME_RATIOS[i]
            elif dtype == pl.String:
                value = f"{column} {i} o'q \"dq\" é {salt}"
            elif dtype == pl.Float64:
                value = 100.0 + i + salt + 0.123456789012345
            elif dtype == pl.Int64:
                value = 2**40 + 7 * i + salt
            elif dtype == pl.Int32:
                value = (-1, 0, 1, 1)[i]
            elif dtype == pl.Boolean:
                value = i % 2 == 0
            else:
                raise AssertionError(f"no sample value for {tbl.name}.{column} ({dtype})")
            if i == 1 and column in nullable and column != tbl.partition_column:
                value = None
            values.append(value)
        data[column] = values
    return pl.DataFrame(data, schema=tbl.columns)


def normalised(frame: pl.DataFrame, tbl: Table) -> pl.DataFrame:
    """JSON columns as canonical JSON text (JSONB reorders keys and drops whitespace)."""
    canonical = lambda text: json.dumps(json.loads(text), sort_keys=True)  # noqa: E731
    return frame.with_columns(pl.col(c).map_elements(canonical, return_dtype=pl.String) for c in tbl.json_columns)


def assert_same(left: pl.DataFrame, right: pl.DataFrame, tbl: Table) -> None:
    assert left.schema == pl.Schema(tbl.columns) == right.schema
    assert_frame_equal(normalised(left, tbl), normalised(right, tbl), rel_tol=1e-12, abs_tol=1e-12)


def in_read_order(frame: pl.DataFrame, tbl: Table) -> pl.DataFrame:
    keys = (["ticker"] if "ticker" in tbl.columns else []) + [tbl.partition_column]
    return frame.sort(keys, nulls_last=True)  # as both warehouses order (NULLS LAST)


def bars(minutes: range, tickers=("AAPL", "MSFT", "TSLA"), volume_base: int = 1000) -> pl.DataFrame:
    rows = [
        {"ticker": t, "ts": minute(i), "open": 100.0 + i, "high": 101.0 + i, "low": 99.0 + i,
         "close": 100.5 + i + k / 7, "volume": None if (i + k) % 4 == 3 else volume_base + 10 * i + k}
        for i in minutes for k, t in enumerate(tickers)
    ]
    return pl.DataFrame(rows, schema=TABLES["bars"].columns)


def pg_rows(url: str, sql: str) -> list[tuple]:
    with closing(psycopg2.connect(url)) as connection, connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchall()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- fixtures -----------------------------------------------------------------------------------
@pytest.fixture
def pg(emptied_postgres_url) -> PostgresWarehouse:
    return PostgresWarehouse(emptied_postgres_url)


@pytest.fixture
def duck(tmp_path) -> DuckDBWarehouse:
    return DuckDBWarehouse(tmp_path / "duck" / "warehouse.duckdb")


@pytest.fixture(scope="module")
def nullable(module_postgres_url) -> dict[str, set[str]]:
    return nullable_columns(module_postgres_url)


# --- round trips --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", TABLE_NAMES)
def test_every_table_round_trips_like_duckdb_and_a_second_replace_leaves_one_copy(pg, duck, nullable, name):
    tbl = TABLES[name]
    frame = sample(tbl, nullable.get(name, set()))
    if nullable.get(name):
        assert frame.null_count().sum_horizontal().item() > 0, "the sample has no NULL"
    pg.replace(name, frame, *window())
    duck.replace(name, frame, *window())

    got, reference = pg.read(name), duck.read(name)

    assert got.height == frame.height
    assert_same(got, reference, tbl)
    assert_same(got, in_read_order(frame, tbl), tbl)  # and both equal what was written

    pg.replace(name, frame, *window())  # the same window again: still one copy
    assert_same(pg.read(name), got, tbl)


def test_volume_ratio_with_four_decimals_survives_numeric_10_4(pg, nullable):
    tbl = TABLES["lane_features"]
    frame = sample(tbl)  # no NULLs: every row carries one of VOLUME_RATIOS
    pg.replace("lane_features", frame, *window())
    got = pg.read("lane_features")
    assert sorted(got["volume_ratio"].to_list()) == sorted(VOLUME_RATIOS)  # exact, not approximately
    stored = pg_rows(pg_url(pg), "SELECT volume_ratio::text FROM lane_features ORDER BY volume_ratio")
    assert [text for (text,) in stored] == ["0.0001", "1.2345", "2.5000", "999999.9999"]


def pg_url(store: PostgresWarehouse) -> str:
    return store._url  # the test's own database URL (no password in the fixtures' URLs)


def test_json_columns_are_stored_as_jsonb_documents(pg, nullable):
    frame = sample(TABLES["recommendations"], nullable["recommendations"], salt=5)
    pg.replace("recommendations", frame, *window())
    rows = pg_rows(pg_url(pg), "SELECT reason->'volume'->>'assessment', jsonb_typeof(reason->'nothing'),"
                               " reason->>'text' FROM recommendations ORDER BY id")
    assert rows[0][0].startswith("STRONG_VOLUME") and rows[0][1] == "null"
    assert rows[0][2] == "quote ' and \"double\" and unicode é and SQL '; DROP TABLE bars; --"


def test_timestamps_come_back_as_utc_microseconds(pg):
    frame = bars(range(2)).with_columns(ts=pl.col("ts") + pl.duration(microseconds=7))
    pg.replace("bars", frame, minute(0), minute(2))
    got = pg.read("bars")
    assert got.schema["ts"] == pl.Datetime("us", "UTC")
    assert got["ts"].min() == T0 + timedelta(microseconds=7)
    assert got["ts"].dt.convert_time_zone("America/New_York").dt.strftime("%H:%M").min() == "09:30"


def test_an_empty_table_reads_as_an_empty_frame_with_the_schema(pg):
    for name, tbl in TABLES.items():
        got = pg.read(name)
        assert got.is_empty() and got.schema == pl.Schema(tbl.columns), name
    empty = pg.volume_coverage()
    assert empty.is_empty()
    assert empty.schema == DuckDBWarehouse("/nonexistent/never.duckdb").volume_coverage().schema


# --- replace: idempotent, bounded to its window --------------------------------------------------
@pytest.mark.parametrize("name", TABLE_NAMES)
def test_replacing_a_window_touches_no_row_outside_it(pg, nullable, name):
    tbl = TABLES[name]
    nulls = nullable.get(name, set())
    # keys embed the minute or the offset, so the three windows never share a primary key
    before, middle, after = (sample(tbl, nulls, offset=k, salt=k) for k in (0, 3, 6))
    for k, frame in zip((0, 3, 6), (before, middle, after)):
        pg.replace(name, frame, *window(k))
    untouched = pg.read(name, end=minute(3)), pg.read(name, start=minute(6))

    new_middle = sample(tbl, nulls, offset=3, salt=99).head(3)
    pg.replace(name, new_middle, *window(3))

    assert_same(pg.read(name, end=minute(3)), untouched[0], tbl)
    assert_same(pg.read(name, start=minute(6)), untouched[1], tbl)
    assert_same(pg.read(name, *window(3)), in_read_order(new_middle, tbl), tbl)

    # an empty frame clears its window, and only its window
    pg.replace(name, tbl.empty(), *window(3))
    assert pg.read(name, *window(3)).is_empty()
    assert_same(pg.read(name), in_read_order(pl.concat([before, after]), tbl), tbl)


def test_replace_with_fewer_rows_removes_the_rest_of_the_window(pg):
    pg.replace("bars", bars(range(3)), minute(0), minute(3))
    pg.replace("bars", bars(range(1, 2), tickers=("MSFT",)), minute(1), minute(2))
    assert pg.read("bars", minute(1), minute(2))["ticker"].to_list() == ["MSFT"]
    assert pg.read("bars").height == 7


def test_a_window_given_in_new_york_time_is_the_same_window(pg):
    pg.replace("bars", bars(range(3)), minute(0), minute(3))
    start, end = minute(1).astimezone(NEW_YORK), minute(2).astimezone(NEW_YORK)
    pg.replace("bars", bars(range(1, 2), volume_base=5), start, end)
    assert pg.read("bars").height == 9
    assert pg.read("bars", start, end)["volume"].drop_nulls().min() < 100


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_a_row_outside_the_window_raises_naming_the_table_and_writes_nothing(pg, nullable, name):
    tbl = TABLES[name]
    frame = sample(tbl, nullable.get(name, set()))
    pg.replace(name, frame, *window())
    start, end = window()
    column = tbl.partition_column
    for stray in (end, start - timedelta(microseconds=1), None):  # at the window's end, before it, NULL
        bad = sample(tbl, salt=1).with_columns(  # row 2 moved out of the window
            pl.when(pl.int_range(pl.len()) == 2).then(pl.lit(stray, tbl.columns[column]))
            .otherwise(pl.col(column)).alias(column)
        )
        with pytest.raises(ValueError, match=rf"^{name}: 1 row\(s\) outside the partition window"):
            pg.replace(name, bad, start, end)
        assert_same(pg.read(name), in_read_order(frame, tbl), tbl)


def test_replace_of_an_unknown_table_raises(pg):
    with pytest.raises(ValueError, match="unknown table 'nope'"):
        pg.replace("nope", bars(range(1)), minute(0), minute(1))


# --- reads --------------------------------------------------------------------------------------
READS = [
    {},
    {"start": minute(2)},
    {"end": minute(2)},
    {"start": minute(1), "end": minute(4)},
    {"start": minute(4), "end": minute(4)},
    {"start": minute(10), "end": minute(20)},
    {"equals": {"ticker": "MSFT"}},
    {"equals": {"ticker": "AAPL", "volume": 1020}},
    {"equals": {"ticker": "nobody"}},
    {"equals": {"volume": None}},
    {"equals": {"ts": minute(3)}},
    {"equals": {"close": 101.5}},
    {"start": minute(1), "end": minute(5), "equals": {"ticker": "TSLA"}},
    {"newest_first": 4},
    {"newest_first": 0},
    {"newest_first": 100},
    {"newest_first": 2, "equals": {"ticker": "AAPL"}},
    {"newest_first": 3, "end": minute(2)},
    {"start": minute(1).astimezone(NEW_YORK), "end": minute(3).astimezone(NEW_YORK)},
]


def test_read_filters_agree_with_duckdb(pg, duck):
    frame = bars(range(6))
    for store in (pg, duck):
        store.replace("bars", frame, minute(0), minute(6))
    for kwargs in READS:
        got, reference = pg.read("bars", **kwargs), duck.read("bars", **kwargs)
        try:
            assert_same(got, reference, TABLES["bars"])
        except AssertionError as error:
            raise AssertionError(f"read(**{kwargs!r}) differs from DuckDB: {error}") from None


def test_reads_of_some_columns_and_tickers_agree_with_duckdb(pg, duck):
    frame = bars(range(6))
    for store in (pg, duck):
        store.replace("bars", frame, minute(0), minute(6))
    for kwargs in ({"columns": ["ticker", "ts", "close", "volume"]}, {"columns": ["volume", "ts"], "start": minute(2)},
                   {"tickers": ["TSLA", "AAPL"]}, {"tickers": []}, {"tickers": ["AAPL' OR '1'='1"]},
                   {"tickers": ["MSFT"], "columns": ["ts", "close"], "start": minute(1), "end": minute(4)}):
        got, reference = pg.read("bars", **kwargs), duck.read("bars", **kwargs)
        assert got.columns == (kwargs.get("columns") or list(TABLES["bars"].columns))
        assert_frame_equal(got, reference, check_exact=True), kwargs
    assert pg.read("bars", tickers=["MSFT"]).height == 6
    with pytest.raises(ValueError, match=r"bars has no column\(s\) \['nope'\]"):
        pg.read("bars", columns=["nope"])


def test_read_filters_on_lane_features_agree_with_duckdb(pg, duck, nullable):
    tbl = TABLES["lane_features"]
    frame = sample(tbl, nullable["lane_features"])
    for store in (pg, duck):
        store.replace("lane_features", frame, *window())
    for kwargs in ({"equals": {"volume_ratio": 1.2345}}, {"equals": {"volume_surge": True}},
                   {"equals": {"trend_state": 1}}, {"newest_first": 1}, {"start": minute(1)}):
        got = pg.read("lane_features", **kwargs)
        assert got.height > 0, kwargs
        assert_same(got, duck.read("lane_features", **kwargs), tbl)


def test_newest_first_on_a_table_without_ticker_agrees_with_duckdb(pg, duck, nullable):
    tbl = TABLES["session_report"]
    frame = sample(tbl, nullable.get("session_report", set()))
    for store in (pg, duck):
        store.replace("session_report", frame, *window())
    for n in (1, 3, 10):
        assert_same(pg.read("session_report", newest_first=n), duck.read("session_report", newest_first=n), tbl)


def test_read_rows_are_ordered_by_ticker_then_time(pg):
    pg.replace("bars", bars(range(4), tickers=("MSFT", "AAPL", "BRK.B", "BRK-B", "aapl")), minute(0), minute(4))
    got = pg.read("bars")
    assert got.rows() == got.sort("ticker", "ts").rows()


def test_an_unknown_column_in_equals_raises_value_error(pg):
    with pytest.raises(ValueError, match=r"bars has no column 'tick'"):
        pg.read("bars", equals={"tick": "AAPL"})
    with pytest.raises(ValueError, match="no column"):
        pg.read("bars", equals={'ticker" = ticker OR "1': 1})
    with pytest.raises(ValueError, match="unknown table 'bar'"):
        pg.read("bar")


def test_sql_in_a_value_is_stored_and_found_literally(pg):
    existing = bars(range(3))
    pg.replace("bars", existing, minute(0), minute(3))
    for k, value in enumerate(NASTY):
        assert pg.read("bars", equals={"ticker": value}).is_empty(), value
        odd = bars(range(5 + k, 6 + k), tickers=(value,))
        pg.replace("bars", odd, minute(5 + k), minute(6 + k))
        assert_frame_equal(pg.read("bars", equals={"ticker": value}), odd)
        assert pg_rows(pg_url(pg), "SELECT count(*) FROM bars") == [(existing.height + k + 1,)]  # table intact
    assert_frame_equal(pg.read("bars", end=minute(3)), existing.sort("ticker", "ts"))
    assert sorted(pg.read("bars", start=minute(5))["ticker"].to_list()) == sorted(NASTY)


def test_sql_in_a_quarantine_source_is_treated_as_data(pg):
    source = "a.csv'; DELETE FROM bars_quarantine; --"
    pg.replace_unplaced(source, unplaced_rows(2))
    pg.replace_unplaced("b.csv", unplaced_rows(1))
    pg.replace_unplaced(source, unplaced_rows(2))
    got = pg.read("bars_quarantine")
    assert got.group_by("source").len().sort("source").rows() == [(source, 2), ("b.csv", 1)]


# --- quarantine: rows of no minute ------------------------------------------------------------------
def unplaced_rows(n: int, salt: str = "") -> pl.DataFrame:
    quarantine = TABLES["bars_quarantine"].columns
    return pl.DataFrame(
        {"source_row": list(range(3, 3 + n)), "ticker": ["AAPL", "MSFT", "TSLA"][:n],
         "ts": ["2026-11-23 09:30", None, "yesterday"][:n], "open": ["1"] * n, "high": ["1"] * n, "low": ["1"] * n,
         "close": ["1" + salt] * n, "volume": ["1"] * n,
         "reason": ["ts failed 'has a UTC offset'", "ts failed 'not null'", "ts unparsable"][:n]},
        schema={k: v for k, v in quarantine.items() if k not in ("minute_ts", "source")},
    )


def test_replace_unplaced_keeps_one_copy_per_source_like_duckdb(pg, duck):
    for store in (pg, duck):
        store.replace_unplaced("a.csv", unplaced_rows(3))
        store.replace_unplaced("b.csv", unplaced_rows(1))
        store.replace_unplaced("a.csv", unplaced_rows(2, salt="x"))  # again: replaces a.csv's rows
    got = pg.read("bars_quarantine")
    assert got.group_by("source").len().sort("source").rows() == [("a.csv", 2), ("b.csv", 1)]
    assert got["minute_ts"].null_count() == 3
    assert sorted(got.filter(pl.col("source") == "a.csv")["close"].to_list()) == ["1x", "1x"]
    tbl = TABLES["bars_quarantine"]
    key = ["source", "source_row"]
    assert_same(got.sort(key), duck.read("bars_quarantine").sort(key), tbl)


def test_unplaced_and_placed_quarantine_rows_do_not_replace_each_other(pg, nullable):
    tbl = TABLES["bars_quarantine"]
    placed = sample(tbl, nullable["bars_quarantine"]).with_columns(source=pl.lit("a.csv"))
    pg.replace("bars_quarantine", placed, *window())
    pg.replace_unplaced("a.csv", unplaced_rows(2))
    pg.replace_unplaced("a.csv", unplaced_rows(1))
    assert pg.read("bars_quarantine").height == placed.height + 1
    pg.replace("bars_quarantine", tbl.empty(), *window())  # clears the window, not the unplaced row
    got = pg.read("bars_quarantine")
    assert got.height == 1 and got["minute_ts"].is_null().all()


# --- volume coverage ----------------------------------------------------------------------------
def test_volume_coverage_matches_duckdb(pg, duck):
    tbl = TABLES["lane_features"]
    n = 7
    features = pl.DataFrame(
        {
            "ticker": ["AAPL", "AAPL", "AAPL", "MSFT", "MSFT", "TSLA", "X'; --"],
            "ts": [minute(0), minute(1), minute(2), minute(1), minute(2), minute(0), minute(2)],
            "close": [1.0] * n, "sma20": [1.0] * n, "sma50": [None] * n, "recent_vol": [0.1] * n,
            "baseline_vol": [0.1] * n, "vol_ratio": [1.0] * n, "distance_sma20": [0.0] * n,
            "distance_sma50": [None] * n, "trend_state": [0] * n,
            "volume_current": [10, 50, 90, None, 30, None, 5],
            "volume_avg_20": [10, 20, 30, None, 15, None, 5],
            "volume_ratio": [1.0, 2.5, 3.0, None, 2.0, None, 1.0],
            "volume_surge": [False, True, True, None, False, None, False],
        },
        schema=tbl.columns,
    )
    for store in (pg, duck):
        store.replace("lane_features", features, minute(0), minute(3))
    coverage = pg.volume_coverage()
    assert_frame_equal(coverage, duck.volume_coverage())
    assert coverage.rows() == [
        ("AAPL", 3, 3, 2, minute(2)), ("MSFT", 2, 1, 0, minute(2)), ("TSLA", 1, 0, 0, minute(0)),
        ("X'; --", 1, 1, 0, minute(2)),
    ]


# --- two writers of the same window ------------------------------------------------------------------
@pytest.mark.parametrize("name", ["bars_quarantine", "bars"])  # without and with a primary key
def test_two_threads_replacing_the_same_window_leave_exactly_one_copy(pg, nullable, name):
    tbl = TABLES[name]
    versions = [sample(tbl, nullable.get(name, set()), salt=k) for k in (1, 2)]
    start, end = window()
    windows = [(start, end), (start.astimezone(NEW_YORK), end.astimezone(NEW_YORK))]  # the same window
    expected = [normalised(in_read_order(v, tbl), tbl) for v in versions]
    for _ in range(10):
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def write(k: int) -> None:
            try:
                barrier.wait(timeout=10)
                pg.replace(name, versions[k], *windows[k])
            except BaseException as error:  # noqa: BLE001 - asserted below
                errors.append(error)

        threads = [threading.Thread(target=write, args=(k,)) for k in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        got = normalised(pg.read(name), tbl)
        assert got.height == versions[0].height, f"{got.height} rows after two concurrent replaces"
        assert got.equals(expected[0]) or got.equals(expected[1]), "a mix of both writers' rows"


# --- schema missing -----------------------------------------------------------------------------
def test_reading_or_writing_before_the_migrations_raises_warehouse_schema_error(postgres_url):
    store = PostgresWarehouse(postgres_url)
    calls = {
        **{f"read {name}": (lambda name=name: store.read(name)) for name in TABLE_NAMES},
        "volume_coverage": store.volume_coverage,
        "replace": lambda: store.replace("bars", bars(range(1)), minute(0), minute(1)),
        "replace empty": lambda: store.replace("bars", TABLES["bars"].empty(), minute(0), minute(1)),
        "replace_unplaced": lambda: store.replace_unplaced("a.csv", unplaced_rows(1)),
    }
    for label, call in calls.items():
        with pytest.raises(WarehouseSchemaError) as caught:
            call()
        message = str(caught.value)
        assert "`vol-pipeline db upgrade`" in message, (label, message)
        assert store.location in message, (label, message)
        assert "does not exist" in message, (label, message)
    # nothing was created by the failed writes
    assert pg_rows(postgres_url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'") == [(0,)]


def test_a_partly_migrated_database_raises_warehouse_schema_error(postgres_url, tmp_path, monkeypatch):
    """Only 001-002 applied: lane_features lacks the volume columns of 003, bars the provenance of 007."""
    partial = tmp_path / "migrations"
    partial.mkdir()
    for path in sorted(migrate.MIGRATIONS_DIR.glob("*.sql"))[:2]:
        (partial / path.name).write_text(path.read_text())
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", partial)
    upgrade(postgres_url)
    store = PostgresWarehouse(postgres_url)
    assert store.read("bars_quarantine").is_empty()
    with pytest.raises(WarehouseSchemaError, match="vol-pipeline db upgrade"):
        store.read("bars")
    with pytest.raises(WarehouseSchemaError, match="vol-pipeline db upgrade"):
        store.read("lane_features")
    with pytest.raises(WarehouseSchemaError, match="vol-pipeline db upgrade"):
        store.read("signals")


def test_a_query_error_on_a_migrated_database_is_not_blamed_on_missing_migrations(pg, duck, nullable):
    """equals on a JSON column: DuckDB compares the text; PostgreSQL has no jsonb = text.
    Whatever the outcome, it must not tell the user to apply migrations that are applied."""
    frame = sample(TABLES["recommendations"], nullable["recommendations"])
    for store in (pg, duck):
        store.replace("recommendations", frame, *window())
    reason = frame["reason"][0]
    assert duck.read("recommendations", equals={"reason": reason}).height == 1
    try:
        pg.read("recommendations", equals={"reason": reason})
    except WarehouseSchemaError as error:
        pytest.fail(f"an up-to-date schema reported as missing: {error}")
    except Exception:  # noqa: BLE001 - an error about the comparison itself is acceptable
        pass


# --- server unreachable, credentials never shown --------------------------------------------------
PASSWORD = "s3cret-pw"


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    """The module's backoff sleeps, recorded instead of slept (the driver is real)."""
    recorded: list[float] = []
    monkeypatch.setattr(pw, "time", SimpleNamespace(sleep=recorded.append))
    return recorded


def test_an_unreachable_server_raises_warehouse_unavailable_without_the_password(sleeps):
    port = free_port()  # nothing listens there
    url = f"postgresql://vp:{PASSWORD}@127.0.0.1:{port}/x"
    store = PostgresWarehouse(url)
    assert PASSWORD not in str(store) and PASSWORD not in repr(store)
    assert repr(store) == f"PostgresWarehouse(postgresql://127.0.0.1:{port}/x)"
    assert store.location == f"postgresql://127.0.0.1:{port}/x"

    for call in (lambda: store.read("bars"), store.volume_coverage,
                 lambda: store.replace("bars", bars(range(1)), minute(0), minute(1)),
                 lambda: store.replace_unplaced("a.csv", unplaced_rows(1))):
        sleeps.clear()
        with pytest.raises(WarehouseUnavailableError) as caught:
            call()
        error = caught.value
        message = str(error)
        assert f"warehouse postgresql://127.0.0.1:{port}/x unreachable after {pw.CONNECT_ATTEMPTS} attempts" in message
        assert sleeps == [0.5 * 2**k for k in range(pw.CONNECT_ATTEMPTS - 1)]  # backoff between attempts
        for text in (message, repr(error), "".join(traceback.format_exception(error))):
            assert PASSWORD not in text
            assert "vp:" not in text


def test_an_unreachable_server_with_fewer_attempts(monkeypatch, sleeps):
    monkeypatch.setattr(pw, "CONNECT_ATTEMPTS", 1)
    store = PostgresWarehouse(f"postgresql://vp:{PASSWORD}@127.0.0.1:{free_port()}/x")
    with pytest.raises(WarehouseUnavailableError, match="after 1 attempts"):
        store.read("bars")
    assert sleeps == []


class Forwarder:
    """A TCP port that forwards to the test server, opened only when `open()` is called."""

    def __init__(self, host: str, port: int):
        self.target = (host, port)
        self.port = free_port()
        self.listener: socket.socket | None = None

    def open(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()


def test_a_server_that_comes_up_during_the_retries_is_used(emptied_postgres_url, monkeypatch):
    parts = urlsplit(emptied_postgres_url)
    forwarder = Forwarder(parts.hostname, parts.port or 5432)
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 2:
            forwarder.open()  # the server becomes reachable before the third attempt

    monkeypatch.setattr(pw, "time", SimpleNamespace(sleep=sleep))
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{forwarder.port}" if userinfo else f"127.0.0.1:{forwarder.port}"
    store = PostgresWarehouse(urlunsplit(parts._replace(netloc=netloc)))
    try:
        store.replace("bars", bars(range(2)), minute(0), minute(2))
        assert sleeps == [0.5, 1.0]
        assert store.read("bars").height == 6
    finally:
        forwarder.close()
    assert PostgresWarehouse(emptied_postgres_url).read("bars").height == 6  # written to the real database


def test_sqlalchemy_style_urls_are_accepted_and_redacted(emptied_postgres_url):
    parts = urlsplit(emptied_postgres_url)
    url = urlunsplit(parts._replace(scheme="postgresql+psycopg2"))
    store = PostgresWarehouse(url)
    assert store.read("bars").is_empty()
    assert store.location.startswith("postgresql://") and "+psycopg2" not in store.location


def test_a_password_in_the_query_string_is_not_shown():
    store = PostgresWarehouse(f"postgresql://127.0.0.1:{free_port()}/x?user=vp&password={PASSWORD}")
    assert PASSWORD not in repr(store) and PASSWORD not in store.location


def test_a_url_that_is_not_postgres_is_refused_without_showing_it():
    with pytest.raises(ValueError) as caught:
        PostgresWarehouse(f"mysql://vp:{PASSWORD}@127.0.0.1/x")
    assert PASSWORD not in str(caught.value)


def test_a_password_with_url_delimiters_is_never_shown():
    """Unencoded '#', '?' or '/' in the password: the URL is malformed, but whatever
    happens, no part of the password may reach a message or repr()."""
    leaks = []
    for password in ("s3c#ret-pw", "s3c?ret-pw", "s3c/ret-pw"):
        url = f"postgresql://vp:{password}@127.0.0.1:{free_port()}/x"
        try:
            shown = repr(PostgresWarehouse(url))
        except Exception as error:  # noqa: BLE001 - refusing the URL is fine, showing it is not
            shown = "".join(traceback.format_exception_only(error)).strip()
        if "s3c" in shown:  # the part of the password before the delimiter
            leaks.append(f"{password!r} -> {shown}")
    assert not leaks, "the password leaks: " + "; ".join(leaks)

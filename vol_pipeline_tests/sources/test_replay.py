"""ReplayBarSource: CSV/Parquet bar files, normalised to UTC, bad rows kept aside."""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl
import pytest

from vol_pipeline.core.bars import BAR_SCHEMA, STORED_BAR_SCHEMA
from vol_pipeline.core.errors import BadInputError
from vol_pipeline.sources.base import BarSource
from vol_pipeline.sources.replay import ReplayBarSource

ALL_TIME = (datetime(2000, 1, 1, tzinfo=timezone.utc), datetime(2100, 1, 1, tzinfo=timezone.utc))


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


MIXED_OFFSETS = [
    # ticker, ts text, expected UTC minute
    ("AAPL", "2026-11-23T14:30:00Z", utc(2026, 11, 23, 14, 30)),
    ("AAPL", "2026-11-23T09:31:00-05:00", utc(2026, 11, 23, 14, 31)),
    ("AAPL", "2026-11-23 14:32:00+00:00", utc(2026, 11, 23, 14, 32)),
    ("MSFT", "2026-11-23T10:30:00-05:00", utc(2026, 11, 23, 15, 30)),
    ("MSFT", "2026-11-23T15:31:00Z", utc(2026, 11, 23, 15, 31)),
]


def mixed_rows() -> dict[str, list]:
    n = len(MIXED_OFFSETS)
    return {
        "ticker": [t for t, _, _ in MIXED_OFFSETS],
        "ts": [text for _, text, _ in MIXED_OFFSETS],
        "open": [100.0 + i for i in range(n)],
        "high": [101.0 + i for i in range(n)],
        "low": [99.0 + i for i in range(n)],
        "close": [100.5 + i for i in range(n)],
        "volume": [1000 * (i + 1) for i in range(n)],
    }


def expected_utc() -> list[tuple[str, datetime]]:
    return sorted((t, ts) for t, _, ts in MIXED_OFFSETS)


def fetched_keys(source: ReplayBarSource) -> list[tuple[str, datetime]]:
    return source.fetch(*ALL_TIME).select("ticker", "ts").rows()


def test_is_a_bar_source(tmp_path):
    path = tmp_path / "bars.csv"
    pl.DataFrame(mixed_rows()).write_csv(path)
    assert isinstance(ReplayBarSource(path), BarSource)


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_mixed_offsets_are_normalised_to_utc(tmp_path, kind):
    path = tmp_path / f"bars.{kind}"
    frame = pl.DataFrame(mixed_rows())
    frame.write_csv(path) if kind == "csv" else frame.write_parquet(path)
    source = ReplayBarSource(path)
    assert source.validation.rejected.is_empty()
    bars = source.fetch(*ALL_TIME)
    assert dict(bars.schema) == STORED_BAR_SCHEMA
    assert set(bars["feed"]) == {"replay"}  # the file names no feed
    assert (bars["fetched_at"] == datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)).all()
    assert bars.select("ticker", "ts").rows() == expected_utc()
    first = bars.row(0, named=True)
    assert (first["open"], first["high"], first["low"], first["close"], first["volume"]) == (100.0, 101.0, 99.0, 100.5, 1000)


def test_parquet_with_a_timezone_aware_datetime_column(tmp_path):
    path = tmp_path / "bars.parquet"
    local = pl.DataFrame(
        {
            "ticker": ["aapl ", "AAPL"],
            "datetime": [datetime(2026, 11, 23, 9, 30), datetime(2026, 11, 23, 9, 31)],
            "open": [1.0, 1.0], "high": [1.0, 1.0], "low": [1.0, 1.0], "close": [1.0, 1.0], "volume": [5, 6],
        }
    ).with_columns(pl.col("datetime").dt.replace_time_zone("America/New_York"))
    local.write_parquet(path)
    source = ReplayBarSource(path)
    assert source.validation.rejected.is_empty()
    assert fetched_keys(source) == [("AAPL", utc(2026, 11, 23, 14, 30)), ("AAPL", utc(2026, 11, 23, 14, 31))]


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_datetime_column_alias(tmp_path, kind):
    path = tmp_path / f"bars.{kind}"
    frame = pl.DataFrame(mixed_rows()).rename({"ts": "datetime"})
    frame.write_csv(path) if kind == "csv" else frame.write_parquet(path)
    source = ReplayBarSource(path)
    assert fetched_keys(source) == expected_utc()


def test_fetch_window_is_half_open(tmp_path):
    path = tmp_path / "bars.csv"
    pl.DataFrame(mixed_rows()).write_csv(path)
    source = ReplayBarSource(path)
    window = source.fetch(utc(2026, 11, 23, 14, 31), utc(2026, 11, 23, 15, 31))
    assert window.select("ticker", "ts").rows() == [
        ("AAPL", utc(2026, 11, 23, 14, 31)),
        ("AAPL", utc(2026, 11, 23, 14, 32)),
        ("MSFT", utc(2026, 11, 23, 15, 30)),
    ]


def test_rejected_rows_are_available_with_reasons(tmp_path):
    path = tmp_path / "bars.csv"
    path.write_text(
        "ticker,ts,open,high,low,close,volume\n"
        "AAPL,2026-11-23T14:30:00Z,100,101,99,100.5,1000\n"
        "AAPL,2026-11-23T14:31:00Z,100,101,99,100.5,-5\n"  # negative volume
        "AAPL,2026-11-23T14:32:00,100,101,99,100.5,1000\n"  # no UTC offset
        "AAPL,2026-11-23T14:33:00Z,100,101,99,abc,1000\n"  # text close
        "MSFT,2026-11-23T09:34:00-05:00,50,51,49,50.5,\n"  # null volume is allowed
    )
    source = ReplayBarSource(path)
    assert fetched_keys(source) == [("AAPL", utc(2026, 11, 23, 14, 30)), ("MSFT", utc(2026, 11, 23, 14, 34))]
    assert source.fetch(*ALL_TIME)["volume"].to_list() == [1000, None]
    rejected = source.validation.rejected
    assert rejected["source_row"].to_list() == [2, 3, 4]
    reasons = rejected["reason"].to_list()
    assert "volume" in reasons[0] and ">= 0" in reasons[0]
    assert "ts" in reasons[1] and "UTC offset" in reasons[1]
    assert "close" in reasons[2] and "is a number" in reasons[2]
    assert rejected["close"].to_list() == ["100.5", "100.5", "abc"]  # raw values kept
    assert source.validation.input_rows == 5


def test_missing_column_names_file_and_column(tmp_path):
    path = tmp_path / "no_volume.csv"
    pl.DataFrame(mixed_rows()).drop("volume").write_csv(path)
    with pytest.raises(BadInputError) as info:
        ReplayBarSource(path)
    message = str(info.value)
    assert str(path) in message
    assert "'volume'" in message


def test_missing_file_names_the_file(tmp_path):
    path = tmp_path / "nowhere.parquet"
    with pytest.raises(BadInputError, match="nowhere.parquet"):
        ReplayBarSource(path)

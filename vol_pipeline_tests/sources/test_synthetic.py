"""SyntheticBarSource: deterministic, calendar-aware, sparse, U-shaped volume."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from vol_pipeline.core.bars import BAR_SCHEMA
from vol_pipeline.sources.base import BarSource
from vol_pipeline.sources.synthetic import SyntheticBarSource

NORMAL_DAY = date(2026, 11, 23)  # a Monday, EST: session 14:30-21:00 UTC
HALF_DAY = date(2025, 11, 28)  # day after Thanksgiving: closes 13:00 ET
HOLIDAY = date(2026, 4, 3)  # Good Friday
TWO = ("AAPL", "MSFT")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def session_dates(bars: pl.DataFrame) -> list[date]:
    return sorted(bars["ts"].dt.convert_time_zone("America/New_York").dt.date().unique().to_list())


@pytest.fixture(scope="module")
def day_bars() -> pl.DataFrame:
    return SyntheticBarSource(seed=7).generate(NORMAL_DAY, 1)


def test_is_a_bar_source():
    assert isinstance(SyntheticBarSource(), BarSource)


def test_same_seed_same_bars_other_seed_other_bars():
    first = SyntheticBarSource(tickers=TWO, seed=7).generate(NORMAL_DAY, 2)
    again = SyntheticBarSource(tickers=TWO, seed=7).generate(NORMAL_DAY, 2)
    assert_frame_equal(first, again)
    other = SyntheticBarSource(tickers=TWO, seed=8).generate(NORMAL_DAY, 2)
    assert not first.equals(other)
    assert first["close"].to_list()[:50] != other["close"].to_list()[:50]


def test_a_tickers_bars_do_not_depend_on_the_other_tickers():
    alone = SyntheticBarSource(tickers=("AAPL",), seed=7).generate(NORMAL_DAY, 2)
    for tickers in (TWO, ("TSLA", "AAPL", "NVDA"), ("ZZZ", "AAPL")):
        together = SyntheticBarSource(tickers=tickers, seed=7).generate(NORMAL_DAY, 2)
        assert_frame_equal(together.filter(pl.col("ticker") == "AAPL"), alone)


def test_a_sessions_bars_do_not_depend_on_the_window():
    two_days = SyntheticBarSource(tickers=TWO, seed=7).generate(NORMAL_DAY, 2)
    second = SyntheticBarSource(tickers=TWO, seed=7).generate(NORMAL_DAY + timedelta(days=1), 1)
    assert_frame_equal(two_days.filter(pl.col("ts") >= utc(2026, 11, 24)), second)


def test_normal_day_has_at_most_390_minutes_in_the_session(day_bars):
    assert session_dates(day_bars) == [NORMAL_DAY]
    counts = day_bars.group_by("ticker").len()
    assert counts.height == 7
    assert counts["len"].max() <= 390
    assert counts["len"].min() > 330
    assert day_bars["ts"].min() == utc(2026, 11, 23, 14, 30)  # the first minute is always there
    assert day_bars["ts"].max() <= utc(2026, 11, 23, 20, 59)
    assert (day_bars["ts"].dt.second() == 0).all()


def test_without_missing_minutes_a_day_has_exactly_390():
    bars = SyntheticBarSource(tickers=TWO, seed=7, missing_minute_rate=0.0).generate(NORMAL_DAY, 1)
    assert bars.group_by("ticker").len()["len"].to_list() == [390, 390]
    assert bars["ts"].max() == utc(2026, 11, 23, 20, 59)


def test_half_day_has_210_minutes():
    bars = SyntheticBarSource(tickers=TWO, seed=7, missing_minute_rate=0.0).generate(HALF_DAY, 1)
    assert session_dates(bars) == [HALF_DAY]
    assert bars.group_by("ticker").len()["len"].to_list() == [210, 210]
    assert bars["ts"].min() == utc(2025, 11, 28, 14, 30)
    assert bars["ts"].max() == utc(2025, 11, 28, 17, 59)  # 12:59 ET
    sparse = SyntheticBarSource(tickers=TWO, seed=7).generate(HALF_DAY, 1)
    assert sparse.group_by("ticker").len()["len"].max() <= 210


def test_no_bars_on_a_holiday():
    source = SyntheticBarSource(tickers=TWO, seed=7)
    starting_on_holiday = source.generate(HOLIDAY, 1)
    assert session_dates(starting_on_holiday) == [date(2026, 4, 6)]  # the next session (Monday)
    assert starting_on_holiday["ts"].min() == utc(2026, 4, 6, 13, 30)  # EDT
    around = source.generate(date(2026, 4, 2), 2)
    assert session_dates(around) == [date(2026, 4, 2), date(2026, 4, 6)]
    assert source.fetch(utc(2026, 4, 3), utc(2026, 4, 4)).is_empty()


def test_bars_pass_the_bars_schema(day_bars):
    from vol_pipeline.contracts import BARS_SCHEMA, check_contract

    assert dict(day_bars.schema) == BAR_SCHEMA
    fetched = SyntheticBarSource(seed=7).fetch(day_bars["ts"].min(), day_bars["ts"].max() + timedelta(minutes=1))
    check_contract(fetched, BARS_SCHEMA)  # what the source hands the bars asset: with provenance
    assert fetched.select(day_bars.columns).equals(day_bars)
    assert set(fetched["feed"]) == {"synthetic"} and (fetched["fetched_at"] == fetched["ts"] + timedelta(minutes=1)).all()
    assert day_bars.select(pl.struct("ticker", "ts").is_unique().all()).item()
    ordered = day_bars.select(
        (pl.col("low") <= pl.min_horizontal("open", "close")).all().alias("low"),
        (pl.col("high") >= pl.max_horizontal("open", "close")).all().alias("high"),
        (pl.col("volume") >= 0).all().alias("volume"),
        (pl.col("low") > 0).all().alias("positive"),
    )
    assert ordered.row(0) == (True, True, True, True)


def test_bars_are_sorted_by_ticker_and_ts(day_bars):
    assert day_bars.equals(day_bars.sort("ticker", "ts"))


def test_default_rate_leaves_some_minutes_missing(day_bars):
    counts = day_bars.group_by("ticker").len()["len"]
    assert (counts < 390).all()
    missing = 390 * 7 - day_bars.height
    assert 0.01 * 390 * 7 < missing < 0.06 * 390 * 7  # around the 3 % default


def test_volume_is_u_shaped(day_bars):
    minute_of_session = ((day_bars["ts"] - utc(2026, 11, 23, 14, 30)).dt.total_minutes()).alias("m")
    bars = day_bars.with_columns(minute_of_session)
    for ticker, group in bars.group_by("ticker"):
        edges = group.filter((pl.col("m") < 30) | (pl.col("m") >= 360))["volume"].mean()
        middle = group.filter(pl.col("m").is_between(30, 359))["volume"].mean()
        assert edges > middle, ticker
    # And clearly so over all tickers together.
    edges = bars.filter((pl.col("m") < 30) | (pl.col("m") >= 360))["volume"].mean()
    middle = bars.filter(pl.col("m").is_between(150, 239))["volume"].mean()
    assert edges > 1.5 * middle


def test_fetch_returns_exactly_the_bars_in_the_window():
    source = SyntheticBarSource(tickers=TWO, seed=7)
    everything = source.generate(NORMAL_DAY, 2)
    # Start and end on minutes that have bars: the start bar is in, the end bar is out.
    start, end = utc(2026, 11, 23, 20, 15), utc(2026, 11, 24, 14, 45)
    assert everything.filter(pl.col("ts") == start).height > 0
    assert everything.filter(pl.col("ts") == end).height > 0
    window = source.fetch(start, end)
    expected = everything.filter((pl.col("ts") >= start) & (pl.col("ts") < end))
    assert_frame_equal(window.select(expected.columns), expected)
    assert window["ts"].min() == start
    assert window["ts"].max() < end
    assert session_dates(window) == [date(2026, 11, 23), date(2026, 11, 24)]


def test_fetch_of_one_minute_and_an_empty_window():
    source = SyntheticBarSource(tickers=TWO, seed=7, missing_minute_rate=0.0)
    one = source.fetch(utc(2026, 11, 23, 15, 0), utc(2026, 11, 23, 15, 1))
    assert one["ticker"].to_list() == ["AAPL", "MSFT"]
    assert one["ts"].to_list() == [utc(2026, 11, 23, 15, 0)] * 2
    assert source.fetch(utc(2026, 11, 23, 15, 0), utc(2026, 11, 23, 15, 0)).is_empty()
    assert source.fetch(utc(2026, 11, 23, 22, 0), utc(2026, 11, 24, 14, 30)).is_empty()  # overnight

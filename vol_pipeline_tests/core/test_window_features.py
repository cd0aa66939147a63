"""window_features: a minute's lane_features from each ticker's recent bars, reading further
back only for the tickers that need it, with the full recompute's values."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import polars as pl
from polars.testing import assert_frame_equal

from vol_pipeline.core.calendar import market_minutes_back
from vol_pipeline.core.config import FeatureConfig
from vol_pipeline.core.features import lane_features
from vol_pipeline.core.window_features import (
    BAR_COLUMNS, bars_per_ticker, history_minutes, recent_minutes, window_features,
)
from vol_pipeline.sources.synthetic import SyntheticBarSource

CONFIG = FeatureConfig()
DAY2_OPEN = datetime(2026, 11, 24, 14, 30, tzinfo=timezone.utc)
MINUTE = DAY2_OPEN + timedelta(minutes=100)  # its lookback reaches into the day before
END = MINUTE + timedelta(minutes=1)


class RecordingReader:
    """Reads an in-memory bars table as the warehouse does (ordered by ticker, ts) and
    records every call."""

    def __init__(self, bars: pl.DataFrame):
        self.bars = bars.sort("ticker", "ts")
        self.calls: list[tuple[datetime, datetime, list[str] | None]] = []

    def __call__(self, start, end, tickers):
        self.calls.append((start, end, None if tickers is None else list(tickers)))
        start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)  # as the SQL parameters are
        rows = self.bars.filter((pl.col("ts") >= start) & (pl.col("ts") < end))
        if tickers is not None:
            rows = rows.filter(pl.col("ticker").is_in(list(tickers)))
        return rows.select(BAR_COLUMNS)


def _dense(tickers: tuple[str, ...]) -> pl.DataFrame:
    return SyntheticBarSource(tickers=tickers, seed=3, missing_minute_rate=0.0).generate(date(2026, 11, 23), 2)


def _before_minute(bars: pl.DataFrame) -> pl.DataFrame:
    return bars.filter(pl.col("ts") <= MINUTE)


def _mixed_bars() -> pl.DataFrame:
    """Dense tickers and four that are not: GAPPY skipped 15 of its last 130 minutes, NEW
    and TINY listed recently (80 and 30 bars), GONE stopped trading 10 minutes ago."""
    bars = _before_minute(_dense(("AAA", "BBB", "CCC", "GAPPY", "NEW", "TINY", "GONE")))
    ts, ticker = pl.col("ts"), pl.col("ticker")
    skipped = [market_minutes_back(MINUTE, back) for back in range(5, 125, 8)]
    new_since = market_minutes_back(MINUTE, 79)
    tiny_since = market_minutes_back(MINUTE, 29)
    return bars.filter(
        ~((ticker == "GAPPY") & ts.is_in(skipped))
        & ~((ticker == "NEW") & (ts < new_since))
        & ~((ticker == "TINY") & (ts < tiny_since))
        & ~((ticker == "GONE") & (ts > MINUTE - timedelta(minutes=10)))
    )


def test_a_minute_equals_the_full_recompute_and_reads_further_only_for_the_tickers_short_of_bars():
    bars = _mixed_bars()
    reader = RecordingReader(bars)

    features, bars_read = window_features(reader, MINUTE, END, CONFIG)

    expected = lane_features(bars, CONFIG).filter(pl.col("ts") == MINUTE)
    assert_frame_equal(features, expected, check_exact=True)
    assert features["ticker"].to_list() == ["AAA", "BBB", "CCC", "GAPPY", "NEW"]  # TINY < min_bars, GONE no bar
    (recent_start, _, everyone), (history_start, history_end, short) = reader.calls
    assert everyone is None and recent_start == market_minutes_back(MINUTE, recent_minutes(CONFIG) - 1)
    assert history_start == market_minutes_back(MINUTE, history_minutes(CONFIG) - 1) and history_end == END
    assert short == ["GAPPY", "NEW", "TINY"]  # dense tickers and GONE are not read again
    recent_rows = bars.filter(pl.col("ts") >= recent_start).height
    history_rows = bars.filter((pl.col("ts") >= history_start) & pl.col("ticker").is_in(short)).height
    assert bars_read == recent_rows + history_rows


def test_dense_tickers_take_one_read_of_the_recent_minutes():
    bars = _before_minute(_dense(("AAA", "BBB")))
    reader = RecordingReader(bars)

    features, bars_read = window_features(reader, MINUTE, END, CONFIG)

    assert_frame_equal(features, lane_features(bars, CONFIG).filter(pl.col("ts") == MINUTE), check_exact=True)
    assert [tickers for _, _, tickers in reader.calls] == [None]
    assert bars_read == 2 * recent_minutes(CONFIG)


def test_a_window_of_many_minutes_is_one_read_and_the_full_recompute():
    bars = _mixed_bars()
    start = MINUTE - timedelta(minutes=30)
    reader = RecordingReader(bars)

    features, _ = window_features(reader, start, END, CONFIG)

    window = (pl.col("ts") >= start) & (pl.col("ts") < END)
    assert_frame_equal(features, lane_features(bars, CONFIG).filter(window), check_exact=True)
    assert reader.calls == [(market_minutes_back(start, history_minutes(CONFIG) - 1), END, None)]


def test_a_minute_given_in_new_york_time_is_the_same_minute():
    bars = _mixed_bars()
    local = MINUTE.astimezone(ZoneInfo("America/New_York"))
    features, _ = window_features(RecordingReader(bars), local, local + timedelta(minutes=1), CONFIG)
    assert_frame_equal(features, window_features(RecordingReader(bars), MINUTE, END, CONFIG)[0], check_exact=True)


def test_when_most_tickers_skipped_minutes_everyones_history_is_read_once():
    """A sparse feed: a ticker list as long as the universe would cost more than one read."""
    bars = _before_minute(_dense(("AAA", "BBB", "CCC")))
    skipped = [market_minutes_back(MINUTE, back) for back in range(5, 125, 8)]
    bars = bars.filter(~(pl.col("ticker").is_in(["AAA", "BBB"]) & pl.col("ts").is_in(skipped)))
    reader = RecordingReader(bars)

    features, bars_read = window_features(reader, MINUTE, END, CONFIG)

    assert_frame_equal(features, lane_features(bars, CONFIG).filter(pl.col("ts") == MINUTE), check_exact=True)
    history_start = market_minutes_back(MINUTE, history_minutes(CONFIG) - 1)
    assert reader.calls[1] == (history_start, END, None)
    assert bars_read == bars.filter(pl.col("ts") >= reader.calls[0][0]).height + bars.filter(pl.col("ts") >= history_start).height


def test_bars_per_ticker_counts_the_tickers_with_a_bar_at_the_minute():
    bars = pl.DataFrame({
        "ticker": ["A"] * 3 + ["B"] * 2 + ["C"] * 2,
        "ts": [MINUTE - timedelta(minutes=2), MINUTE - timedelta(minutes=1), MINUTE,
               MINUTE - timedelta(minutes=1), MINUTE, MINUTE - timedelta(minutes=2), MINUTE - timedelta(minutes=1)],
    })
    assert bars_per_ticker(bars, MINUTE).rows() == [("A", 3), ("B", 2)]  # C has no bar at the minute
    assert bars_per_ticker(bars.clear(), MINUTE).is_empty()


def test_an_unordered_frame_only_sends_more_tickers_to_the_second_read():
    """A ticker split into runs looks short in each run: read again, never wrongly kept."""
    bars = pl.DataFrame({"ticker": ["A", "A", "B", "A"],
                         "ts": [MINUTE - timedelta(minutes=3), MINUTE - timedelta(minutes=2), MINUTE, MINUTE]})
    assert sorted(bars_per_ticker(bars, MINUTE).rows()) == [("A", 1), ("B", 1)]

"""lane_features of a partition window, reading no more bars than the kernel needs.

The per-minute kernel uses each ticker's last `lookback_bars` bars. A ticker that trades
every minute has them in the last `lookback_bars` market minutes; one that skipped minutes
needs to reach further back. So one minute is read in two steps:

1. every ticker's bars of the last `recent_minutes` market minutes (the lookback plus a
   little slack for a few skipped minutes): most tickers are complete here;
2. only for the tickers with a bar at the minute but fewer than `lookback_bars` in step 1,
   their bars of the last `history_minutes`; their rows replace those from step 1. When
   most tickers are short (a sparse feed), everyone's `history_minutes` are read instead,
   as the earlier design did, so a sparse universe reads one extra step, not a long list.

Each ticker's features depend on its own bars only, so the rows are exactly those of one read
of `history_minutes` for every ticker (the earlier design), from about half the bars.
A longer window (a range run) takes the full recompute over the window plus `history_minutes`.
IO stays with the caller: `read_bars(start, end, tickers)` returns the bars in [start, end),
of `tickers` only unless None, in BAR_COLUMNS.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone

import polars as pl

from vol_pipeline.core.calendar import market_minutes_back
from vol_pipeline.core.config import FeatureConfig
from vol_pipeline.core.features import lane_features_between

BAR_COLUMNS: tuple[str, ...] = ("ticker", "ts", "close", "volume")  # what the kernel reads
BarReader = Callable[[datetime, datetime, Sequence[str] | None], pl.DataFrame]

# Measured on the benchmark's session (0.3% of minutes without a bar): with 130 minutes, 10 of
# 4,867 tickers need step 2; with exactly 120, nearly all of them do.
SLACK_MINUTES = 10


def recent_minutes(config: FeatureConfig) -> int:
    return config.lookback_bars + SLACK_MINUTES


def history_minutes(config: FeatureConfig) -> int:
    """Twice the bars the kernel needs: a ticker with at least lookback_bars bars in this
    span gets exactly the full recompute's values."""
    return 2 * config.lookback_bars


def _history_start(start: datetime, config: FeatureConfig) -> datetime:
    return market_minutes_back(start, history_minutes(config) - 1)


def window_features(read_bars: BarReader, start: datetime, end: datetime,
                    config: FeatureConfig = FeatureConfig()) -> tuple[pl.DataFrame, int]:
    """Feature rows of the bars with start <= ts < end, and how many bars were read."""
    if end - start > timedelta(minutes=1):
        bars = read_bars(_history_start(start, config), end, None)
        return lane_features_between(bars, start, end, config), bars.height
    recent = read_bars(market_minutes_back(start, recent_minutes(config) - 1), end, None)
    counts = bars_per_ticker(recent, start)
    short = counts.filter(pl.col("bars") < config.lookback_bars)["ticker"]
    if short.is_empty():
        return lane_features_between(recent, start, end, config), recent.height
    history_start = _history_start(start, config)  # only now: the calendar walk back costs ~0.7 ms
    if 2 * short.len() > counts.height:
        # Most tickers skipped minutes (a sparse feed): one read of everyone's history costs
        # less than a ticker list that long, and the kernel runs once.
        bars = read_bars(history_start, end, None)
        return lane_features_between(bars, start, end, config), recent.height + bars.height
    history = read_bars(history_start, end, short.to_list())
    kept = lane_features_between(recent, start, end, config).filter(~pl.col("ticker").is_in(short.implode()))
    redone = lane_features_between(history, start, end, config)
    return pl.concat([kept, redone]).sort("ticker", "ts"), recent.height + history.height


def bars_per_ticker(bars: pl.DataFrame, minute: datetime) -> pl.DataFrame:
    """(ticker, bars) of the tickers with a bar at `minute`: how many bars each has in `bars`.

    Counted per run of equal tickers (the reads are ordered by ticker): an unordered frame
    splits a ticker into short runs, which only sends it to step 2 needlessly.
    """
    if bars.is_empty():
        return pl.DataFrame(schema={"ticker": pl.String, "bars": pl.Int64})
    runs = bars.select(pl.col("ticker").rle()).unnest("ticker").select(
        ticker="value", bars=pl.col("len").cast(pl.Int64))
    newest = bars["ts"].gather(runs["bars"].cum_sum() - 1)
    return runs.filter(newest == minute.astimezone(timezone.utc))

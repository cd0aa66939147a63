"""The watchlist contract: each 5-minute mark's scored tickers, their components and rank."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from vol_pipeline.contracts.base import UTC_TS, column, expr_check, unit_interval
from vol_pipeline.core.watchlist import OFF_LIST_RANK, WATCHLIST_COLUMNS

WATCHLIST_SCHEMA = pa.DataFrameSchema(
    {
        "ts": column(UTC_TS),  # the mark: the bar whose features were scored
        "ticker": column(pl.String),
        "as_of": column(UTC_TS),  # that bar's close: news up to it counted
        "watch_score": unit_interval(False),
        "rank": column(pl.Int32, checks=[pa.Check.ge(1)]),
        "in_watchlist": column(pl.Boolean),
        "news_count": column(pl.Int64, checks=[pa.Check.ge(0)]),
        "avg_sentiment": column(pl.Float64, checks=[pa.Check.in_range(-1.0, 1.0)]),
        "news_age_s": column(pl.Float64, checks=[pa.Check.ge(0)]),
        "sentiment_pressure": unit_interval(False),
        "setup_quality": unit_interval(False),
        "vol_ratio": column(pl.Float64, nullable=True),
        "vol_score": unit_interval(False),
        "trend_state": column(pl.Int32, checks=[pa.Check.isin([-1, 0, 1])]),
        "trend_alignment": column(pl.Float64, checks=[pa.Check.isin([0.0, 0.5, 1.0])]),
        "close": column(pl.Float64),
        "sma20": column(pl.Float64),
        "sma50": column(pl.Float64),
    },
    checks=[
        expr_check("on the list exactly when ranked", pl.col("in_watchlist") == (pl.col("rank") != OFF_LIST_RANK)),
        expr_check("as_of is the bar's close", pl.col("as_of") == pl.col("ts") + pl.duration(minutes=1)),
    ],
    unique=["ts", "ticker"],
    strict=True,
    name="watchlist",
)
assert tuple(WATCHLIST_SCHEMA.columns) == ("ts", *WATCHLIST_COLUMNS)

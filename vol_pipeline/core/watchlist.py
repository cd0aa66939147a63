"""The watchlist engine (reference §7): which tickers the signal engine evaluates.

Every ticker of the universe with features gets watch_score =
clamp01(0.35 sentiment_pressure + 0.25 setup_quality + 0.20 vol_score + 0.20 trend_alignment)
from its latest lane_features row and its news of the last 60 minutes; the top 30 by score
are on the watchlist (ranks 1..30), every other ticker gets rank 999 and score 0 when it had
no features. Components are kept as columns so the UI and `explain` can show them.

One defect of the original is fixed (reference §10.3): it took the mean FinBERT
*confidence* (always >= 0) as the news direction, so any news read as bullish and
downtrends were penalised. Here the direction is the mean *directional* score (+score
positive, -score negative, 0 neutral), and pressure uses its absolute value.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from vol_pipeline.core.news_sentiment import BAR, SentimentWindow, directional, sentiment_by_minute

OFF_LIST_RANK = 999
WATCHLIST_COLUMNS = (
    "ticker", "as_of", "watch_score", "rank", "in_watchlist", "news_count", "avg_sentiment",
    "news_age_s", "sentiment_pressure", "setup_quality", "vol_ratio", "vol_score", "trend_state",
    "trend_alignment", "close", "sma20", "sma50",
)


@dataclass(frozen=True)
class WatchlistConfig:
    size: int = 30
    news_minutes: int = 60
    weights: tuple[float, float, float, float] = (0.35, 0.25, 0.20, 0.20)  # pressure, setup, vol, trend
    setup_scale: float = 0.01  # |distance_sma20| at which setup quality reaches 0
    direction_deadband: float = 0.05


def _clamp01(expr: pl.Expr) -> pl.Expr:
    return expr.clip(0.0, 1.0)


def _news_by_ticker(item_mentions: pl.DataFrame, as_of: datetime, config: WatchlistConfig) -> pl.DataFrame:
    """news_count, mean directional score and age of the newest item, over (as_of - 60 min, as_of]."""
    since = as_of - timedelta(minutes=config.news_minutes)
    return (
        item_mentions.filter((pl.col("published_at") > since) & (pl.col("published_at") <= as_of))
        .group_by("ticker")
        .agg(news_count=pl.len(), avg_sentiment=directional().mean(), newest=pl.col("published_at").max())
        .with_columns(news_age_s=(pl.lit(as_of) - pl.col("newest")).dt.total_microseconds() / 1e6)
        .drop("newest")
    )


def _scored(frame: pl.DataFrame, config: WatchlistConfig) -> pl.DataFrame:
    """The components and watch_score of rows holding features and their news columns."""
    w_pressure, w_setup, w_vol, w_trend = config.weights
    horizon_s = config.news_minutes * 60.0
    avg, age = pl.col("avg_sentiment"), pl.col("news_age_s")
    direction = pl.when(avg > config.direction_deadband).then(1).when(avg < -config.direction_deadband).then(-1).otherwise(0)
    trend = pl.col("trend_state")
    # The original's `or 1.0`: a missing or zero ratio scores as normal volume.
    vol_ratio = pl.when(pl.col("vol_ratio").is_null() | (pl.col("vol_ratio") == 0)).then(1.0).otherwise(pl.col("vol_ratio"))
    return (
        frame.with_columns(
            news_count=pl.col("news_count").fill_null(0).cast(pl.Int64),
            avg_sentiment=avg.fill_null(0.0),
            news_age_s=age.fill_null(horizon_s),
        )
        .with_columns(
            sentiment_pressure=_clamp01(0.50 * _clamp01(avg.abs()) + 0.30 * _clamp01(pl.col("news_count") / 5)
                                        + 0.20 * _clamp01(1 - age / horizon_s)),
            setup_quality=_clamp01(1 - pl.col("distance_sma20").abs() / config.setup_scale),
            vol_score=_clamp01((vol_ratio - 0.7) / 0.8),
            trend_alignment=pl.when((trend == 0) | (direction == 0)).then(0.5)
            .when(trend == direction).then(1.0).otherwise(0.0),
        )
        .with_columns(
            watch_score=_clamp01(w_pressure * pl.col("sentiment_pressure") + w_setup * pl.col("setup_quality")
                                 + w_vol * pl.col("vol_score") + w_trend * pl.col("trend_alignment"))
        )
    )


_FEATURE_COLUMNS = ("ticker", "close", "sma20", "sma50", "distance_sma20", "trend_state", "vol_ratio")


def watchlist(
    latest_features: pl.DataFrame,
    item_mentions: pl.DataFrame,
    universe: tuple[str, ...],
    as_of: datetime,
    config: WatchlistConfig = WatchlistConfig(),
) -> pl.DataFrame:
    """WATCHLIST_COLUMNS, one row per universe ticker, best first. `latest_features` holds
    one lane_features row per ticker (the newest at `as_of`)."""
    news = _news_by_ticker(item_mentions, as_of, config)
    scored = _scored(
        latest_features.filter(pl.col("ticker").is_in(universe)).select(_FEATURE_COLUMNS).join(news, on="ticker", how="left"),
        config)
    unscored = pl.DataFrame({"ticker": sorted(set(universe) - set(scored["ticker"]))}, schema={"ticker": pl.String})
    ranked = (
        pl.concat([scored, unscored], how="diagonal_relaxed")
        .with_columns(pl.col("watch_score").fill_null(0.0), pl.col("news_count").fill_null(0))
        .sort(["watch_score", "ticker"], descending=[True, False], nulls_last=True)
        .with_columns(_scored=pl.col("sentiment_pressure").is_not_null())
        .with_columns(_place=pl.col("_scored").cum_sum())
        .with_columns(in_watchlist=pl.col("_scored") & (pl.col("_place") <= config.size))
        .with_columns(rank=pl.when(pl.col("in_watchlist")).then(pl.col("_place")).otherwise(OFF_LIST_RANK).cast(pl.Int32))
        .sort(["rank", "watch_score", "ticker"], descending=[False, True, False])
    )
    return ranked.with_columns(as_of=pl.lit(as_of)).select(WATCHLIST_COLUMNS)


# --- every REFRESH_MINUTES: the watchlist asset --------------------------------------------------
REFRESH_MINUTES = 5  # the original's watchlist engine ran every 5 minutes


def refresh_mark(ts: pl.Expr) -> pl.Expr:
    """The refresh whose watchlist applies to the bar at `ts`: the bar at the last 5-minute mark."""
    return ts.dt.truncate(f"{REFRESH_MINUTES}m")


def watchlist_by_mark(
    features: pl.DataFrame,
    item_mentions: pl.DataFrame,
    universe: tuple[str, ...] | None,
    config: WatchlistConfig = WatchlistConfig(),
) -> pl.DataFrame:
    """WATCHLIST_COLUMNS plus `ts`: the watchlist of every 5-minute mark among `features`' minutes.

    At each mark, the tickers with a bar at that minute are scored from its lane_features row
    and their news of the 60 minutes to the bar's close (`as_of`), and ranked; the top
    `config.size` are on the list. A ticker without a bar at the mark is not scored there
    (off the list until the next mark). `universe` None: every ticker with features.
    Vectorised over marks and tickers: the news per (ticker, mark) comes from the cumulative
    sums of core.news_sentiment, no loop."""
    in_universe = pl.col("ticker").is_in(universe) if universe is not None else pl.lit(True)
    at_marks = features.filter((pl.col("ts") == refresh_mark(pl.col("ts"))) & in_universe)
    news = sentiment_by_minute(at_marks, item_mentions, SentimentWindow(config.news_minutes, min_score=-1.0))
    as_of = pl.col("ts") + BAR
    with_news = at_marks.select("ts", *_FEATURE_COLUMNS).with_columns(
        as_of=as_of,
        news_count=news["news_count"],
        avg_sentiment=pl.when(news["news_count"] > 0).then(news["sentiment_score"]),
        news_age_s=(as_of - news["latest_news_at"]).dt.total_microseconds() / 1e6,
    )
    ranked = (
        _scored(with_news, config)
        .sort(["ts", "watch_score", "ticker"], descending=[False, True, False])
        .with_columns(_place=pl.int_range(1, pl.len() + 1).over("ts"))
        .with_columns(in_watchlist=pl.col("_place") <= config.size)
        .with_columns(rank=pl.when(pl.col("in_watchlist")).then(pl.col("_place")).otherwise(OFF_LIST_RANK).cast(pl.Int32))
    )
    return ranked.select("ts", *WATCHLIST_COLUMNS)


def watchlist_membership(features: pl.DataFrame, ranked: pl.DataFrame) -> pl.DataFrame:
    """(ticker, ts, on_watchlist) for every features row: on the list of its minute's mark,
    or True when that mark has no watchlist (not computed: every ticker is evaluated)."""
    listed = ranked.filter(pl.col("in_watchlist")).select("ticker", mark="ts", _listed=pl.lit(True))
    marks = ranked.select(mark="ts").unique().with_columns(_ranked=pl.lit(True))
    return (
        features.select("ticker", "ts").with_columns(mark=refresh_mark(pl.col("ts")))
        .join(listed, on=["ticker", "mark"], how="left")
        .join(marks, on="mark", how="left")
        .select("ticker", "ts", on_watchlist=pl.col("_listed").fill_null(False) | pl.col("_ranked").is_null())
    )

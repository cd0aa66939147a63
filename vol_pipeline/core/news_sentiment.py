"""News sentiment per ticker and minute: the signal engine's window (reference §9.1).

For a bar starting at `ts`, the news known at its close (`ts + 60 s`) counts: items that
mention the ticker, were published in (close - 30 min, close] and were classified with
score > 0.65. directional = +score (positive), -score (negative), 0 (neutral);
`sentiment_score` is their mean, in [-1, 1], 0 without news. Counts per label and the
newest item's time come along for the report and `explain`.

Vectorised for any number of minutes: cumulative sums per ticker over the items in time
order, read at the window's two ends with as-of joins (no loop over minutes or tickers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import polars as pl

UTC_TS = pl.Datetime("us", "UTC")
BAR = timedelta(minutes=1)
MENTIONS_SCHEMA = {"ticker": pl.String, "published_at": UTC_TS, "label": pl.String, "score": pl.Float64}
SENTIMENT_COLUMNS = ("ticker", "ts", "sentiment_score", "news_count", "positive_news", "negative_news",
                     "neutral_news", "latest_news_at")
_COUNTED = ("n", "directional", "positive_news", "negative_news", "neutral_news")


@dataclass(frozen=True)
class SentimentWindow:
    minutes: int = 30  # config sentiment_window_minutes
    min_score: float = 0.65  # only confident labels count (strictly greater)


def directional() -> pl.Expr:
    """+score for a positive label, -score for a negative one, 0 for neutral."""
    label, score = pl.col("label"), pl.col("score")
    return pl.when(label == "positive").then(score).when(label == "negative").then(-score).otherwise(0.0)


def mentions(classified: pl.DataFrame) -> pl.DataFrame:
    """One row per (item, ticker) from classified items with a `tickers` list."""
    return (
        classified.select("tickers", "published_at", "label", "score")
        .explode("tickers")
        .drop_nulls("tickers")
        .rename({"tickers": "ticker"})
        .select(MENTIONS_SCHEMA.keys())
        .cast(MENTIONS_SCHEMA)
    )


def stored_mentions(rows: pl.DataFrame) -> pl.DataFrame:
    """Mentions of news_sentiment rows (tickers "AAPL,MSFT"), timed by when each was known."""
    return mentions(rows.select(
        tickers=pl.col("tickers").str.split(",").list.eval(pl.element().filter(pl.element() != "")),
        published_at="known_at", label="label", score="score"))


def window_reads(start, end, window: SentimentWindow = SentimentWindow()) -> tuple:
    """The known_at range [from, to) holding every item the bars starting in [start, end) count."""
    return start + BAR - timedelta(minutes=window.minutes), end + timedelta(microseconds=1)


def counted_items(rows: pl.DataFrame, ticker: str, ts, window: SentimentWindow = SentimentWindow()) -> pl.DataFrame:
    """The news_sentiment rows the bar of `ticker` at `ts` counted (what `explain` shows),
    newest first, each with its directional value."""
    close = ts + BAR
    return (
        rows.filter(
            pl.col("tickers").str.split(",").list.contains(ticker)
            & (pl.col("known_at") > close - timedelta(minutes=window.minutes)) & (pl.col("known_at") <= close)
            & (pl.col("score") > window.min_score))
        .with_columns(directional=directional())
        .sort("known_at", descending=True)
    )


def _running_totals(item_mentions: pl.DataFrame, window: SentimentWindow) -> pl.DataFrame:
    label = pl.col("label")
    per_moment = (
        item_mentions.filter(pl.col("score") > window.min_score)
        .group_by("ticker", "published_at")
        .agg(
            n=pl.len(),
            directional=directional().sum(),
            positive_news=(label == "positive").sum(),
            negative_news=(label == "negative").sum(),
            neutral_news=(label == "neutral").sum(),
        )
        .sort("ticker", "published_at")
    )
    return per_moment.with_columns(pl.col(_COUNTED).cum_sum().over("ticker")).sort("published_at")


def sentiment_by_minute(
    minutes: pl.DataFrame, item_mentions: pl.DataFrame, window: SentimentWindow = SentimentWindow()
) -> pl.DataFrame:
    """SENTIMENT_COLUMNS for every (ticker, ts) row of `minutes`, in its row order."""
    totals = _running_totals(item_mentions.cast(MENTIONS_SCHEMA), window)
    grid = (
        minutes.select("ticker", "ts")
        .with_row_index("_row")
        .with_columns(_close=pl.col("ts") + BAR)
        .with_columns(_open=pl.col("_close") - timedelta(minutes=window.minutes))
    )

    def totals_at(moment: str, suffix: str) -> pl.DataFrame:
        picked = totals.rename({c: c + suffix for c in (*_COUNTED, "published_at")})
        # Both sides are sorted by time here, which is all the join needs with `by`.
        return grid.sort(moment).join_asof(
            picked, left_on=moment, right_on="published_at" + suffix, by="ticker", strategy="backward",
            check_sortedness=False,
        ).select("_row", *(c + suffix for c in (*_COUNTED, "published_at")))

    at_close, at_open = totals_at("_close", ""), totals_at("_open", "_before")
    inside = {c: (pl.col(c).fill_null(0) - pl.col(c + "_before").fill_null(0)) for c in _COUNTED}
    count = inside["n"].cast(pl.Int64)
    return (
        grid.join(at_close, on="_row").join(at_open, on="_row")
        .sort("_row")
        .select(
            "ticker", "ts",
            sentiment_score=pl.when(count > 0).then((inside["directional"] / count).clip(-1.0, 1.0)).otherwise(0.0),
            news_count=count,
            positive_news=inside["positive_news"].cast(pl.Int64),
            negative_news=inside["negative_news"].cast(pl.Int64),
            neutral_news=inside["neutral_news"].cast(pl.Int64),
            latest_news_at=pl.when(count > 0).then(pl.col("published_at")),
        )
    )

"""The signal engine's news window per ticker and minute, against a direct count."""

import random
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from vol_pipeline.core.news_sentiment import (
    MENTIONS_SCHEMA, SentimentWindow, counted_items, mentions, sentiment_by_minute, stored_mentions, window_reads,
)

UTC = timezone.utc
T0 = datetime(2026, 4, 20, 14, 0, tzinfo=UTC)
M = timedelta(minutes=1)


def items(*rows):
    return pl.DataFrame(rows, schema=MENTIONS_SCHEMA, orient="row")


def test_a_minute_counts_confident_news_published_up_to_its_close_in_the_last_30_minutes():
    news = items(
        ("AAPL", T0 - 40 * M, "positive", 0.90),  # before the window
        ("AAPL", T0 - 28 * M, "positive", 0.80),   # the window is (close - 30 min, close]
        ("AAPL", T0 - 29 * M, "positive", 0.95),   # exactly 30 min before the close: out
        ("AAPL", T0 + M, "negative", 0.70),        # at the bar's close: known
        ("AAPL", T0 + M + timedelta(seconds=1), "negative", 0.99),  # after the close
        ("AAPL", T0, "positive", 0.65),            # not > 0.65
        ("AAPL", T0, "neutral", 0.90),
        ("MSFT", T0, "positive", 0.90),            # another ticker
    )
    (row,) = sentiment_by_minute(pl.DataFrame({"ticker": ["AAPL"], "ts": [T0]}), news).rows(named=True)
    assert row["news_count"] == 3 and (row["positive_news"], row["negative_news"], row["neutral_news"]) == (1, 1, 1)
    assert row["sentiment_score"] == pytest.approx((0.80 - 0.70 + 0) / 3)
    assert row["latest_news_at"] == T0 + M


def test_no_news_is_score_zero_and_rows_keep_their_order():
    grid = pl.DataFrame({"ticker": ["TSLA", "AAPL", "TSLA"], "ts": [T0, T0, T0 - M]})
    out = sentiment_by_minute(grid, items(("AAPL", T0, "negative", 0.9)))
    assert out.select("ticker", "ts").equals(grid)
    assert out["sentiment_score"].to_list() == [0.0, -0.9, 0.0] and out["news_count"].to_list() == [0, 1, 0]
    assert out["latest_news_at"].null_count() == 2


def test_items_with_several_tickers_count_for_each():
    classified = pl.DataFrame({"tickers": [["AAPL", "MSFT"], []], "published_at": [T0, T0], "label": ["positive"] * 2,
                               "score": [0.9, 0.9]})
    grid = pl.DataFrame({"ticker": ["AAPL", "MSFT"], "ts": [T0, T0]})
    assert sentiment_by_minute(grid, mentions(classified))["news_count"].to_list() == [1, 1]


@pytest.mark.parametrize("seed", range(5))
def test_matches_a_direct_count_over_random_news(seed):
    rng = random.Random(seed)
    tickers, labels = ["AAPL", "MSFT", "NVDA"], ["positive", "negative", "neutral"]
    news = items(*[(rng.choice(tickers), T0 + timedelta(seconds=rng.randrange(-3600, 7200) // 30 * 30),
                    rng.choice(labels), round(rng.uniform(0.4, 1.0), 3)) for _ in range(300)])
    grid = pl.DataFrame([(t, T0 + i * M) for t in tickers for i in range(0, 100, 3)], schema=["ticker", "ts"], orient="row")
    got = sentiment_by_minute(grid, news, SentimentWindow(minutes=30))
    for row in got.rows(named=True):
        close = row["ts"] + M
        inside = [r for r in news.rows(named=True) if r["ticker"] == row["ticker"] and r["score"] > 0.65
                  and close - 30 * M < r["published_at"] <= close]
        signed = [r["score"] if r["label"] == "positive" else -r["score"] if r["label"] == "negative" else 0.0 for r in inside]
        assert row["news_count"] == len(inside)
        assert row["sentiment_score"] == pytest.approx(sum(signed) / len(signed) if signed else 0.0, abs=1e-12)
        assert row["latest_news_at"] == (max(r["published_at"] for r in inside) if inside else None)


# --- the rows the warehouse stores (news_sentiment) ----------------------------------------------
def stored(*rows):
    """news_sentiment-like rows: (tickers text, known_at, label, score, title)."""
    return pl.DataFrame(rows, schema={"tickers": pl.String, "known_at": MENTIONS_SCHEMA["published_at"],
                                      "label": pl.String, "score": pl.Float64, "title": pl.String}, orient="row")


def test_stored_rows_count_by_when_they_were_known_for_each_ticker_they_name():
    rows = stored(("AAPL,MSFT", T0, "positive", 0.9, "a"), ("", T0, "negative", 0.9, "b"),
                  ("MSFT", T0 + 2 * M, "negative", 0.8, "c"))
    out = sentiment_by_minute(pl.DataFrame({"ticker": ["AAPL", "MSFT", "MSFT"], "ts": [T0, T0, T0 + 2 * M]}),
                              stored_mentions(rows))
    assert out["news_count"].to_list() == [1, 1, 2]
    assert out["sentiment_score"].to_list() == pytest.approx([0.9, 0.9, (0.9 - 0.8) / 2])


def test_window_reads_cover_every_item_a_range_of_minutes_counts():
    start, end = T0, T0 + 10 * M
    low, high = window_reads(start, end)
    # The first bar's window opens after start + 1 min - 30 min; the last bar closes at `end`.
    assert low == start + M - 30 * M and low < high and high > end and high - end < timedelta(seconds=1)


def test_counted_items_are_exactly_what_the_window_counted():
    rows = stored(("AAPL", T0 - 40 * M, "positive", 0.9, "old"), ("AAPL", T0 - 5 * M, "positive", 0.9, "in"),
                  ("AAPL,MSFT", T0 + M, "negative", 0.7, "at close"), ("AAPL", T0, "neutral", 0.6, "unsure"),
                  ("MSFT", T0, "positive", 0.9, "other"), ("AAPL", T0 + 2 * M, "positive", 0.9, "later"))
    counted = counted_items(rows, "AAPL", T0)
    assert counted["title"].to_list() == ["at close", "in"]  # newest first
    assert counted["directional"].to_list() == [-0.7, 0.9]
    (row,) = sentiment_by_minute(pl.DataFrame({"ticker": ["AAPL"], "ts": [T0]}), stored_mentions(rows)).rows(named=True)
    assert row["news_count"] == counted.height and row["sentiment_score"] == pytest.approx(counted["directional"].mean())

"""The watchlist score against values computed by hand from reference §7."""

from datetime import datetime, timedelta, timezone

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from vol_pipeline.core.news_sentiment import MENTIONS_SCHEMA
from vol_pipeline.core.watchlist import OFF_LIST_RANK, WatchlistConfig, watchlist

UTC = timezone.utc
AS_OF = datetime(2026, 4, 20, 15, 0, tzinfo=UTC)
M = timedelta(minutes=1)
FEATURES = pl.DataFrame({
    "ticker": ["AAPL", "MSFT", "TSLA"], "close": [100.0, 200.0, 300.0], "sma20": [99.5, 200.0, 310.0],
    "sma50": [98.0, 199.0, 320.0], "distance_sma20": [0.005, 0.0, -0.0322], "trend_state": [1, 0, -1],
    "vol_ratio": [1.5, None, 0.5],
})
NEWS = pl.DataFrame([
    ("AAPL", AS_OF - 30 * M, "positive", 0.9),
    ("AAPL", AS_OF - 90 * M, "positive", 0.9),   # older than 60 minutes: not counted
    ("TSLA", AS_OF - 15 * M, "negative", 0.8),
], schema=MENTIONS_SCHEMA, orient="row")


def scores(config=WatchlistConfig()):
    return {r["ticker"]: r for r in watchlist(FEATURES, NEWS, ("AAPL", "MSFT", "TSLA", "NVDA"), AS_OF, config).rows(named=True)}


def test_components_and_score_match_hand_computed_values():
    rows = scores()
    aapl = rows["AAPL"]  # 1 item, +0.9, 30 min old; d20 0.005; ratio 1.5; uptrend with bullish news
    assert aapl["sentiment_pressure"] == pytest.approx(0.5 * 0.9 + 0.3 * 1 / 5 + 0.2 * (1 - 1800 / 3600))  # 0.61
    assert aapl["setup_quality"] == pytest.approx(0.5) and aapl["vol_score"] == pytest.approx(1.0)
    assert aapl["trend_alignment"] == 1.0
    assert aapl["watch_score"] == pytest.approx(0.35 * 0.61 + 0.25 * 0.5 + 0.20 * 1.0 + 0.20 * 1.0)  # 0.7385
    msft = rows["MSFT"]  # no news (age 3600), d20 0, a missing ratio scores as 1.0, flat trend
    assert (msft["news_count"], msft["sentiment_pressure"], msft["vol_score"]) == (0, 0.0, pytest.approx(0.375))
    assert msft["watch_score"] == pytest.approx(0.25 * 1.0 + 0.20 * 0.375 + 0.20 * 0.5)  # 0.425
    tsla = rows["TSLA"]  # bearish news in a downtrend: aligned (the original scored this 0.0)
    assert tsla["avg_sentiment"] == pytest.approx(-0.8) and tsla["trend_alignment"] == 1.0
    assert tsla["watch_score"] == pytest.approx(0.35 * (0.5 * 0.8 + 0.3 * 0.2 + 0.2 * 0.75) + 0.20 * 1.0)  # 0.4135


def test_the_top_n_are_ranked_and_the_rest_are_off_the_list():
    rows = scores(WatchlistConfig(size=2))
    assert [(t, rows[t]["rank"], rows[t]["in_watchlist"]) for t in ("AAPL", "MSFT", "TSLA", "NVDA")] == [
        ("AAPL", 1, True), ("MSFT", 2, True), ("TSLA", OFF_LIST_RANK, False), ("NVDA", OFF_LIST_RANK, False)]
    assert rows["NVDA"]["watch_score"] == 0.0 and rows["NVDA"]["setup_quality"] is None  # no features: not scored
    assert [r["in_watchlist"] for r in scores().values()].count(True) == 3  # size 30: every scored ticker


def test_opposed_news_and_trend_score_zero_alignment():
    against = FEATURES.with_columns(trend_state=pl.lit(-1))
    row = watchlist(against, NEWS, ("AAPL",), AS_OF).row(0, named=True)
    assert row["trend_alignment"] == 0.0


def test_every_five_minute_mark_ranks_like_the_single_moment_engine():
    """watchlist_by_mark (the asset's, vectorised over marks) against watchlist() called at
    each mark with that minute's features and the bar's close as `as_of`."""
    from datetime import date

    from vol_pipeline.classifiers.labelling import label_items
    from vol_pipeline.classifiers.loughran_mcdonald import LoughranMcDonaldClassifier
    from vol_pipeline.core.features import lane_features
    from vol_pipeline.core.news_sentiment import mentions
    from vol_pipeline.core.watchlist import watchlist_by_mark
    from vol_pipeline.sources.synthetic import SyntheticBarSource
    from vol_pipeline.sources.synthetic_news import SyntheticNewsSource

    session, tickers = date(2026, 11, 23), ("AAPL", "MSFT", "TSLA", "NVDA", "AMZN")
    features = lane_features(SyntheticBarSource(tickers=tickers).session_bars(session))
    news = mentions(label_items(SyntheticNewsSource(tickers).session_items(session), LoughranMcDonaldClassifier(), tickers))
    config = WatchlistConfig(size=3)
    by_mark = watchlist_by_mark(features, news, tickers, config)
    marks = by_mark["ts"].unique().sort()
    assert len(marks) > 60 and all(m.minute % 5 == 0 for m in marks)
    for mark in marks[::7]:
        at_mark = features.filter(pl.col("ts") == mark)
        expected = watchlist(at_mark, news, tickers, mark + M, config).filter(pl.col("sentiment_pressure").is_not_null())
        got = by_mark.filter(pl.col("ts") == mark).drop("ts")
        assert_frame_equal(got, expected, check_exact=False, check_dtypes=False)
    assert by_mark.group_by("ts").agg(pl.col("in_watchlist").sum())["in_watchlist"].max() == 3

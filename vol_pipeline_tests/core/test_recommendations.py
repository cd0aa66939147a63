"""Recommendations: per-ticker cooldown, stable ids, the reason JSON and the contract."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from vol_pipeline.core.config import SignalRuleSet
from vol_pipeline.core.recommendations import RECOMMENDATION_COLUMNS, recommend
from vol_pipeline.core.signals import evaluate_signals
from vol_pipeline.contracts import RECOMMENDATIONS_SCHEMA, check_contract
from vol_pipeline_tests.core.feature_rows import T0, feature_row, features_frame, minute


def signals_every_minute(ticker: str, start: int, count: int, **case) -> list[dict]:
    return [feature_row(ticker=ticker, ts=minute(start + i), **({"d20": 0.01} | case)) for i in range(count)]


def run(rows: list[dict], prior: pl.DataFrame | None = None, rules: SignalRuleSet = SignalRuleSet()) -> pl.DataFrame:
    return recommend(evaluate_signals(features_frame(rows), rules), prior, rules)


def offsets(recs: pl.DataFrame, ticker: str) -> list[int]:
    times = recs.filter(pl.col("ticker") == ticker)["ts"].to_list()
    return [int((t - T0).total_seconds() // 60) for t in times]


def prior_frame(rows: list[tuple[str, datetime]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"ticker": pl.String, "ts": pl.Datetime("us", "UTC")}, orient="row")


# --- cooldown ----------------------------------------------------------------------------------
def test_cooldown_one_ticker_every_minute():
    recs = run(signals_every_minute("AAPL", 0, 60))
    assert offsets(recs, "AAPL") == [0, 15, 30, 45]
    gaps = recs["ts"].diff().drop_nulls().to_list()
    assert gaps == [timedelta(minutes=15)] * 3


def test_cooldown_is_per_ticker():
    rows = signals_every_minute("AAPL", 0, 60) + signals_every_minute("MSFT", 3, 40)
    recs = run(rows)
    assert offsets(recs, "AAPL") == [0, 15, 30, 45]
    assert offsets(recs, "MSFT") == [3, 18, 33]
    # Each ticker alone gives the same answer as both together.
    assert offsets(run(signals_every_minute("MSFT", 3, 40)), "MSFT") == [3, 18, 33]


def test_cooldown_with_gaps_between_signals():
    # Candidates at minutes 0, 10, 14, 15, 16, 31, 40, 46: accepted 0, 15, 31, 46.
    rows = [feature_row(ticker="AAPL", ts=minute(m), d20=0.01) for m in (0, 10, 14, 15, 16, 31, 40, 46)]
    assert offsets(run(rows), "AAPL") == [0, 15, 31, 46]


def test_prior_recommendation_suppresses_first_minutes():
    prior = prior_frame([("AAPL", minute(-10))])
    recs = run(signals_every_minute("AAPL", 0, 30), prior)
    assert offsets(recs, "AAPL") == [5, 20]


def test_prior_of_other_ticker_does_not_matter():
    prior = prior_frame([("MSFT", minute(-1))])
    assert offsets(run(signals_every_minute("AAPL", 0, 20), prior), "AAPL") == [0, 15]


def test_latest_prior_counts():
    prior = prior_frame([("AAPL", minute(-30)), ("AAPL", minute(-3)), ("AAPL", minute(-20))])
    assert offsets(run(signals_every_minute("AAPL", 0, 30), prior), "AAPL") == [12, 27]


def test_prior_at_or_after_the_first_candidate_is_ignored():
    rows = signals_every_minute("AAPL", 0, 30)
    for later in (0, 2, 7, 40):
        prior = prior_frame([("AAPL", minute(later))])
        assert offsets(run(rows, prior), "AAPL") == [0, 15], later


def test_prior_15_minutes_before_allows_the_first_minute():
    prior = prior_frame([("AAPL", minute(-15))])
    assert offsets(run(signals_every_minute("AAPL", 0, 16), prior), "AAPL") == [0, 15]


def test_empty_prior_is_like_none():
    rows = signals_every_minute("AAPL", 0, 20)
    assert_frame_equal(run(rows, prior_frame([])), run(rows))


def test_custom_cooldown():
    rules = SignalRuleSet(cooldown_minutes=5)
    assert offsets(run(signals_every_minute("AAPL", 0, 12), rules=rules), "AAPL") == [0, 5, 10]


# --- HOLD ----------------------------------------------------------------------------------------
def test_hold_is_never_recommended_and_does_not_start_a_cooldown():
    rows = [
        feature_row(ticker="AAPL", ts=minute(0), d20=0.05),  # NO_SETUP
        feature_row(ticker="AAPL", ts=minute(1), d20=0.01, volume_ratio=0.2),  # VOLUME_TOO_LOW
        feature_row(ticker="AAPL", ts=minute(2), d20=0.01),  # the first actionable one
        feature_row(ticker="MSFT", ts=minute(0), d20=0.0),  # NO_SETUP
    ]
    signals = evaluate_signals(features_frame(rows))
    assert signals.filter(pl.col("action") == "HOLD").height == 3
    recs = recommend(signals)
    assert offsets(recs, "AAPL") == [2]
    assert recs.filter(pl.col("ticker") == "MSFT").is_empty()
    assert set(recs["action"]) <= {"BUY", "SELL"}


def test_only_hold_gives_an_empty_frame_with_the_columns():
    rows = [feature_row(ticker="AAPL", ts=minute(i), d20=0.05) for i in range(5)]
    recs = run(rows)
    assert recs.is_empty()
    assert recs.columns == list(RECOMMENDATION_COLUMNS)


# --- ids -------------------------------------------------------------------------------------
def test_id_is_derived_from_ticker_and_minute():
    rows = [feature_row(ticker="AAPL", ts=T0, d20=0.01), feature_row(ticker="MSFT", ts=minute(89), d20=-0.01, trend=-1)]
    recs = run(rows)
    assert dict(zip(recs["ticker"], recs["id"])) == {"AAPL": "AAPL-20261123T1430Z", "MSFT": "MSFT-20261123T1559Z"}


def test_ids_are_stable_across_reruns_and_windows():
    rows = signals_every_minute("AAPL", 0, 60) + signals_every_minute("MSFT", 0, 60)
    full = run(rows)
    assert full["id"].n_unique() == full.height
    assert full["id"].to_list() == run(rows)["id"].to_list()
    # The same minute recommended from a shorter window keeps its id (not a counter).
    part = run([r for r in rows if r["ts"] >= minute(30)], prior_frame(full.filter(pl.col("ts") < minute(30)).select("ticker", "ts").rows()))
    assert set(part["id"]) <= set(full["id"])
    assert part["id"].to_list() == full.filter(pl.col("ts") >= minute(30))["id"].to_list()


def test_id_of_a_non_utc_timestamp_is_in_utc():
    signals = evaluate_signals(features_frame([feature_row(ts=T0)]))
    local = signals.with_columns(pl.col("ts").dt.convert_time_zone("America/New_York"))
    assert recommend(local)["id"].to_list() == ["AAPL-20261123T1430Z"]


def test_reason_bar_ts_is_utc_even_for_a_non_utc_timestamp():
    # The id converts to UTC before formatting; the reason's 'Z'-suffixed bar_ts must too.
    signals = evaluate_signals(features_frame([feature_row(ts=T0)]))
    local = signals.with_columns(pl.col("ts").dt.convert_time_zone("America/New_York"))
    assert json.loads(recommend(local)["reason"][0])["bar_ts"] == "2026-11-23T14:30:00Z"


# --- reason JSON -------------------------------------------------------------------------------
def test_reason_json():
    rows = [
        feature_row(ticker="AAPL", ts=T0, d20=0.005, trend=1, vol_ratio=1.0, volume_ratio=1.7),
        feature_row(ticker="MSFT", ts=T0, d20=-0.01, trend=-1, vol_ratio=1.6, volume_ratio=0.87),
        feature_row(ticker="TSLA", ts=T0, d20=0.01, trend=0, vol_ratio=None, volume_ratio=None),
    ]
    sentiment = pl.DataFrame({"ticker": ["MSFT"], "sentiment_score": [-0.4], "news_count": [2]})
    signals = evaluate_signals(features_frame(rows), sentiment=sentiment)
    recs = recommend(signals)
    assert recs.height == 3
    by_ticker = {r["ticker"]: r for r in recs.iter_rows(named=True)}

    aapl = json.loads(by_ticker["AAPL"]["reason"])
    assert aapl["volume"] == {"volume_ratio": 1.7, "volume_mult": 1.0, "assessment": "GOOD_VOLUME (ratio 1.70)"}
    assert aapl["version"] == SignalRuleSet().version == by_ticker["AAPL"]["rule_version"]
    assert aapl["rule"] == "BULLISH_ENTRY" and aapl["direction"] == "LONG"
    assert aapl["bar_ts"] == "2026-11-23T14:30:00Z"
    assert set(aapl["technicals"]) >= {"close", "sma20", "sma50", "distance_sma20", "trend_state", "above_sma20"}
    assert aapl["technicals"]["trend_state"] == 1 and aapl["technicals"]["above_sma20"] is True
    assert aapl["technicals"]["close"] == pytest.approx(rows[0]["close"])
    assert aapl["volatility"] == {"vol_ratio": 1.0, "regime": "normal"}
    assert set(aapl["confidence_components"]) == {"sentiment_strength", "trend_alignment", "setup_quality", "vol_appropriateness"}
    components = aapl["confidence_components"]
    base = (0.30 * components["sentiment_strength"] + 0.25 * components["trend_alignment"]
            + 0.25 * components["setup_quality"] + 0.20 * components["vol_appropriateness"])
    assert base == pytest.approx(by_ticker["AAPL"]["base_confidence"])
    assert aapl["base_confidence"] == pytest.approx(by_ticker["AAPL"]["base_confidence"])
    assert aapl["confidence"] == pytest.approx(by_ticker["AAPL"]["confidence"])
    assert aapl["sentiment"]["news_count"] == 0 and aapl["sentiment"]["score"] == 0.0

    msft = json.loads(by_ticker["MSFT"]["reason"])
    assert msft["volume"] == {"volume_ratio": 0.87, "volume_mult": 0.3, "assessment": "WEAK_VOLUME (ratio 0.87)"}
    assert msft["volatility"] == {"vol_ratio": 1.6, "regime": "high"}
    assert msft["rule"] == "BEARISH_ENTRY" and msft["direction"] == "SHORT"
    assert msft["sentiment"]["score"] == -0.4 and msft["sentiment"]["news_count"] == 2
    assert msft["technicals"]["above_sma20"] is False
    assert (by_ticker["MSFT"]["action"], by_ticker["MSFT"]["instrument_type"]) == ("SELL", "STOCK")

    tsla = json.loads(by_ticker["TSLA"]["reason"])
    assert tsla["volume"] == {"volume_ratio": None, "volume_mult": 0.5, "assessment": "NO_VOLUME_DATA"}
    assert tsla["volatility"] == {"vol_ratio": None, "regime": "unknown"}


def test_recommendation_columns_carry_the_volume_lineage():
    recs = run(signals_every_minute("AAPL", 0, 1, volume_ratio=2.4))
    row = recs.row(0, named=True)
    assert row["volume_ratio"] == 2.4
    assert row["volume_mult"] == 1.2
    assert row["volume_assessment"] == "STRONG_VOLUME"
    assert row["confidence"] == pytest.approx(min(1.0, row["base_confidence"] * 1.2))


# --- contract and determinism -------------------------------------------------------------------
def many_rows() -> list[dict]:
    rows = []
    for i, ticker in enumerate(("AAPL", "MSFT", "TSLA")):
        for m in range(45):
            d20 = (0.01, -0.01, 0.03)[(m + i) % 3]
            trend = 1 if d20 > 0 else -1
            ratio = (0.3, 0.9, 1.3, 1.7, 2.4, 4.0, None)[(m * (i + 1)) % 7]
            vol_ratio = (0.7, 1.0, 1.31, None)[m % 4]
            rows.append(feature_row(ticker=ticker, ts=minute(m), d20=d20, trend=trend, vol_ratio=vol_ratio, volume_ratio=ratio))
    return rows


def test_recommendations_schema_accepts_the_output():
    recs = run(many_rows())
    assert recs.height > 3
    assert recs.columns == list(RECOMMENDATION_COLUMNS)
    check_contract(recs, RECOMMENDATIONS_SCHEMA)


def test_rerun_gives_an_identical_frame():
    rows = many_rows()
    signals = evaluate_signals(features_frame(rows))
    prior = prior_frame([("AAPL", minute(-4)), ("TSLA", minute(-14))])
    first = recommend(signals, prior)
    assert_frame_equal(first, recommend(signals, prior))
    # Input order does not matter either.
    assert_frame_equal(first, recommend(signals.reverse(), prior))
    assert_frame_equal(first, recommend(signals.sample(fraction=1.0, shuffle=True, seed=3), prior))

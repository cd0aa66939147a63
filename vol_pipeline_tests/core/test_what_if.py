"""What-if: the volume multiplier switched off, the session replayed with both rule sets."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from vol_pipeline.core.config import SignalRuleSet, VolumeTier
from vol_pipeline.core.dispatch import DispatchConfig, dispatch
from vol_pipeline.core.exits import trade_outcomes
from vol_pipeline.core.features import lane_features
from vol_pipeline.core.recommendations import recommend
from vol_pipeline.core.report import session_report
from vol_pipeline.core.signals import RULE_VOLUME_TOO_LOW, evaluate_signals
from vol_pipeline.core.volume import volume_multiplier
from vol_pipeline.core.what_if import (
    MULTIPLIER_OFF, MULTIPLIER_ON, WHAT_IF_COLUMNS, multiplier_off, replay_session, what_if,
)
from vol_pipeline.sources.synthetic import SyntheticBarSource
from vol_pipeline_tests.core.feature_rows import feature_row, features_frame, minute

SESSION = date(2026, 11, 23)
CLOSE = datetime(2026, 11, 23, 21, 0, tzinfo=timezone.utc)  # 16:00 New York
# None, kill, weak, below average, good, strong, surge, and the tier bounds themselves.
RATIOS = [None, 0.0, 0.3, 0.5, 0.87, 1.2, 1.4, 1.5, 1.7, 2.0, 2.5, 3.0, 12.0]
CUSTOM_RULES = SignalRuleSet(
    version="2.0-custom",
    volume_tiers=(VolumeTier(0.8, 0.0, "VOLUME_TOO_LOW"), VolumeTier(2.5, 0.7, "WEAK_VOLUME")),
    surge_multiplier=1.6,
    null_volume_multiplier=0.2,
)


def multipliers(ratios: list[float | None], rules: SignalRuleSet) -> list[float]:
    return pl.DataFrame({"r": ratios}, schema={"r": pl.Float64}).select(
        volume_multiplier(pl.col("r"), rules).alias("m"))["m"].to_list()


def row(frame: pl.DataFrame, variant: str) -> dict:
    return frame.filter(pl.col("variant") == variant).row(0, named=True)


# --- multiplier_off ------------------------------------------------------------------------------
@pytest.mark.parametrize("rules", [SignalRuleSet(), CUSTOM_RULES], ids=["default", "custom"])
def test_multiplier_off_is_one_for_every_ratio(rules):
    assert set(multipliers(RATIOS, rules)) != {1.0}  # the rules themselves do scale
    assert multipliers(RATIOS, multiplier_off(rules)) == [1.0] * len(RATIOS)


@pytest.mark.parametrize("rules", [SignalRuleSet(), CUSTOM_RULES], ids=["default", "custom"])
def test_multiplier_off_gets_its_own_version_and_keeps_the_rest(rules):
    off = multiplier_off(rules)
    assert off.version == f"{rules.version}+multiplier-off"
    assert off.version != rules.version
    assert [t.below for t in off.volume_tiers] == [t.below for t in rules.volume_tiers]
    restored = replace(off, version=rules.version, volume_tiers=rules.volume_tiers,
                       surge_multiplier=rules.surge_multiplier, null_volume_multiplier=rules.null_volume_multiplier)
    assert restored == rules  # nothing but the multipliers (and the version) changed


def test_no_signal_is_killed_with_the_multiplier_off():
    rows = [feature_row("AAPL", minute(i), d20=0.005, volume_ratio=ratio) for i, ratio in enumerate(RATIOS)]
    features = features_frame(rows)
    on = evaluate_signals(features)
    off = evaluate_signals(features, multiplier_off(SignalRuleSet()))
    assert on.filter(pl.col("rule") == RULE_VOLUME_TOO_LOW).height == 2  # ratios 0.0 and 0.3 (below 0.5)
    assert off.filter(pl.col("rule") == RULE_VOLUME_TOO_LOW).is_empty()
    assert off["action"].to_list() == ["BUY"] * len(RATIOS)
    assert off["confidence"].to_list() == off["base_confidence"].to_list()  # multiplier 1.0 leaves it unchanged
    assert off["rule_version"].unique().to_list() == ["1.0-phase12+multiplier-off"]


# --- what_if on a synthetic session ----------------------------------------------------------------
@pytest.fixture(scope="module")
def session() -> dict:
    bars = SyntheticBarSource(tickers=("AAPL", "MSFT", "TSLA")).session_bars(SESSION)
    features = lane_features(bars)
    return {"bars": bars, "features": features, "what_if": what_if(features, bars, CLOSE)}


def test_what_if_has_both_variants_with_consistent_counts(session):
    result = session["what_if"]
    assert tuple(result.columns) == WHAT_IF_COLUMNS
    assert result["variant"].to_list() == [MULTIPLIER_ON, MULTIPLIER_OFF]
    for r in result.iter_rows(named=True):
        assert r["recommendations"] > 0
        assert 0 <= r["executions"] <= r["recommendations"]
        assert r["trades"] == r["executions"]
        assert r["execution_rate"] == pytest.approx(r["executions"] / r["recommendations"])
        assert 0 <= r["wins"] <= r["trades"]
        assert r["wins"] + r["losses"] + r["flat"] == r["trades"]
        if r["wins"] + r["losses"]:
            assert r["win_rate"] == pytest.approx(r["wins"] / (r["wins"] + r["losses"]))
        else:
            assert r["win_rate"] is None and r["pnl"] == 0.0


def test_multiplier_on_row_is_the_default_chain_run_by_hand(session):
    bars, features = session["bars"], session["features"]
    signals = evaluate_signals(features)
    recs = recommend(signals)
    executions = dispatch(recs, features, bars, None)
    outcomes = trade_outcomes(executions, bars, CLOSE)
    report = session_report(SESSION, bars, features, signals, recs, executions, outcomes)

    on = row(session["what_if"], MULTIPLIER_ON)
    assert on["recommendations"] == report["recommendations"]["count"] == recs.height
    assert on["executions"] == report["dispatch"]["simulated"]
    assert on["execution_rate"] == report["dispatch"]["execution_rate"]
    for key in ("trades", "wins", "win_rate"):
        assert on[key] == report["outcomes"][key]
    assert on["pnl"] == pytest.approx(report["outcomes"]["pnl"])

    replayed = replay_session(features, bars, CLOSE)
    assert_frame_equal(replayed.recommendations, recs)
    assert_frame_equal(replayed.executions, executions)
    assert_frame_equal(replayed.outcomes, outcomes)


def test_multiplier_off_row_is_the_off_chain_run_by_hand(session):
    bars, features = session["bars"], session["features"]
    off_rules = multiplier_off(SignalRuleSet())
    recs = recommend(evaluate_signals(features, off_rules), None, off_rules)
    executions = dispatch(recs, features, bars, None)
    off = row(session["what_if"], MULTIPLIER_OFF)
    assert off["recommendations"] == recs.height
    assert off["executions"] == executions.filter(pl.col("status") == "SIMULATED").height
    assert (recs["volume_mult"] == 1.0).all()


# --- a constructed session where the multiplier decides -----------------------------------------
def bars_frame(rows: list[tuple]) -> pl.DataFrame:
    """rows: (ticker, minute, open, high, low, close)."""
    return pl.DataFrame(
        [(t, minute(m), o, h, lo, c, 1000) for t, m, o, h, lo, c in rows],
        schema={"ticker": pl.String, "ts": pl.Datetime("us", "UTC"), "open": pl.Float64, "high": pl.Float64,
                "low": pl.Float64, "close": pl.Float64, "volume": pl.Int64},
        orient="row",
    )


@pytest.fixture
def decided_by_volume() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Base confidence 0.25 trend + 0.25 * 0.75 setup + 0.20 normal vol = 0.6375 for both tickers.

    AAPL: volume ratio 2.5 (boost 1.2) -> 0.765, passes the 0.70 gate only with the multiplier on,
    and its next bar reaches the 2:1 target (a win). MSFT: volume ratio 0.4 -> killed with the
    multiplier on; with it off a recommendation at 0.6375, which the confidence gate skips.
    """
    features = features_frame([
        feature_row("AAPL", minute(0), d20=0.005, volume_ratio=2.5),
        feature_row("MSFT", minute(0), d20=0.005, volume_ratio=0.4),
    ])
    bars = bars_frame([
        ("AAPL", 0, 100.5, 100.5, 100.5, 100.5),
        ("AAPL", 1, 100.5, 102.0, 100.5, 101.5),  # high above the target, low above the stop
        ("MSFT", 0, 100.5, 100.5, 100.5, 100.5),
        ("MSFT", 1, 100.5, 100.6, 100.4, 100.5),
    ])
    return features, bars


def test_boosted_recommendation_passes_the_gate_only_with_the_multiplier_on(decided_by_volume):
    features, bars = decided_by_volume
    result = what_if(features, bars, CLOSE)
    on, off = row(result, MULTIPLIER_ON), row(result, MULTIPLIER_OFF)

    assert (on["recommendations"], on["executions"], on["trades"], on["wins"]) == (1, 1, 1, 1)
    assert on["execution_rate"] == 1.0 and on["win_rate"] == 1.0
    assert on["pnl"] > 0

    assert (off["recommendations"], off["executions"], off["trades"], off["wins"]) == (2, 0, 0, 0)
    assert off["execution_rate"] == 0.0
    assert off["win_rate"] is None and off["pnl"] == 0.0


def test_confidences_behind_the_constructed_case(decided_by_volume):
    features, bars = decided_by_volume
    on = replay_session(features, bars, CLOSE)
    off = replay_session(features, bars, CLOSE, multiplier_off(SignalRuleSet()))
    assert on.recommendations["ticker"].to_list() == ["AAPL"]
    assert on.recommendations["confidence"].to_list() == pytest.approx([0.6375 * 1.2])
    assert off.recommendations["confidence"].to_list() == pytest.approx([0.6375, 0.6375])
    assert off.executions["failed_gates"].to_list() == ["confidence", "confidence"]
    assert on.outcomes["exit_reason"].to_list() == ["TARGET"]


def test_what_if_uses_the_given_dispatch_config(decided_by_volume):
    features, bars = decided_by_volume
    result = what_if(features, bars, CLOSE, dispatch_config=DispatchConfig(min_confidence=0.6))
    assert row(result, MULTIPLIER_ON)["executions"] == 1
    assert row(result, MULTIPLIER_OFF)["executions"] == 2  # 0.6375 now passes


def test_what_if_without_any_setup_has_undefined_rates():
    features = features_frame([feature_row("AAPL", minute(0), d20=0.05)])  # too far from sma20: no setup
    bars = bars_frame([("AAPL", 0, 105.0, 105.0, 105.0, 105.0)])
    result = what_if(features, bars, CLOSE)
    assert result["variant"].to_list() == [MULTIPLIER_ON, MULTIPLIER_OFF]
    for r in result.iter_rows(named=True):
        assert (r["recommendations"], r["executions"], r["trades"], r["wins"]) == (0, 0, 0, 0)
        assert r["execution_rate"] is None and r["win_rate"] is None and r["pnl"] == 0.0


def test_with_news_the_what_if_adds_the_session_without_sentiment(session):
    from vol_pipeline.classifiers.labelling import label_items
    from vol_pipeline.classifiers.loughran_mcdonald import LoughranMcDonaldClassifier
    from vol_pipeline.core.config import SENTIMENT_RULES
    from vol_pipeline.core.news_sentiment import mentions, sentiment_by_minute
    from vol_pipeline.core.what_if import SENTIMENT_AND_MULTIPLIER_OFF, SENTIMENT_OFF
    from vol_pipeline.sources.synthetic_news import SyntheticNewsSource

    bars, features = session["bars"], session["features"]
    tickers = ("AAPL", "MSFT", "TSLA")
    labelled = label_items(SyntheticNewsSource(tickers).session_items(SESSION), LoughranMcDonaldClassifier(), tickers)
    sentiment = sentiment_by_minute(features, mentions(labelled))
    result = what_if(features, bars, CLOSE, SENTIMENT_RULES, sentiment=sentiment)
    assert result["variant"].to_list() == [MULTIPLIER_ON, MULTIPLIER_OFF, SENTIMENT_OFF, SENTIMENT_AND_MULTIPLIER_OFF]

    with_news = replay_session(features, bars, CLOSE, SENTIMENT_RULES, sentiment=sentiment)
    on = row(result, MULTIPLIER_ON)
    assert on["recommendations"] == with_news.recommendations.height > 0
    assert on["confidence_median"] == pytest.approx(with_news.recommendations["confidence"].median())
    # Sentiment off is the session as it runs without a news source.
    without = row(session["what_if"], MULTIPLIER_ON)
    assert {k: row(result, SENTIMENT_OFF)[k] for k in without if k != "variant"} == \
        {k: v for k, v in without.items() if k != "variant"}
    assert row(result, SENTIMENT_AND_MULTIPLIER_OFF)["recommendations"] == row(session["what_if"], MULTIPLIER_OFF)["recommendations"]

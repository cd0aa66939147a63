"""Signal rules of reference §9.2 (Phase 12 v1) on hand-built lane_features rows."""

from __future__ import annotations

import polars as pl
import pytest

from vol_pipeline.core.config import SignalRuleSet
from vol_pipeline.core.signals import SIGNAL_COLUMNS, evaluate_signals
from vol_pipeline.contracts import SIGNALS_SCHEMA, check_contract, signals_schema
from vol_pipeline_tests.core.feature_rows import feature_row, features_frame, minute

# --- plain-Python reference of the v1 rules ------------------------------------------------
REF_MULT = ((0.5, 0.0), (1.2, 0.3), (1.5, 0.6), (2.0, 1.0), (3.0, 1.2))


def ref_mult(ratio):
    if ratio is None:
        return 0.5
    for below, mult in REF_MULT:
        if ratio < below:
            return mult
    return 1.3


def ref_regime(vol_ratio):
    if vol_ratio is None:
        return "unknown"
    if vol_ratio < 0.8:
        return "compressed"
    if vol_ratio <= 1.3:
        return "normal"
    return "high"


APPROPRIATENESS = {"normal": 1.0, "compressed": 0.7, "high": 0.5, "unknown": 0.5}


def ref_direction(row, score=0.0, gate=False):
    d20 = row["distance_sma20"]
    near = abs(d20) < 0.02
    bull_news = score > 0.5 if gate else True
    bear_news = score < -0.5 if gate else True
    if bull_news and row["trend_state"] >= 0 and row["close"] > row["sma20"] and near:
        return "LONG"
    if bear_news and row["trend_state"] <= 0 and row["close"] < row["sma20"] and near:
        return "SHORT"
    return None


def ref_base(row, direction, score=0.0):
    sign = 1 if direction == "LONG" else -1
    trend = row["trend_state"]
    alignment = 1.0 if trend == sign else 0.5 if trend == 0 else 0.0
    setup = 1 - min(abs(row["distance_sma20"]) / 0.02, 1.0)
    appropriateness = APPROPRIATENESS[ref_regime(row["vol_ratio"])]
    return 0.30 * abs(score) + 0.25 * alignment + 0.25 * setup + 0.20 * appropriateness


def one(rows, **kwargs) -> dict:
    out = evaluate_signals(features_frame(rows), **kwargs)
    assert out.height == 1
    return out.row(0, named=True)


# --- direction ------------------------------------------------------------------------------
@pytest.mark.parametrize("trend", [1, 0])
def test_long_setup(trend):
    sig = one([feature_row(d20=0.01, trend=trend, vol_ratio=1.0, volume_ratio=1.7)])
    assert sig["direction"] == "LONG"
    assert sig["rule"] == "BULLISH_ENTRY"
    assert (sig["action"], sig["instrument_type"]) == ("BUY", "CALL")
    assert sig["trend_alignment"] == (1.0 if trend == 1 else 0.5)


@pytest.mark.parametrize("trend", [-1, 0])
def test_short_setup(trend):
    sig = one([feature_row(d20=-0.01, trend=trend, vol_ratio=1.0, volume_ratio=1.7)])
    assert sig["direction"] == "SHORT"
    assert sig["rule"] == "BEARISH_ENTRY"
    assert (sig["action"], sig["instrument_type"]) == ("BUY", "PUT")
    assert sig["trend_alignment"] == (1.0 if trend == -1 else 0.5)


@pytest.mark.parametrize(
    "row",
    [
        feature_row(d20=0.02, trend=1),  # stretched: |d20| >= 0.02 (strict <)
        feature_row(d20=0.035, trend=1),
        feature_row(d20=-0.02, trend=-1),
        feature_row(d20=-0.05, trend=-1),
        feature_row(d20=0.0, trend=1),  # close == sma20: neither above nor below
        feature_row(d20=0.0, trend=0),
        feature_row(d20=0.01, trend=-1),  # above sma20 in a downtrend
        feature_row(d20=-0.01, trend=1),  # below sma20 in an uptrend
    ],
    ids=["d20=+0.02", "d20=+0.035", "d20=-0.02", "d20=-0.05", "at-sma20-up", "at-sma20-flat",
         "long-against-trend", "short-against-trend"],
)
def test_no_setup(row):
    sig = one([row])
    assert sig["rule"] == "NO_SETUP"
    assert sig["action"] == "HOLD"
    assert sig["direction"] is None
    assert sig["instrument_type"] is None
    assert sig["base_confidence"] is None
    assert sig["confidence"] is None


def test_just_inside_the_sma_band_is_a_setup():
    assert one([feature_row(d20=0.0199, trend=1)])["direction"] == "LONG"
    assert one([feature_row(d20=-0.0199, trend=-1)])["direction"] == "SHORT"


@pytest.mark.parametrize(("d20", "trend", "direction"), [(0.01, 1, "LONG"), (-0.005, -1, "SHORT")])
@pytest.mark.parametrize("ratio", [0.0, 0.3, 0.4999])
def test_volume_too_low_kills_a_setup(d20, trend, direction, ratio):
    row = feature_row(d20=d20, trend=trend, vol_ratio=1.0, volume_ratio=ratio)
    sig = one([row])
    assert sig["rule"] == "VOLUME_TOO_LOW"
    assert sig["action"] == "HOLD"
    assert sig["instrument_type"] is None
    assert sig["direction"] == direction  # the setup is still visible
    assert sig["volume_mult"] == 0.0
    assert sig["volume_assessment"] == "VOLUME_TOO_LOW"
    assert sig["base_confidence"] == pytest.approx(ref_base(row, direction))
    assert sig["base_confidence"] > 0
    assert sig["confidence"] == 0.0


def test_low_volume_without_a_setup_stays_no_setup():
    sig = one([feature_row(d20=0.05, volume_ratio=0.2)])
    assert sig["rule"] == "NO_SETUP"
    assert sig["volume_mult"] == 0.0
    assert sig["confidence"] is None


def test_volume_ratio_at_half_is_not_killed():
    sig = one([feature_row(d20=0.01, volume_ratio=0.5)])
    assert sig["rule"] == "BULLISH_ENTRY"
    assert sig["volume_mult"] == 0.3


def test_null_volume_ratio_degrades_to_half():
    row = feature_row(d20=0.01, volume_ratio=None)
    sig = one([row])
    assert sig["rule"] == "BULLISH_ENTRY"
    assert sig["volume_mult"] == 0.5
    assert sig["volume_assessment"] == "NO_VOLUME_DATA"
    assert sig["confidence"] == pytest.approx(0.5 * ref_base(row, "LONG"))


# --- instrument by volatility regime --------------------------------------------------------
@pytest.mark.parametrize(
    ("vol_ratio", "regime", "long_trade", "short_trade"),
    [
        (0.7, "compressed", ("BUY", "CALL"), ("BUY", "PUT")),
        (0.8, "normal", ("BUY", "CALL"), ("BUY", "PUT")),
        (1.0, "normal", ("BUY", "CALL"), ("BUY", "PUT")),
        (1.3, "normal", ("BUY", "CALL"), ("BUY", "PUT")),  # boundary: <= 1.3 is normal
        (1.31, "high", ("BUY", "STOCK"), ("SELL", "STOCK")),
        (2.5, "high", ("BUY", "STOCK"), ("SELL", "STOCK")),
        (None, "unknown", ("BUY", "STOCK"), ("SELL", "STOCK")),
    ],
)
def test_instrument_by_regime(vol_ratio, regime, long_trade, short_trade):
    long_sig = one([feature_row(d20=0.01, trend=1, vol_ratio=vol_ratio)])
    short_sig = one([feature_row(d20=-0.01, trend=-1, vol_ratio=vol_ratio)])
    for sig, trade in ((long_sig, long_trade), (short_sig, short_trade)):
        assert sig["vol_regime"] == regime == ref_regime(vol_ratio)
        assert (sig["action"], sig["instrument_type"]) == trade
        assert sig["vol_appropriateness"] == APPROPRIATENESS[regime]


# --- base confidence -------------------------------------------------------------------------
CASES = [
    dict(d20=d20, trend=trend, vol_ratio=vr, volume_ratio=ratio)
    for d20, trend in [(0.001, 1), (0.01, 1), (0.0199, 0), (0.015, 0), (-0.003, -1), (-0.012, 0), (-0.019, -1)]
    for vr in (0.5, 1.0, 1.3, 1.6, None)
    for ratio in (0.45, 0.8, 1.4, 1.9, 2.6, 5.0, None)
]


def test_base_and_final_confidence_against_reference():
    rows = [feature_row(ticker=f"T{i:03d}", **case) for i, case in enumerate(CASES)]
    out = evaluate_signals(features_frame(rows))
    assert out.height == len(rows)
    by_ticker = {r["ticker"]: r for r in out.iter_rows(named=True)}
    for row in rows:
        sig = by_ticker[row["ticker"]]
        direction = ref_direction(row)
        assert direction is not None
        assert sig["direction"] == direction
        base = ref_base(row, direction)
        mult = ref_mult(row["volume_ratio"])
        assert sig["base_confidence"] == pytest.approx(base, abs=1e-12)
        assert sig["volume_mult"] == mult
        assert sig["confidence"] == pytest.approx(min(1.0, base * mult), abs=1e-12)
        assert sig["setup_quality"] == pytest.approx(1 - min(abs(row["distance_sma20"]) / 0.02, 1.0))
        if mult == 0:
            assert (sig["rule"], sig["action"]) == ("VOLUME_TOO_LOW", "HOLD")
        else:
            assert sig["action"] in ("BUY", "SELL")


def test_worked_example():
    # LONG, trend up, d20 = 0.005, normal vol, no news: 0 + 0.25 + 0.25*0.75 + 0.20 = 0.6375.
    sig = one([feature_row(d20=0.005, trend=1, vol_ratio=1.0, volume_ratio=1.7)])
    assert sig["base_confidence"] == pytest.approx(0.6375)
    assert sig["confidence"] == pytest.approx(0.6375)  # GOOD_VOLUME x1.0
    sig = one([feature_row(d20=0.005, trend=1, vol_ratio=1.0, volume_ratio=3.2)])
    assert sig["confidence"] == pytest.approx(0.6375 * 1.3)


def test_confidence_is_capped_at_one():
    sentiment = pl.DataFrame({"ticker": ["AAPL"], "sentiment_score": [1.0], "news_count": [4]})
    row = feature_row(d20=0.0001, trend=1, vol_ratio=1.0, volume_ratio=3.5)
    sig = one([row], sentiment=sentiment)
    assert sig["base_confidence"] == pytest.approx(ref_base(row, "LONG", 1.0))
    assert sig["base_confidence"] * 1.3 > 1.0
    assert sig["confidence"] == 1.0


# --- sentiment ---------------------------------------------------------------------------------
def test_sentiment_enters_base_confidence():
    rows = [feature_row(ticker="AAPL", d20=0.01), feature_row(ticker="MSFT", d20=-0.01, trend=-1),
            feature_row(ticker="TSLA", d20=0.01)]
    sentiment = pl.DataFrame({"ticker": ["AAPL", "MSFT"], "sentiment_score": [0.6, -0.8], "news_count": [3, 5]})
    out = evaluate_signals(features_frame(rows), sentiment=sentiment)
    got = {r["ticker"]: r for r in out.iter_rows(named=True)}
    assert got["AAPL"]["sentiment_score"] == 0.6 and got["AAPL"]["news_count"] == 3
    assert got["MSFT"]["sentiment_strength"] == pytest.approx(0.8)
    assert got["TSLA"]["sentiment_score"] == 0.0 and got["TSLA"]["news_count"] == 0  # no news
    for row, score in zip(rows, (0.6, -0.8, 0.0)):
        sig = got[row["ticker"]]
        assert sig["base_confidence"] == pytest.approx(ref_base(row, sig["direction"], score))


def test_sentiment_gate():
    gate = SignalRuleSet(version="1.0-phase12-gated", sentiment_gate=True)
    rows = [
        feature_row(ticker="NONE", d20=0.01),  # setup, no news
        feature_row(ticker="BULL", d20=0.01),  # score +0.6
        feature_row(ticker="WEAK", d20=0.01),  # score +0.5: not > 0.5
        feature_row(ticker="BEAR", d20=-0.01, trend=-1),  # score -0.6
        feature_row(ticker="OPPO", d20=-0.01, trend=-1),  # short setup, bullish news
    ]
    sentiment = pl.DataFrame(
        {"ticker": ["BULL", "WEAK", "BEAR", "OPPO"], "sentiment_score": [0.6, 0.5, -0.6, 0.9], "news_count": [2, 1, 3, 1]}
    )
    gated = {r["ticker"]: r for r in evaluate_signals(features_frame(rows), gate, sentiment).iter_rows(named=True)}
    assert gated["NONE"]["rule"] == "NO_SETUP" and gated["NONE"]["action"] == "HOLD"
    assert gated["WEAK"]["rule"] == "NO_SETUP"
    assert gated["OPPO"]["rule"] == "NO_SETUP"
    assert gated["BULL"]["rule"] == "BULLISH_ENTRY" and gated["BULL"]["direction"] == "LONG"
    assert gated["BEAR"]["rule"] == "BEARISH_ENTRY" and gated["BEAR"]["direction"] == "SHORT"
    assert gated["BULL"]["base_confidence"] == pytest.approx(ref_base(rows[1], "LONG", 0.6))
    assert {r["rule_version"] for r in gated.values()} == {"1.0-phase12-gated"}
    check_contract(evaluate_signals(features_frame(rows), gate, sentiment), signals_schema(gate))

    # Gate off (the default): every setup keeps its direction whatever the news.
    ungated = {r["ticker"]: r for r in evaluate_signals(features_frame(rows), sentiment=sentiment).iter_rows(named=True)}
    assert [ungated[t]["direction"] for t in ("NONE", "BULL", "WEAK", "BEAR", "OPPO")] == [
        "LONG", "LONG", "LONG", "SHORT", "SHORT"]


# --- shape and contract -------------------------------------------------------------------------
def mixed_rows() -> list[dict]:
    cases = [
        dict(d20=0.01, trend=1), dict(d20=0.01, trend=0), dict(d20=-0.01, trend=-1),
        dict(d20=0.03, trend=1), dict(d20=0.0, trend=0), dict(d20=0.01, trend=-1),
        dict(d20=0.01, volume_ratio=0.3), dict(d20=0.01, vol_ratio=0.7), dict(d20=0.01, vol_ratio=1.31),
        dict(d20=-0.01, trend=-1, vol_ratio=1.31), dict(d20=0.01, vol_ratio=None), dict(d20=0.01, volume_ratio=None),
        dict(d20=0.001, volume_ratio=9.0),
    ]
    return [feature_row(ticker=f"C{i:02d}", **case) for i, case in enumerate(cases)]


def test_one_output_row_per_input_row():
    frame = features_frame(mixed_rows())
    out = evaluate_signals(frame)
    assert out.height == frame.height
    assert out.columns == list(SIGNAL_COLUMNS)
    assert sorted(out.select("ticker", "ts").rows()) == sorted(frame.select("ticker", "ts").rows())
    assert set(out["rule"]) == {"BULLISH_ENTRY", "BEARISH_ENTRY", "NO_SETUP", "VOLUME_TOO_LOW"}


def test_sentiment_for_some_tickers_keeps_one_row_per_feature_row():
    frame = features_frame(mixed_rows()[:3])
    sentiment = pl.DataFrame({"ticker": ["C00", "C01"], "sentiment_score": [0.2, -0.1], "news_count": [1, 1]})
    assert evaluate_signals(frame, sentiment=sentiment).height == 3


def test_rule_version_is_recorded():
    frame = features_frame(mixed_rows())
    assert set(evaluate_signals(frame)["rule_version"]) == {SignalRuleSet().version}
    custom = SignalRuleSet(version="v-test-42")
    assert set(evaluate_signals(frame, custom)["rule_version"]) == {"v-test-42"}


def test_signals_schema_accepts_the_output():
    out = evaluate_signals(features_frame(mixed_rows()))
    validated = check_contract(out, SIGNALS_SCHEMA)
    assert validated.height == out.height


def test_empty_features_give_empty_signals():
    out = evaluate_signals(features_frame([]))
    assert out.height == 0
    assert out.columns == list(SIGNAL_COLUMNS)


def test_sentiment_per_minute_joins_on_ticker_and_minute():
    """What the signals asset passes: one sentiment row per (ticker, ts); each minute its own."""
    gate = SignalRuleSet(version="1.0-phase12-gated", sentiment_gate=True)
    rows = [feature_row(ticker="AAPL", ts=minute(0)), feature_row(ticker="AAPL", ts=minute(1)),
            feature_row(ticker="MSFT", ts=minute(0))]
    sentiment = pl.DataFrame({"ticker": ["AAPL", "AAPL", "MSFT"], "ts": [minute(0), minute(1), minute(0)],
                              "sentiment_score": [0.0, 0.8, 0.9], "news_count": [0, 2, 1]})
    out = {(r["ticker"], r["ts"]): r for r in evaluate_signals(features_frame(rows), gate, sentiment).iter_rows(named=True)}
    assert out[("AAPL", minute(0))]["rule"] == "NO_SETUP"  # no news that minute: the gate holds it
    assert out[("AAPL", minute(1))]["direction"] == "LONG" and out[("AAPL", minute(1))]["news_count"] == 2
    assert out[("MSFT", minute(0))]["sentiment_score"] == 0.9


def test_the_sentiment_rules_are_the_defaults_with_the_gate_on():
    from dataclasses import replace

    from vol_pipeline.core.config import SENTIMENT_RULES, signal_rules

    assert signal_rules(False) == SignalRuleSet()
    assert signal_rules(True) is SENTIMENT_RULES
    assert SENTIMENT_RULES.version != SignalRuleSet().version
    assert replace(SENTIMENT_RULES, version=SignalRuleSet().version, sentiment_gate=False) == SignalRuleSet()

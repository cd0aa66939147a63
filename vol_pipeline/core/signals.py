"""Signal rules (reference §9.2, Phase 12 "v1", reconstructed): one row per evaluated
(ticker, minute), HOLD included, each with its rule code.

Direction: LONG iff trend_state >= 0, close > sma20 and |distance_sma20| < 0.02 (and, with
the sentiment gate on, sentiment > +0.5); SHORT is the mirror image; else HOLD/NO_SETUP.
Base confidence = weighted sentiment strength, trend alignment, setup quality and
volatility appropriateness; the volume multiplier scales it, and a zero multiplier turns
the signal into HOLD/VOLUME_TOO_LOW. Instrument by volatility regime: options (CALL/PUT,
always BUY) in a normal or compressed regime, STOCK (BUY/SELL) when vol is high or unknown.
"""

from __future__ import annotations

import polars as pl

from vol_pipeline.core.config import SignalRuleSet
from vol_pipeline.core.volume import final_confidence, volume_assessment, volume_multiplier

RULE_BULLISH = "BULLISH_ENTRY"
RULE_BEARISH = "BEARISH_ENTRY"
RULE_NO_SETUP = "NO_SETUP"
RULE_VOLUME_TOO_LOW = "VOLUME_TOO_LOW"
RULE_OFF_WATCHLIST = "OFF_WATCHLIST"  # the watchlist is on and the ticker was not on it
RULES_CODES = (RULE_BULLISH, RULE_BEARISH, RULE_NO_SETUP, RULE_VOLUME_TOO_LOW, RULE_OFF_WATCHLIST)

SIGNAL_COLUMNS: tuple[str, ...] = (
    "ticker", "ts", "rule_version", "rule", "action", "instrument_type", "direction",
    "close", "sma20", "sma50", "distance_sma20", "trend_state", "recent_vol", "vol_ratio", "vol_regime",
    "sentiment_score", "news_count",
    "sentiment_strength", "trend_alignment", "setup_quality", "vol_appropriateness",
    "base_confidence", "volume_ratio", "volume_mult", "volume_assessment", "confidence",
)

SENTIMENT_SCHEMA = {"ticker": pl.String, "sentiment_score": pl.Float64, "news_count": pl.Int64}


def evaluate_signals(
    features: pl.DataFrame, rules: SignalRuleSet = SignalRuleSet(), sentiment: pl.DataFrame | None = None,
    on_watchlist: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Signals for every lane_features row.

    `sentiment` (optional): per ticker and minute (`ts`; or per ticker alone),
    `sentiment_score` = mean directional score in [-1, 1] over the news window
    (core.news_sentiment) and `news_count`; a ticker or minute without news scores 0.
    `on_watchlist` (optional): (ticker, ts, on_watchlist) from core.watchlist; a row off the
    watchlist takes no direction (HOLD/OFF_WATCHLIST). Without it every ticker is evaluated.
    """
    if sentiment is None:
        sentiment = pl.DataFrame(schema=SENTIMENT_SCHEMA)
    keys = ["ticker", "ts"] if "ts" in sentiment.columns else ["ticker"]
    frame = features.join(sentiment.select(*keys, "sentiment_score", "news_count"), on=keys, how="left").with_columns(
        sentiment_score=pl.col("sentiment_score").fill_null(0.0),
        news_count=pl.col("news_count").fill_null(0),
    )
    if on_watchlist is None:
        frame = frame.with_columns(_on_watchlist=pl.lit(True))
    else:
        frame = frame.join(on_watchlist.select("ticker", "ts", _on_watchlist="on_watchlist"), on=["ticker", "ts"],
                           how="left").with_columns(pl.col("_on_watchlist").fill_null(True))
    return frame.with_columns(_direction(rules)).with_columns(_scores(rules)).with_columns(_decision(rules)).select(
        SIGNAL_COLUMNS
    )


def _direction(rules: SignalRuleSet) -> list[pl.Expr]:
    d20 = pl.col("distance_sma20")
    near_sma = d20.abs() < rules.max_abs_distance_sma20
    score = pl.col("sentiment_score")
    bullish_news = score > rules.sentiment_threshold if rules.sentiment_gate else pl.lit(True)
    bearish_news = score < -rules.sentiment_threshold if rules.sentiment_gate else pl.lit(True)
    listed = pl.col("_on_watchlist")
    long_ = listed & bullish_news & (pl.col("trend_state") >= 0) & (pl.col("close") > pl.col("sma20")) & near_sma
    short = listed & bearish_news & (pl.col("trend_state") <= 0) & (pl.col("close") < pl.col("sma20")) & near_sma
    direction = pl.when(long_).then(pl.lit("LONG")).when(short).then(pl.lit("SHORT"))
    vr = pl.col("vol_ratio")
    regime = (
        pl.when(vr.is_null()).then(pl.lit("unknown"))
        .when(vr < rules.vol_normal_low).then(pl.lit("compressed"))
        .when(vr <= rules.vol_normal_high).then(pl.lit("normal"))
        .otherwise(pl.lit("high"))
    )
    return [direction.alias("direction"), regime.alias("vol_regime")]


def _scores(rules: SignalRuleSet) -> list[pl.Expr]:
    has_direction = pl.col("direction").is_not_null()
    sign = pl.when(pl.col("direction") == "LONG").then(1).otherwise(-1)
    trend = pl.col("trend_state")
    trend_alignment = pl.when(trend == sign).then(1.0).when(trend == 0).then(0.5).otherwise(0.0)
    setup_quality = 1.0 - pl.min_horizontal(pl.col("distance_sma20").abs() / rules.setup_scale, pl.lit(1.0))
    regime = pl.col("vol_regime")
    appropriateness = (
        pl.when(regime == "normal").then(rules.appropriateness_normal)
        .when(regime == "compressed").then(rules.appropriateness_compressed)
        .when(regime == "high").then(rules.appropriateness_high)
        .otherwise(rules.appropriateness_unknown)
    )
    strength = pl.col("sentiment_score").abs()
    base = (
        rules.weight_sentiment * strength
        + rules.weight_trend * trend_alignment
        + rules.weight_setup * setup_quality
        + rules.weight_volatility * appropriateness
    )
    ratio = pl.col("volume_ratio")
    return [
        pl.lit(rules.version).alias("rule_version"),
        strength.alias("sentiment_strength"),
        pl.when(has_direction).then(trend_alignment).alias("trend_alignment"),
        setup_quality.alias("setup_quality"),
        appropriateness.cast(pl.Float64).alias("vol_appropriateness"),
        pl.when(has_direction).then(base).alias("base_confidence"),
        volume_multiplier(ratio, rules).alias("volume_mult"),
        volume_assessment(ratio, rules).alias("volume_assessment"),
    ]


ACTIONS = ("BUY", "SELL")  # every action but HOLD: the signals that can become recommendations


def _decision(rules: SignalRuleSet) -> list[pl.Expr]:
    direction = pl.col("direction")
    killed = direction.is_not_null() & (pl.col("volume_mult") == 0)
    actionable = direction.is_not_null() & ~killed
    options = pl.col("vol_regime").is_in(["normal", "compressed"])
    instrument = (
        pl.when(~actionable).then(pl.lit(None, pl.String))
        .when(options & (direction == "LONG")).then(pl.lit("CALL"))
        .when(options).then(pl.lit("PUT"))
        .otherwise(pl.lit("STOCK"))
    )
    action = (
        pl.when(~actionable).then(pl.lit("HOLD"))
        .when(options | (direction == "LONG")).then(pl.lit("BUY"))
        .otherwise(pl.lit("SELL"))
    )
    rule = (
        pl.when(~pl.col("_on_watchlist")).then(pl.lit(RULE_OFF_WATCHLIST))
        .when(direction.is_null()).then(pl.lit(RULE_NO_SETUP))
        .when(killed).then(pl.lit(RULE_VOLUME_TOO_LOW))
        .when(direction == "LONG").then(pl.lit(RULE_BULLISH))
        .otherwise(pl.lit(RULE_BEARISH))
    )
    confidence = pl.when(direction.is_not_null()).then(final_confidence(pl.col("base_confidence"), pl.col("volume_mult")))
    return [rule.alias("rule"), action.alias("action"), instrument.alias("instrument_type"), confidence.alias("confidence")]

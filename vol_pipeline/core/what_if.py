"""What-if: one session replayed with the volume multiplier on, and off (every multiplier 1.0),
and, when the session ran with news, with sentiment off (the ungated rule set, scores 0).

This is the question the seed report wanted answered: does scaling confidence by volume
pick better trades? Both variants run the same pure chain (signals -> recommendations ->
dispatch -> exits) over the session's stored lane_features and bars; only the rule set
differs. With the default rules the "on" variant reproduces what the minute assets stored
(a test holds it to that), so the comparison is like for like.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import polars as pl

from vol_pipeline.core.config import SignalRuleSet
from vol_pipeline.core.dispatch import DispatchConfig, dispatch
from vol_pipeline.core.exits import ExitConfig, trade_outcomes
from vol_pipeline.core.recommendations import recommend
from vol_pipeline.core.signals import evaluate_signals
from vol_pipeline.core.trade_stats import trade_stats

MULTIPLIER_ON, MULTIPLIER_OFF = "multiplier on", "multiplier off"
SENTIMENT_OFF, SENTIMENT_AND_MULTIPLIER_OFF = "sentiment off", "sentiment and multiplier off"
WHAT_IF_COLUMNS: tuple[str, ...] = (
    "variant", "recommendations", "executions", "execution_rate", "trades", "wins", "losses", "flat", "win_rate", "pnl",
    "confidence_p25", "confidence_median", "confidence_p75",
)
WHAT_IF_SCHEMA = {
    "variant": pl.String, "recommendations": pl.Int64, "executions": pl.Int64, "execution_rate": pl.Float64,
    "trades": pl.Int64, "wins": pl.Int64, "losses": pl.Int64, "flat": pl.Int64, "win_rate": pl.Float64,
    "pnl": pl.Float64,
    "confidence_p25": pl.Float64, "confidence_median": pl.Float64, "confidence_p75": pl.Float64,
}


def multiplier_off(rules: SignalRuleSet) -> SignalRuleSet:
    """`rules` with every volume multiplier 1.0 (no kill, no reduction, no boost)."""
    tiers = tuple(replace(tier, multiplier=1.0) for tier in rules.volume_tiers)
    return replace(rules, version=f"{rules.version}+multiplier-off", volume_tiers=tiers,
                   surge_multiplier=1.0, null_volume_multiplier=1.0)


@dataclass(frozen=True)
class SessionReplay:
    recommendations: pl.DataFrame
    executions: pl.DataFrame
    outcomes: pl.DataFrame
    signals: pl.DataFrame  # every evaluated (ticker, minute), HOLD included: what the buckets count


def replay_session(
    features: pl.DataFrame,
    bars: pl.DataFrame,
    session_close: datetime,
    rules: SignalRuleSet = SignalRuleSet(),
    dispatch_config: DispatchConfig = DispatchConfig(),
    exit_config: ExitConfig = ExitConfig(),
    sentiment: pl.DataFrame | None = None,
) -> SessionReplay:
    """The session's chain from its lane_features and bars (and its news sentiment per ticker
    and minute, when it had news), each minute decided at its own end."""
    signals = evaluate_signals(features, rules, sentiment)
    recommendations = recommend(signals, None, rules)
    executions = dispatch(recommendations, features, bars, None, None, dispatch_config)
    outcomes = trade_outcomes(executions, bars, session_close, exit_config)
    return SessionReplay(recommendations, executions, outcomes, signals)


def what_if(
    features: pl.DataFrame,
    bars: pl.DataFrame,
    session_close: datetime,
    rules: SignalRuleSet = SignalRuleSet(),
    dispatch_config: DispatchConfig = DispatchConfig(),
    exit_config: ExitConfig = ExitConfig(),
    sentiment: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """One row per variant (WHAT_IF_COLUMNS): multiplier on (`rules`, `sentiment`) and off;
    with `sentiment` given, also sentiment off (the ungated default rule set, no news) with
    the multiplier on and off."""
    variants = [(MULTIPLIER_ON, rules, sentiment), (MULTIPLIER_OFF, multiplier_off(rules), sentiment)]
    if sentiment is not None:
        without_news = SignalRuleSet()
        variants += [(SENTIMENT_OFF, without_news, None), (SENTIMENT_AND_MULTIPLIER_OFF, multiplier_off(without_news), None)]
    rows = []
    for variant, variant_rules, variant_sentiment in variants:
        replayed = replay_session(features, bars, session_close, variant_rules, dispatch_config, exit_config,
                                  variant_sentiment)
        simulated = replayed.executions.filter(pl.col("status") == "SIMULATED").height
        recs = replayed.recommendations.height
        stats = trade_stats(replayed.outcomes)
        confidence = replayed.recommendations["confidence"]
        rows.append({
            "variant": variant, "recommendations": recs, "executions": simulated,
            "execution_rate": simulated / recs if recs else None,
            **{key: stats[key] for key in ("trades", "wins", "losses", "flat", "win_rate", "pnl")},
            "confidence_p25": confidence.quantile(0.25, "linear") if recs else None,
            "confidence_median": confidence.median() if recs else None,
            "confidence_p75": confidence.quantile(0.75, "linear") if recs else None,
        })
    return pl.DataFrame(rows, schema=WHAT_IF_SCHEMA)

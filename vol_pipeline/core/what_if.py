"""What-if: one session replayed with the volume multiplier on, and off (every multiplier 1.0).

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
from vol_pipeline.core.report import trade_stats
from vol_pipeline.core.signals import evaluate_signals

MULTIPLIER_ON, MULTIPLIER_OFF = "multiplier on", "multiplier off"
WHAT_IF_COLUMNS: tuple[str, ...] = (
    "variant", "recommendations", "executions", "execution_rate", "trades", "wins", "win_rate", "pnl",
)


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
) -> SessionReplay:
    """The session's chain from its lane_features and bars, each minute decided at its own end."""
    signals = evaluate_signals(features, rules)
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
) -> pl.DataFrame:
    """One row per variant (WHAT_IF_COLUMNS): multiplier on (`rules`) and off."""
    rows = []
    for variant, variant_rules in ((MULTIPLIER_ON, rules), (MULTIPLIER_OFF, multiplier_off(rules))):
        replayed = replay_session(features, bars, session_close, variant_rules, dispatch_config, exit_config)
        simulated = replayed.executions.filter(pl.col("status") == "SIMULATED").height
        recs = replayed.recommendations.height
        stats = trade_stats(replayed.outcomes)
        rows.append({
            "variant": variant, "recommendations": recs, "executions": simulated,
            "execution_rate": simulated / recs if recs else None,
            **{key: stats[key] for key in ("trades", "wins", "win_rate", "pnl")},
        })
    return pl.DataFrame(rows, schema={
        "variant": pl.String, "recommendations": pl.Int64, "executions": pl.Int64, "execution_rate": pl.Float64,
        "trades": pl.Int64, "wins": pl.Int64, "win_rate": pl.Float64, "pnl": pl.Float64,
    })

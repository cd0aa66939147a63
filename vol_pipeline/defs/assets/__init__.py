"""The news assets: news_items -> news_sentiment (one step, group news, unpartitioned);
the per-minute assets (watchlist every 5 minutes beside them): bars (+ quarantine) -> lane_features -> signals -> recommendations -> executions;
the per-session assets: outcomes -> session_report -> session_archive; and rule_comparison
(not partitioned, group rule_analysis: what `vol-pipeline whatif` records; defs/rule_comparison.py)."""

import dagster as dg

from vol_pipeline.core.config import SignalRuleSet

from vol_pipeline.defs.assets.bars import build_bars
from vol_pipeline.defs.assets.executions import build_executions
from vol_pipeline.defs.assets.lane_features import build_lane_features
from vol_pipeline.defs.assets.news import news
from vol_pipeline.defs.assets.outcomes import build_outcomes
from vol_pipeline.defs.assets.recommendations import build_recommendations
from vol_pipeline.defs.assets.session_archive import build_session_archive
from vol_pipeline.defs.assets.session_report import build_session_report
from vol_pipeline.defs.assets.signals import build_signals
from vol_pipeline.defs.assets.watchlist import build_watchlist
from vol_pipeline.defs.rule_comparison import build_rule_comparison


def build_minute_assets(partitions: dg.PartitionsDefinition, rules: SignalRuleSet, universe: tuple[str, ...] | None,
                        watchlist_on: bool, watchlist_size: int) -> list[dg.AssetsDefinition]:
    return [build_bars(partitions), build_lane_features(partitions), build_watchlist(partitions, universe, watchlist_size, rules.sentiment_gate),
            build_signals(partitions, rules, watchlist_on), build_recommendations(partitions, rules),
            build_executions(partitions)]


def build_session_assets(sessions: dg.PartitionsDefinition, rules: SignalRuleSet) -> list[dg.AssetsDefinition]:
    return [build_outcomes(sessions), build_session_report(sessions, rules), build_session_archive(sessions),
            build_rule_comparison()]


NEWS_ASSETS = [news]

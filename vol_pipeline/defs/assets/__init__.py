"""The per-minute assets: bars (+ quarantine) -> lane_features -> signals -> recommendations -> executions;
the per-session assets: outcomes -> session_report -> session_archive; and rule_comparison
(not partitioned, group rule_analysis: what `vol-pipeline whatif` records; defs/rule_comparison.py)."""

import dagster as dg

from vol_pipeline.defs.assets.bars import build_bars
from vol_pipeline.defs.assets.executions import build_executions
from vol_pipeline.defs.assets.lane_features import build_lane_features
from vol_pipeline.defs.assets.outcomes import build_outcomes
from vol_pipeline.defs.assets.recommendations import build_recommendations
from vol_pipeline.defs.assets.session_archive import build_session_archive
from vol_pipeline.defs.assets.session_report import build_session_report
from vol_pipeline.defs.assets.signals import build_signals
from vol_pipeline.defs.rule_comparison import build_rule_comparison


def build_minute_assets(partitions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [build(partitions) for build in (build_bars, build_lane_features, build_signals, build_recommendations, build_executions)]


def build_session_assets(sessions: dg.PartitionsDefinition) -> list[dg.AssetsDefinition]:
    return [build_outcomes(sessions), build_session_report(sessions), build_session_archive(sessions),
            build_rule_comparison()]

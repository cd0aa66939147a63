"""session_report: one trading session measured (core/report.py), with the what-if and the
seed's 24-hour checklist as asset checks (core/checklist.py).

The report is one JSON row in the warehouse's session_report table, which
`vol-pipeline report` prints; the UI shows its numbers, tables and PNG charts as metadata.
"""

import json
from datetime import datetime, timezone

import dagster as dg
import polars as pl

from vol_pipeline.core.config import SignalRuleSet
from vol_pipeline.core.checklist import CHECKLIST, ERROR, seed_checklist
from vol_pipeline.core.report import session_report as build_report
from vol_pipeline.core.news_sentiment import sentiment_by_minute, stored_mentions, window_reads
from vol_pipeline.core.what_if import what_if
from vol_pipeline.defs.assets.common import SESSION_GROUP, SESSION_OF_MINUTES, spec_kwargs
from vol_pipeline.defs.charts import report_charts
from vol_pipeline.defs.report_metadata import report_metadata
from vol_pipeline.defs.resources import WarehouseResource
from vol_pipeline.defs.run_errors import unrepaired_failures
from vol_pipeline.defs.session_partitions import session_bounds, session_of_key, session_start_utc

SEVERITY = {ERROR: dg.AssetCheckSeverity.ERROR}


def _check_specs(sessions: dg.PartitionsDefinition) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(name, asset="session_report", partitions_def=sessions, description=f"[{severity}] {text}")
        for name, (severity, text) in CHECKLIST.items()
    ]


def build_session_report(sessions: dg.PartitionsDefinition, rules: SignalRuleSet) -> dg.AssetsDefinition:
    @dg.asset(
        name="session_report",
        deps=[SESSION_OF_MINUTES],  # and so bars..recommendations (each cross-partition dep costs ~0.7 s a run)
        partitions_def=sessions,
        check_specs=_check_specs(sessions),
        **spec_kwargs("session_report", "The session measured: recommendations, execution rate, skips by gate, "
                      "confidence before/after the volume multiplier, multiplier buckets vs the seed's expectation, "
                      "win rate overall and by bucket, and the what-if: multiplier on/off (and sentiment on/off with news).", SESSION_GROUP),
    )
    def session_report(context: dg.AssetExecutionContext, outcomes: pl.DataFrame, warehouse: WarehouseResource):
        session = session_of_key(context.partition_key)
        first_bar, close = session_bounds(session)
        store = warehouse.get()
        tables = {name: store.read(name, first_bar, close)
                  for name in ("bars", "lane_features", "signals", "recommendations", "executions")}
        report = build_report(session, tables["bars"], tables["lane_features"], tables["signals"],
                              tables["recommendations"], tables["executions"], outcomes)
        sentiment = None
        if rules.sentiment_gate:  # the session ran with news: replay it with its sentiment, and without
            labels = store.read("news_sentiment", *window_reads(first_bar, close))
            sentiment = sentiment_by_minute(tables["lane_features"], stored_mentions(labels))
        report["what_if"] = what_if(tables["lane_features"], tables["bars"], close, rules, sentiment=sentiment).to_dicts()
        checklist = seed_checklist(report, unrepaired_failures(context.instance, session))
        report["checklist"] = [{"name": i.name, "severity": i.severity, "passed": i.passed, "detail": i.detail}
                               for i in checklist]
        for item in checklist:
            yield dg.AssetCheckResult(
                check_name=item.name, passed=item.passed, severity=SEVERITY.get(item.severity, dg.AssetCheckSeverity.WARN),
                metadata={"detail": item.detail},
            )
        row = pl.DataFrame([{
            "session_date": session.isoformat(), "session_start": session_start_utc(session),
            "generated_at": datetime.now(timezone.utc), "report": json.dumps(report),
        }])
        yield dg.Output(row, metadata={**report_metadata(report), "charts": dg.MetadataValue.md(report_charts(report))})

    return session_report

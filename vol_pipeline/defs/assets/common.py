"""What every minute asset shares: group, owners, kinds, backfill policy and metadata."""

from datetime import datetime

import dagster as dg

from vol_pipeline.core.calendar import market_minutes_between
from vol_pipeline.defs.metadata import column_schema
from vol_pipeline.defs.partitions import run_minute_window
from vol_pipeline.defs.resources import utc_window

GROUP = "minute_pipeline"
SESSION_GROUP = "session_reporting"
OWNERS = ["team:quant-ops"]
KINDS = {"polars", "duckdb"}
# A range of minutes runs as one run: the fast path for history (replay, backfills).
SINGLE_RUN = dg.BackfillPolicy.single_run()


def spec_kwargs(table: str, description: str, group: str = GROUP) -> dict:
    return {
        "description": description,
        "group_name": group,
        "owners": OWNERS,
        "kinds": KINDS,
        "metadata": {"dagster/column_schema": column_schema(table), "dagster/table_name": f"warehouse.{table}"},
    }


def window(context: dg.AssetExecutionContext) -> tuple[datetime, datetime]:
    """UTC [start, end) of the run's partition or partition range (from the run's tags:
    cheap, where Dagster's own answer walks the minute cron)."""
    return run_minute_window(context.run.tags) or utc_window(context.partition_time_window)


def minutes_in(context: dg.AssetExecutionContext) -> int:
    """How many minute partitions the run covers: what len(context.partition_keys) counts, without the cron walk."""
    start, end = window(context)
    return len(market_minutes_between(start, end))

"""What every minute asset shares: group, owners, kinds, backfill policy and metadata."""

from datetime import datetime

import dagster as dg

from vol_pipeline.core.calendar import market_minutes_between
from vol_pipeline.defs.metadata import column_schema
from vol_pipeline.defs.partitions import key_range_window, partition_key, run_minute_window

GROUP = "minute_pipeline"
SESSION_GROUP = "session_reporting"
OWNERS = ["team:quant-ops"]
KINDS = {"polars", "duckdb"}
# A range of minutes runs as one run: the fast path for history (replay, backfills).
SINGLE_RUN = dg.BackfillPolicy.single_run()
# A session asset's lineage edge to the minute assets. Dagster has no mapping from a day to
# dynamic minute keys, so the edge maps to all of them; the session assets read their own
# session's rows by time (defs/session_partitions.py), never through this mapping.
SESSION_OF_MINUTES = dg.AssetDep("executions", partition_mapping=dg.AllPartitionMapping())
# news_sentiment is unpartitioned: the edge (with a news source) says where a minute asset's
# sentiment comes from; the rows of a minute's window are read by time, never through it.
NEWS_SENTIMENT_DEP = dg.AssetDep("news_sentiment", partition_mapping=dg.AllPartitionMapping())


def spec_kwargs(table: str, description: str, group: str = GROUP) -> dict:
    return {
        "description": description,
        "group_name": group,
        "owners": OWNERS,
        "kinds": KINDS,
        "metadata": {"dagster/column_schema": column_schema(table), "dagster/table_name": f"warehouse.{table}"},
    }


def window(context: dg.AssetExecutionContext) -> tuple[datetime, datetime]:
    """UTC [start, end) of the run's minute or minute range.

    A range must be every market minute from its first key to its last, in Dagster's key
    order too (dynamic keys are ordered by when they were added): otherwise Dagster would
    record other minutes than the ones computed, so the run stops and says why."""
    bounds = run_minute_window(context.run.tags)
    if bounds is None:
        key_range = context.partition_key_range
        bounds = key_range_window(key_range.start, key_range.end)
    if context.has_partition_key_range and context.partition_key_range.start != context.partition_key_range.end:
        _require_time_ordered(context.partition_keys, *bounds)
    return bounds


def _require_time_ordered(keys: list[str], start: datetime, end: datetime) -> None:
    expected = [partition_key(m) for m in market_minutes_between(start, end)]
    if list(keys) != expected:
        missing = sorted(set(expected) - set(keys))[:3]
        extra = sorted(set(keys) - set(expected))[:3]
        raise dg.Failure(
            f"partition range {keys[0]}...{keys[-1]} is {len(keys)} key(s) in Dagster's order but "
            f"{len(expected)} market minute(s) in time (not added: {missing}; out of order: {extra}). "
            "Older minutes were added after newer ones: materialize each session separately, or use "
            "`vol-pipeline replay`, which splits runs where the order breaks.")


def minutes_in(context: dg.AssetExecutionContext) -> int:
    """How many minute partitions the run covers: what len(context.partition_keys) counts, without the cron walk."""
    start, end = window(context)
    return len(market_minutes_between(start, end))

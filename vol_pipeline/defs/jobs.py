"""The minute job: the whole chain for one minute (or a range) in one process.

In-process executor: one process for the run instead of one per step (DESIGN §5
measured ~11 s per minute with the multiprocess default, ~1-3 s in process).
"""

from __future__ import annotations

from datetime import datetime

import dagster as dg

from vol_pipeline.defs.partitions import partition_key

MINUTE_JOB = "minute_job"


def range_tags(first: datetime, last: datetime) -> dict[str, str]:
    """Run tags that make one run of the job cover the minutes first..last (inclusive)."""
    return {
        "dagster/asset_partition_range_start": partition_key(first),
        "dagster/asset_partition_range_end": partition_key(last),
    }


def build_minute_job(partitions: dg.PartitionsDefinition) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        MINUTE_JOB,
        selection=dg.AssetSelection.groups("minute_pipeline"),
        partitions_def=partitions,
        executor_def=dg.in_process_executor,
        description="bars -> lane_features -> signals -> recommendations for one market minute or a range of them.",
    )


SESSION_JOB = "session_job"


def build_session_job(sessions: dg.PartitionsDefinition) -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        SESSION_JOB,
        selection=dg.AssetSelection.groups("session_reporting"),
        partitions_def=sessions,
        executor_def=dg.in_process_executor,
        description="outcomes -> session_report (with the what-if and the 24-hour checklist) -> session_archive for one trading session.",
    )


NEWS_JOB = "news_job"


def build_news_job() -> dg.UnresolvedAssetJobDefinition:
    return dg.define_asset_job(
        NEWS_JOB,
        selection=dg.AssetSelection.groups("news"),
        executor_def=dg.in_process_executor,
        description="news_items -> news_sentiment: read news from the configured source, store new items once, label them.",
    )

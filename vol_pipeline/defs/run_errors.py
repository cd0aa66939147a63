"""Failed minute_job runs of a session that no later successful run repaired.

A run targets one minute (tag dagster/partition) or a range of minutes (the range tags).
Runs are found by those tags, so a backfill months later still counts for its session.
"""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from vol_pipeline.defs.jobs import MINUTE_JOB
from vol_pipeline.defs.partitions import partition_key
from vol_pipeline.defs.session_partitions import session_bounds

RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
FINISHED = [dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE]


def _session_keys(session: date) -> list[str]:
    first, end = session_bounds(session)
    return [partition_key(first + timedelta(minutes=i)) for i in range((end - first) // timedelta(minutes=1))]


def _minutes_of(record: dg.RunRecord, position: dict[str, int]) -> set[int]:
    tags = record.dagster_run.tags
    first = tags.get("dagster/partition") or tags.get(RANGE_START)
    last = tags.get("dagster/partition") or tags.get(RANGE_END)
    if first not in position:
        return set()
    return set(range(position[first], position.get(last, len(position) - 1) + 1))


def unrepaired_failures(instance: dg.DagsterInstance, session: date) -> list[str]:
    """Run ids of failed runs on `session` with a minute that no later successful run covered."""
    keys = _session_keys(session)
    position = {key: i for i, key in enumerate(keys)}
    records = sorted(
        [*instance.get_run_records(dg.RunsFilter(job_name=MINUTE_JOB, statuses=FINISHED, tags={"dagster/partition": keys})),
         *instance.get_run_records(dg.RunsFilter(job_name=MINUTE_JOB, statuses=FINISHED, tags={RANGE_START: keys}))],
        key=lambda r: r.create_timestamp,
        reverse=True,
    )
    repaired: set[int] = set()  # minutes covered by a success newer than the run being looked at
    failed = []
    for record in records:  # runs, not rows: at most a few hundred per session
        minutes = _minutes_of(record, position)
        if record.dagster_run.status == dg.DagsterRunStatus.SUCCESS:
            repaired |= minutes
        elif not minutes <= repaired:
            failed.append(record.dagster_run.run_id)
    return sorted(failed)

"""Failed minute_job runs of a session that no later successful run repaired.

A run targets one minute (tag dagster/partition) or a range of minutes (the range tags).
Runs are found by those tags, so a backfill months later still counts for its session.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
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


def _minutes_of(record: dg.RunRecord, keys: list[str]) -> set[int]:
    """Positions in the session's `keys` that the run covered. Keys sort as text
    (2026-11-23-09:30), so a range reaching into the session from the previous one (replay
    ranges run across the night) is clipped to the session."""
    tags = record.dagster_run.tags
    first = tags.get("dagster/partition") or tags.get(RANGE_START)
    last = tags.get("dagster/partition") or tags.get(RANGE_END)
    if not first or not last:
        return set()
    return set(range(bisect_left(keys, first), bisect_right(keys, last)))


def unrepaired_failures(instance: dg.DagsterInstance, session: date) -> list[str]:
    """Run ids of failed runs on `session` with a minute that no later successful run covered.

    Runs are found by a partition tag or a range start or end inside the session; a single
    run spanning the whole session and both neighbours is not found (none of ours does).
    """
    keys = _session_keys(session)
    found: dict[str, dg.RunRecord] = {}
    for tag in ("dagster/partition", RANGE_START, RANGE_END):
        for record in instance.get_run_records(dg.RunsFilter(job_name=MINUTE_JOB, statuses=FINISHED, tags={tag: keys})):
            found[record.dagster_run.run_id] = record
    repaired: set[int] = set()  # minutes covered by a success newer than the run being looked at
    failed = []
    for record in sorted(found.values(), key=lambda r: r.create_timestamp, reverse=True):  # runs, not rows
        minutes = _minutes_of(record, keys)
        if record.dagster_run.status == dg.DagsterRunStatus.SUCCESS:
            repaired |= minutes
        elif not minutes <= repaired:
            failed.append(record.dagster_run.run_id)
    return sorted(failed)

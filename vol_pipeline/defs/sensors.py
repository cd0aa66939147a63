"""The per-minute sensor: one run per closed minute that has bars (run_key = partition key).

It also adds every closed market minute to the `market_minutes` partitions (oldest first),
bars or not, so a minute without trades shows as a partition that was never materialized.

Default status: STOPPED locally (VOL_PIPELINE_ENV=local) so a fresh `dagster dev` does not
start launching 390 runs a session until someone turns it on in the UI; RUNNING in prod.
"""

import time
from datetime import date, datetime, timedelta, timezone

import dagster as dg

from vol_pipeline.core.calendar import market_minutes_between, session_open_utc
from vol_pipeline.core.minute_requests import SensorCursor, closed, minute_fingerprints, plan_requests
from vol_pipeline.defs.jobs import MINUTE_JOB
from vol_pipeline.defs.partitions import (NEW_MINUTE, PARTITION_TAG, REVISED_BARS, TRIGGER_TAG, add_minutes_request,
                                         partition_key)
from vol_pipeline.defs.resources import BarSourceResource
from vol_pipeline.settings import market_today
from vol_pipeline.sources.errors import SOURCE_ERRORS

MAX_RUNS_PER_TICK = 60  # catch-up pace after downtime: oldest minutes first, none skipped
REVISION_MINUTES = 120  # late or revised bars re-request their minute within this window
# The daemon evaluates sensors every 5 s. A tick that starts this close before the next market
# minute's bars are due (its close, plus the grace for a live feed) waits for them, so the
# minute's run is requested at once rather than at the next pass, 0-5 s later.
DUE_WAIT_S = 4.5
DUE_MARGIN_S = 0.2  # a file source's writer or the feed gets this long past the due time
DUE_POLL_S = 0.02
sleep = time.sleep  # tests replace it


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def wait_for_due_bar(delay: timedelta) -> None:
    """Wait until the next market minute's bars are due when that is at most DUE_WAIT_S away.
    Waits on the sensor's own clock (tests speed it up or stop it), never longer than the
    daemon's pass in real time."""
    now = utc_now() - delay
    closing = now.replace(second=0, microsecond=0)  # the minute whose close comes next
    due = closing + timedelta(minutes=1, seconds=DUE_MARGIN_S)
    if (due - now).total_seconds() > DUE_WAIT_S + DUE_MARGIN_S:
        return
    if not market_minutes_between(closing, closing + timedelta(minutes=1)):
        return
    for _ in range(int((DUE_WAIT_S + DUE_MARGIN_S) / DUE_POLL_S)):  # bounded: a frozen clock never gets there
        if utc_now() - delay >= due:
            return
        sleep(DUE_POLL_S)


def _first_minute(cursor: SensorCursor, now: datetime, partition_start: datetime) -> datetime | None:
    """Where this tick looks from: the revision window before the cursor, or (first tick
    ever) the open of today's session."""
    if cursor.last is not None:
        return max(cursor.last - timedelta(minutes=REVISION_MINUTES + 1), partition_start)
    return session_open_utc(market_today(now))


def partition_tags(key: str) -> dict[str, str]:
    """The tags Dagster adds to a run of one minute_job partition. A request that already has
    them counts as resolved, so Dagster skips re-checking its key against the partitions
    (~0.1-0.25 s per request: a 60-minute catch-up tick went from ~6 s to ~0.03 s)."""
    return {PARTITION_TAG: key, "dagster/partition_set": f"{MINUTE_JOB}_partition_set"}


def build_minute_sensor(job, partition_start: date, running: bool) -> dg.SensorDefinition:
    start_minute = datetime.combine(partition_start, datetime.min.time(), timezone.utc)

    @dg.sensor(
        job=job,
        # Tick on every pass of the daemon's sensor loop (one every 5 s; the tick just before a
        # bar is due waits for it, wait_for_due_bar). 5 here skipped every pass that came back
        # a few ms early, so ticks alternated 5 s and 10 s apart; 15 made the wait the largest
        # part of bar -> recommendation latency.
        minimum_interval_seconds=4,
        default_status=dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED,
        description=(
            "Requests one minute_job run per closed market minute with bars (run key = partition key); "
            f"catches up after downtime ({MAX_RUNS_PER_TICK} runs per tick, none skipped) and re-requests "
            f"(run key <key>@rN) a minute whose bars change within {REVISION_MINUTES} minutes."
        ),
    )
    def minute_sensor(context: dg.SensorEvaluationContext, bar_source: BarSourceResource):
        wait_for_due_bar(bar_source.publish_delay)
        # A live feed serves a minute's bar a few seconds after it closes: look that much behind.
        now = utc_now() - bar_source.publish_delay
        cursor = SensorCursor.from_json(context.cursor)
        first = _first_minute(cursor, now, start_minute)
        minutes = [m for m in market_minutes_between(first, now) if closed(m, now)] if first else []
        if not minutes:
            return dg.SkipReason(f"no closed market minute since {first or 'today'}")
        try:
            bars = bar_source.source.fetch(minutes[0], minutes[-1] + timedelta(minutes=1))
        except SOURCE_ERRORS as error:  # nothing is lost: the cursor stays, the next tick asks again
            return dg.SkipReason(f"bars not read this tick: {error}")
        # Minutes up to the cursor were added by the tick that first saw them.
        new_keys = add_minutes_request([m for m in minutes if cursor.last is None or m > cursor.last])
        requests, next_cursor = plan_requests(minutes, minute_fingerprints(bars), cursor, MAX_RUNS_PER_TICK, REVISION_MINUTES)
        run_requests = [
            dg.RunRequest(
                run_key=partition_key(r.minute) + (f"@r{r.revision}" if r.revision else ""),
                partition_key=partition_key(r.minute),
                tags={**partition_tags(partition_key(r.minute)),
                      TRIGGER_TAG: REVISED_BARS if r.revision else NEW_MINUTE},
            )
            for r in requests
        ]
        return dg.SensorResult(run_requests=run_requests, cursor=next_cursor.to_json(),
                               dynamic_partitions_requests=[new_keys] if new_keys.partition_keys else [])

    return minute_sensor

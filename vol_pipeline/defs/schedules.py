"""Session-close schedule: after the close, re-run the whole session in one run.

The daily pass re-reads every minute of the session, so bars that arrived or changed
after their minute's run are picked up (as the original's 120-minute re-fetch did), and
it is where the daily assets (outcomes, session report) hang. Default status: STOPPED
locally, RUNNING in prod (VOL_PIPELINE_ENV), like the minute sensor.
"""

from datetime import date, timezone

import dagster as dg

from vol_pipeline.core.calendar import MARKET_TZ, session_minutes_utc, sessions_between
from vol_pipeline.defs.jobs import range_tags
from vol_pipeline.defs.partitions import TRIGGER_TAG, register_minutes

SESSION_CLOSE_CRON = "10 16 * * 1-5"  # 16:10 New York: ten minutes after the regular close
SESSION_CLOSE_TRIGGER = "session_close"


def session_range_tags(session: date) -> dict[str, str]:
    """Run tags that make a run cover every minute of `session` (a single-run range)."""
    first, last = (moment.replace(tzinfo=timezone.utc) for moment in session_minutes_utc(session)[[0, -1]].tolist())
    return range_tags(first, last)


def build_session_close_schedule(job, running: bool) -> dg.ScheduleDefinition:
    @dg.schedule(
        job=job,
        cron_schedule=SESSION_CLOSE_CRON,
        execution_timezone=MARKET_TZ,
        default_status=dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED,
        description="16:10 New York on weekdays: re-materialize the day's session in one run (late/revised bars).",
    )
    def session_close_schedule(context: dg.ScheduleEvaluationContext):
        day = context.scheduled_execution_time.date()
        if not sessions_between(day, day):
            return dg.SkipReason(f"{day} is not an NYSE session")
        # The sensor registers minutes as they close; if it was off, the session's keys are added here.
        register_minutes(context.instance, [m.replace(tzinfo=timezone.utc) for m in session_minutes_utc(day).tolist()])
        return dg.RunRequest(run_key=f"session-{day}", tags={**session_range_tags(day), TRIGGER_TAG: SESSION_CLOSE_TRIGGER})

    return session_close_schedule


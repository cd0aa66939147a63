"""After the session-close re-run succeeds, build that session's outcomes and report.

Chained on the run, not on the clock: the report only runs once the whole session has
been re-materialized, however long that took. Default status as for the other automations.
"""

import dagster as dg

from vol_pipeline.defs.schedules import SESSION_CLOSE_TRIGGER, TRIGGER_TAG

RANGE_START = "dagster/asset_partition_range_start"


def build_session_report_sensor(minute_job, session_job, running: bool) -> dg.SensorDefinition:
    @dg.run_status_sensor(
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[minute_job],
        request_job=session_job,
        default_status=dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED,
        description="When the 16:10 session re-run succeeds, materialize outcomes and session_report for that session.",
    )
    def session_report_sensor(context: dg.RunStatusSensorContext):
        tags = context.dagster_run.tags
        if tags.get(TRIGGER_TAG) != SESSION_CLOSE_TRIGGER or RANGE_START not in tags:
            return dg.SkipReason(f"run {context.dagster_run.run_id} is not a session-close re-run")
        session = tags[RANGE_START][:10]  # minute keys start with the New York date: 2026-11-23-09:30
        # One report per successful session re-run: a second re-run the same day reports again.
        run_key = f"report-{session}-{context.dagster_run.run_id[:8]}"
        return dg.RunRequest(run_key=run_key, partition_key=session, tags={TRIGGER_TAG: "session_report"})

    return session_report_sensor

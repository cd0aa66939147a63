"""The `instance_retention` schedule and job: every evening, forget the Dagster runs, event
logs, step logs and minute partition keys that fell out of the partition window, then compact
(vol_pipeline/retention.py). RUNNING by default in prod, STOPPED locally (like the sensor).

An op job, not an asset: it keeps the instance small and produces no data. Its outcome is
in the run's metadata (runs and keys deleted, instance size before and after). No
`from __future__ import annotations` here: Dagster reads the op's config class from its
annotation at definition time.
"""

import dagster as dg

from vol_pipeline.core.calendar import MARKET_TZ
from vol_pipeline.retention import prune_instance
from vol_pipeline.settings import Settings

RETENTION_JOB = "instance_retention_job"
RETENTION_SCHEDULE = "instance_retention"
RETENTION_CRON = "30 20 * * *"  # 20:30 New York, every day: after the close, the report and the session re-run


class RetentionConfig(dg.Config):
    dry_run: bool = False  # count what would go, delete nothing


def build_retention_job(settings: Settings) -> dg.JobDefinition:
    @dg.op(description="Delete runs, event and step logs created before the partition window's start, and "
                       "the minute partition keys before it; VACUUM the SQLite files. Never the warehouse or archive.")
    def prune_instance_history(context: dg.OpExecutionContext, config: RetentionConfig) -> dg.Output[None]:
        window_start = settings.window_start()
        result = prune_instance(context.instance, window_start, dry_run=config.dry_run, log=context.log.info)
        sizes = {} if result.bytes_before is None else {
            "instance_mb_before": round(result.bytes_before / 1e6, 1),
            "instance_mb_after": round(result.bytes_after / 1e6, 1),
        }
        return dg.Output(None, metadata={
            "window_start": window_start.isoformat(), "cutoff_utc": result.cutoff.isoformat(),
            "dry_run": config.dry_run, "runs_deleted": result.runs_deleted,
            "partition_keys_deleted": result.keys_deleted, "compacted_files": len(result.compacted), **sizes,
        })

    @dg.job(name=RETENTION_JOB, description="Instance retention: the Dagster history outside the partition window.",
            executor_def=dg.in_process_executor)
    def instance_retention_job():
        prune_instance_history()

    return instance_retention_job


def build_retention_schedule(job: dg.JobDefinition, running: bool) -> dg.ScheduleDefinition:
    return dg.ScheduleDefinition(
        name=RETENTION_SCHEDULE, job=job, cron_schedule=RETENTION_CRON, execution_timezone=MARKET_TZ,
        default_status=dg.DefaultScheduleStatus.RUNNING if running else dg.DefaultScheduleStatus.STOPPED,
        description="20:30 New York daily: delete the Dagster runs and partition keys older than the partition window.",
    )

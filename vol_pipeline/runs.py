"""Running the minute job from the CLI: the Dagster instance under VOL_PIPELINE_HOME and
single-run materializations of minute ranges.

The CLI's instance is the same one `dagster dev` shows when started with
DAGSTER_HOME=$VOL_PIPELINE_HOME/dagster, so runs made here appear in the UI.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import dagster as dg

from vol_pipeline.core.calendar import market_minutes_between
from vol_pipeline.defs.jobs import MINUTE_JOB, NEWS_JOB, SESSION_JOB, range_tags
from vol_pipeline.defs.partitions import MINUTE_PARTITIONS, partition_key, register_minutes
from vol_pipeline.settings import Settings

# Same settings as the repo-root dagster.yaml: SQLite storage in this folder, no server;
# queued runs start within ~1 s when the daemon launches them (sensor, schedule, UI). The
# event log's folder is written out (the repo-root file finds it through DAGSTER_HOME).
INSTANCE_HEADER = "# vol_pipeline's CLI instance: SQLite storage in this folder, no server."
INSTANCE_YAML = INSTANCE_HEADER + """
telemetry:
  enabled: false
run_coordinator:
  module: dagster.core.run_coordinator
  class: QueuedRunCoordinator
  config:
    dequeue_interval_seconds: 1
    max_concurrent_runs: 4
    # One run per minute partition at a time: a minute's original run and its @rN revision
    # (both tagged dagster/partition) would otherwise interleave their table writes.
    tag_concurrency_limits:
      - key: dagster/partition
        value:
          applyLimitPerUniqueValue: true
        limit: 1
# The minute sensor ticks every 5 s (~17,000 ticks a day): the daemon deletes old ticks
# (skipped ones after a week, as Dagster does by default; ~120k rows, a few tens of MB).
# Runs and their event logs are pruned by the instance_retention schedule (README).
retention:
  schedule:
    purge_after_days: 30
  sensor:
    purge_after_days:
      skipped: 7
      failure: 30
      success: 30
# Minute runs start in a process that imported Dagster and the code before the minute closed
# (vol_pipeline/launcher); every other run, and a minute run when no such process is ready,
# gets a new process from Dagster's default launcher.
run_launcher:
  module: vol_pipeline.launcher
  class: WarmRunLauncher
  config:
    warm_jobs: [minute_job]
    spares: 1
# Dagster's SQLite event log with its connections kept open (vol_pipeline/dagster_storage.py):
# the same files and schema, without a new engine, a WAL checkpoint and an fsync per event.
event_log_storage:
  module: vol_pipeline.dagster_storage
  class: PooledSqliteEventLogStorage
  config:
    base_dir: {events_dir}
"""
# The CLI shows a progress bar; step-by-step logs stay in the instance (and the UI).
QUIET_RUN_CONFIG = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def cli_instance(settings: Settings) -> dg.DagsterInstance:
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    wanted = instance_yaml(home)
    # Written when missing, and rewritten when an older version of this file is there (the
    # header says it is the CLI's own); a file someone wrote by hand is left alone.
    if not config.exists() or (config.read_text().startswith(INSTANCE_HEADER) and config.read_text() != wanted):
        config.write_text(wanted)
    # A dagster.yaml written by hand (e.g. a copy of the repo's) may leave paths to
    # DAGSTER_HOME: they resolve against this instance's own directory, whatever the shell has.
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        return dg.DagsterInstance.from_config(str(home))
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def instance_yaml(dagster_home: Path) -> str:
    """The CLI's dagster.yaml for the instance in `dagster_home`."""
    return INSTANCE_YAML.format(events_dir=json.dumps(str(dagster_home / "history" / "runs")))


def contiguous_ranges(
    minutes: Iterable[datetime], max_minutes: int, key_order: Sequence[str] | None = None
) -> list[tuple[datetime, datetime]]:
    """Split market minutes into runs of consecutive market minutes (first, last), each at
    most `max_minutes` long: the ranges single-run materializations can cover. With
    `key_order` (the instance's minute keys, in Dagster's order) a run also never spans a
    break in that order (see defs/partitions.py)."""
    wanted = sorted(set(minutes))
    if not wanted:
        return []
    if key_order is None:
        market = market_minutes_between(wanted[0], wanted[-1] + timedelta(minutes=1))
        position = {m: i for i, m in enumerate(market)}
    else:
        index = {key: i for i, key in enumerate(key_order)}
        position = {m: index[partition_key(m)] for m in wanted}
    ranges: list[tuple[datetime, datetime]] = []
    first = previous = wanted[0]
    for minute in wanted[1:]:
        if position[minute] != position[previous] + 1 or position[minute] - position[first] >= max_minutes:
            ranges.append((first, previous))
            first = minute
        previous = minute
    ranges.append((first, previous))
    return ranges


def materialize_ranges(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    ranges: Sequence[tuple[datetime, datetime]],
    selection: Sequence[str] | None = None,
    on_progress: Callable[[int], None] = lambda minutes: None,
) -> list[dg.ExecuteInProcessResult]:
    """One in-process run of the minute job per range, in order (the cooldown reads the
    recommendations of earlier minutes); the ranges' minutes are added to the partitions
    first. Stops at the first failed run."""
    job = defs.resolve_job_def(MINUTE_JOB)
    register_minutes(instance, [m for first, last in ranges for m in market_minutes_between(first, last + timedelta(minutes=1))])
    keys = [dg.AssetKey(name) for name in selection] if selection else None
    results = []
    for first, last in ranges:
        tags = {**range_tags(first, last), "vol_pipeline/trigger": "cli"}
        result = execute_without_output_capture(job, instance, QUIET_RUN_CONFIG, tags, keys)
        results.append(result)
        if not result.success:
            break
        on_progress(len(market_minutes_between(first, last + timedelta(minutes=1))))
    return results


def materialize_news(defs: dg.Definitions, instance: dg.DagsterInstance, first_session: date | None = None,
                     last_session: date | None = None) -> dg.ExecuteInProcessResult:
    """One run of the news job: the configured source's items stored once and labelled
    (generated news: the sessions first..last)."""
    config = {"first_session": first_session.isoformat() if first_session else "",
              "last_session": last_session.isoformat() if last_session else ""}
    run_config = {**QUIET_RUN_CONFIG, "ops": {"news": {"config": config}}}
    return defs.resolve_job_def(NEWS_JOB).execute_in_process(
        instance=instance, run_config=run_config, tags={"vol_pipeline/trigger": "cli"}, raise_on_error=False)


def execute_without_output_capture(
    job: dg.JobDefinition, instance: dg.DagsterInstance, run_config: dict, tags: dict[str, str],
    asset_selection: Sequence[dg.AssetKey] | None,
) -> dg.ExecuteInProcessResult:
    """`job.execute_in_process(...)` minus its output capture, which keeps every step's output
    value in memory until the run ends (for `result.output_for_node`, unused here): a
    5,000-ticker session run held bars, lane_features, signals, ... at once, 2.5 GB peak
    (1.65 GB without). The same Dagster calls execute_in_process makes (dagster 1.13.27)."""
    from dagster._core.definitions.job_base import InMemoryJob
    from dagster._core.execution.execute_in_process import (
        core_execute_in_process, merge_run_tags, type_check_and_normalize_args,
    )

    run_config, op_selection, selection, resource_defs, _, input_values = type_check_and_normalize_args(
        run_config=run_config, partition_key=None, op_selection=None, asset_selection=asset_selection,
        input_values=None, resources=None)
    ephemeral = job.as_ephemeral_job(resource_defs=resource_defs, input_values=input_values,
                                     op_selection=op_selection, asset_selection=selection)
    return core_execute_in_process(
        job=InMemoryJob(job_def=ephemeral), run_config=run_config, instance=instance,
        output_capturing_enabled=False, raise_on_error=False,
        run_tags=merge_run_tags(job_def=job, partition_key=None, tags=tags, asset_selection=selection,
                                instance=instance, run_config=run_config),
        run_id=None, asset_selection=frozenset(selection),
    )


def plan_runs(instance: dg.DagsterInstance, minutes: Iterable[datetime], max_minutes: int) -> list[tuple[datetime, datetime]]:
    """Runs for `minutes`: every market minute of each session they touch, from the first to
    the last of them, is added to the partitions (a minute without bars is materialized
    empty), then split into ranges that are consecutive in time and in Dagster's key order."""
    wanted = sorted(set(minutes))
    if not wanted:
        return []
    sessions = {m.date() for m in wanted}  # UTC dates = New York dates during regular hours
    span = [m for m in market_minutes_between(wanted[0], wanted[-1] + timedelta(minutes=1)) if m.date() in sessions]
    register_minutes(instance, span)
    return contiguous_ranges(span, max_minutes, instance.get_dynamic_partitions(MINUTE_PARTITIONS))


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The first step failure of a run, as one line."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            error = event.step_failure_data.error
            while error.cause is not None and error.cls_name.startswith("Dagster"):
                error = error.cause
            return f"run {result.run_id} failed in {event.step_key}: {error.message.strip().splitlines()[0]}"
    return f"run {result.run_id} failed"


def materialize_session(defs: dg.Definitions, instance: dg.DagsterInstance, session: date) -> dg.ExecuteInProcessResult:
    """One run of the session job (outcomes, session_report) for `session`."""
    return defs.resolve_job_def(SESSION_JOB).execute_in_process(
        run_config=QUIET_RUN_CONFIG, instance=instance, partition_key=session.isoformat(),
        tags={"vol_pipeline/trigger": "cli"}, raise_on_error=False,
    )

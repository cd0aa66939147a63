"""`vol-pipeline doctor`: one line per concern, exit 1 when the pipeline is behind.

Reads the Dagster instance (DAGSTER_HOME when set, else the CLI's under VOL_PIPELINE_HOME)
and the warehouse; changes nothing. Concerns: the minute sensor (on/off, its cursor's lag),
the last minute materialized, how far behind the market clock that is, queued and running
runs, the instance's size, whether the warehouse answers, and the last retention run.
"""

from __future__ import annotations

import argparse
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from vol_pipeline.cli.context import settings_from_env, warehouse
from vol_pipeline.cli.errors import CliError
from vol_pipeline.settings import NEW_YORK

MAX_BEHIND_VAR = "VOL_PIPELINE_DOCTOR_MAX_BEHIND_MINUTES"
DEFAULT_MAX_BEHIND = 5
SENSOR, RETENTION, LAST_ASSET = "minute_sensor", "instance_retention", "executions"


def _max_behind() -> int:
    text = os.environ.get(MAX_BEHIND_VAR, str(DEFAULT_MAX_BEHIND))
    if not text.isdigit():
        raise CliError(f"{MAX_BEHIND_VAR} must be a whole number of market minutes, got {text!r}")
    return int(text)


def _local(moment: datetime) -> str:
    return moment.astimezone(NEW_YORK).strftime("%Y-%m-%d %H:%M New York")


def _ago(timestamp: float, now: datetime) -> str:
    seconds = max(0.0, now.timestamp() - timestamp)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit} ago"
    return f"{seconds:.0f} s ago"


def _open_instance(settings):
    import dagster as dg

    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get(), Path(os.environ["DAGSTER_HOME"])
    if not (settings.dagster_home / "dagster.yaml").exists():
        return None, settings.dagster_home
    from vol_pipeline.runs import cli_instance

    return cli_instance(settings), settings.dagster_home


def _sensor_line(instance, settings, now: datetime) -> str:
    from dagster._core.definitions.run_request import InstigatorType
    from dagster._core.scheduler.instigation import InstigatorStatus

    from vol_pipeline.core.health import closed_minutes_after
    from vol_pipeline.core.minute_requests import SensorCursor

    states = [s for s in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR) if s.name == SENSOR]
    default_on = settings.env == "prod"
    state = states[0] if states else None
    if state is None or state.status == InstigatorStatus.DECLARED_IN_CODE:
        status = "on (default)" if default_on else "off (default)"
    else:
        status = "on" if state.status == InstigatorStatus.RUNNING else "off"
    cursor = SensorCursor.from_json(state.instigator_data.cursor if state and state.instigator_data else None)
    if cursor.last is None:
        return f"{SENSOR}: {status}; no cursor yet (it has not ticked)"
    lag = closed_minutes_after(cursor.last, now)
    return f"{SENSOR}: {status}; cursor at {_local(cursor.last)}, {lag} closed market minute(s) after it"


def _last_minute(instance):
    """(minute, run id, timestamp) of the newest minute the chain's last asset has materialized
    (the newest in time, not the latest write: an older minute re-run later does not count)."""
    import dagster as dg

    from vol_pipeline.defs.partitions import minute_of_key, partition_key

    keys = instance.get_materialized_partitions(dg.AssetKey(LAST_ASSET))
    if not keys:
        return None
    minute = max(minute_of_key(key) for key in keys)
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(LAST_ASSET), asset_partitions=[partition_key(minute)]), limit=1).records
    return minute, records[0].run_id, records[0].timestamp


def _runs_line(instance) -> str:
    import dagster as dg

    from vol_pipeline.launcher import RUN_PROCESS_TAG

    queued = instance.get_runs_count(dg.RunsFilter(statuses=[dg.DagsterRunStatus.QUEUED]))
    running = instance.get_runs_count(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]))
    # Cold minute runs pay a new process (~3 s): many of them mean the spares are not keeping up.
    hour_ago = datetime.now(timezone.utc) - timedelta(hours=1)
    started = {kind: instance.get_runs_count(dg.RunsFilter(tags={RUN_PROCESS_TAG: kind}, created_after=hour_ago))
               for kind in ("warm", "cold")}
    return (f"runs: {queued} queued, {running} running; last hour: {started['warm']} started in a loaded process, "
            f"{started['cold']} in a new one")


def _size_line(home: Path) -> str:
    files = [p for p in home.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    return f"dagster instance: {home} ({total / 1e6:,.1f} MB in {len(files):,} files)"


def _warehouse_line(settings) -> str:
    if not settings.uses_postgres and not settings.warehouse_path.exists():
        return f"warehouse: no file yet at {settings.warehouse_path}"
    try:
        warehouse(settings).read("session_report", newest_first=1)
    except Exception as error:  # the line says what failed; doctor itself keeps going
        return f"warehouse: UNREACHABLE {settings.warehouse_location}: {str(error).splitlines()[0]}"
    return f"warehouse: reachable ({settings.warehouse_location})"


def _retention_line(instance, now: datetime) -> str:
    import dagster as dg

    runs = instance.get_run_records(dg.RunsFilter(tags={"dagster/schedule_name": RETENTION}), limit=1)
    if not runs:
        return f"retention: no {RETENTION} run recorded"
    run = runs[0]
    return f"retention: last {RETENTION} run {run.dagster_run.status.value.lower()} {_ago(run.create_timestamp.timestamp(), now)}"


def doctor(args: argparse.Namespace) -> str:
    from vol_pipeline.core.health import closed_minutes_after

    settings = settings_from_env()
    limit = _max_behind()
    now = datetime.now(timezone.utc)
    instance, home = _open_instance(settings)
    lines = []
    if instance is None:
        lines.append(f"dagster instance: none at {home} (run `vol-pipeline demo`, or set DAGSTER_HOME)")
        behind = None
    else:
        with instance:
            lines.append(_sensor_line(instance, settings, now))
            last = _last_minute(instance)
            if last is None:
                lines.append(f"last minute materialized: none ({LAST_ASSET} never materialized)")
                behind = None
            else:
                minute, run_id, timestamp = last
                behind = closed_minutes_after(minute, now)
                lines.append(f"last minute materialized: {_local(minute)} ({LAST_ASSET}, run {run_id[:8]}, "
                             f"{_ago(timestamp, now)})")
            lines.append(_runs_line(instance))
            lines.append(_retention_line(instance, now))
        lines.append(_size_line(home))
    lines.append(_warehouse_line(settings))
    verdict = (f"behind: {behind} closed market minute(s) since the last one materialized (limit {limit}, "
               f"{MAX_BEHIND_VAR})" if behind is not None else "behind: unknown (nothing materialized yet)")
    lines.insert(0, verdict)
    report = "\n".join(lines)
    if behind is None or behind > limit or "UNREACHABLE" in report:
        raise CliError("the pipeline is behind or unhealthy (see above)", code=1, report=report)
    return report

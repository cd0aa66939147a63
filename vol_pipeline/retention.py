"""Instance retention: what the Dagster instance forgets once it falls out of the partition
window, and the compaction after. The warehouse and the cold-history archive are never
touched: they are not reachable from here.

Deleted, for the window starting on `window_start` (midnight New York is the cutoff):
- every run created before the cutoff that is not queued or in progress, nor holds an
  asset's latest materialization, with its event
  log (Dagster's delete_run; the SQLite instance's per-run file goes with it) and its step
  logs (the compute log manager's files or S3 objects);
- the `market_minutes` partition keys of minutes before the window start (the sensor adds
  one per market minute, ~98k a year; nothing else removes them).
Then the SQLite files with many free pages are VACUUMed (PostgreSQL's autovacuum reuses the
space by itself).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg

from vol_pipeline.core.calendar import MARKET_TZ
from vol_pipeline.dagster_storage import vacuum_sqlite_files
from vol_pipeline.defs.partitions import MINUTE_PARTITIONS

IN_PROGRESS = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
               dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]
LOG_EVERY = 500  # runs deleted between progress lines
VACUUM_FREE_SHARE = 0.2  # VACUUM a file only when this share of its pages is free


@dataclass(frozen=True)
class RetentionResult:
    cutoff: datetime
    runs_deleted: int
    keys_deleted: int
    compacted: tuple[str, ...]  # SQLite files VACUUMed (those with >= 20% free pages)
    bytes_before: int | None  # the instance folder's size (SQLite instances only)
    bytes_after: int | None


def cutoff_of(window_start: date) -> datetime:
    """Midnight New York of the window's first day, in UTC."""
    return datetime.combine(window_start, time(), ZoneInfo(MARKET_TZ)).astimezone(timezone.utc)


def keys_before(keys: list[str], window_start: date) -> list[str]:
    """Minute keys (`2026-11-23-09:30`, New York dates) of days before the window start."""
    first = window_start.isoformat()
    return [key for key in keys if key[:10] < first]


def old_runs(cutoff: datetime) -> dg.RunsFilter:
    """Runs created before the cutoff, except those still queued or in progress."""
    return dg.RunsFilter(created_before=cutoff, statuses=[s for s in dg.DagsterRunStatus if s not in IN_PROGRESS])


def latest_materialization_runs(instance: dg.DagsterInstance) -> set[str]:
    """The runs holding each asset's latest materialization."""
    runs = set()
    for key in instance.get_asset_keys():
        event = instance.get_latest_materialization_event(key)
        if event is not None:
            runs.add(event.run_id)
    return runs


def sqlite_files(instance: dg.DagsterInstance) -> list[Path]:
    """The instance's SQLite databases (runs, the event log's index, schedules); none on PostgreSQL."""
    files = []
    for storage in (instance.run_storage, instance.schedule_storage):
        conn_string = getattr(storage, "_conn_string", "") or ""
        if conn_string.startswith("sqlite:///"):
            files.append(Path(conn_string.removeprefix("sqlite:///")))
    events = instance.event_log_storage
    if hasattr(events, "conn_string_for_shard"):
        files.append(Path(events.conn_string_for_shard("index").removeprefix("sqlite:///")))
    return [f for f in files if f.exists()]


def folder_bytes(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            total += path.stat().st_size if path.is_file() else 0
        except OSError:  # a -wal/-shm file that went away with its last connection
            continue
    return total


def prune_instance(instance: dg.DagsterInstance, window_start: date, dry_run: bool = False,
                   log: Callable[[str], None] = lambda _message: None) -> RetentionResult:
    cutoff = cutoff_of(window_start)
    home = Path(instance.root_directory) if instance.root_directory else None
    sqlite = sqlite_files(instance)
    before = folder_bytes(home) if home and sqlite else None
    # An asset's latest materialization stays, however old (an unpartitioned asset such as
    # rule_comparison, or news after a month off, would otherwise show as never materialized).
    keep = latest_materialization_runs(instance)
    runs = [r for r in instance.get_run_ids(old_runs(cutoff)) if r not in keep]
    keys = keys_before(instance.get_dynamic_partitions(MINUTE_PARTITIONS), window_start)
    log(f"{len(runs)} runs created before {cutoff.isoformat()} and {len(keys)} minute keys before {window_start}"
        + (" (dry run: nothing deleted)" if dry_run else ""))
    if dry_run:
        return RetentionResult(cutoff, len(runs), len(keys), (), before, before)
    for done, run_id in enumerate(runs, start=1):
        instance.delete_run(run_id)
        instance.compute_log_manager.delete_logs(prefix=[run_id])
        if done % LOG_EVERY == 0 or done == len(runs):
            log(f"deleted {done} of {len(runs)} runs")
    for key in keys:
        instance.delete_dynamic_partition(MINUTE_PARTITIONS, key)
    compacted = vacuum_sqlite_files(sqlite, VACUUM_FREE_SHARE)
    after = folder_bytes(home) if home and sqlite else None
    return RetentionResult(cutoff, len(runs), len(keys), tuple(str(f) for f in compacted), before, after)

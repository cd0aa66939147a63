"""Instance retention on the CLI's instance, with the real webserver reading it throughout:
runs from before the partition window go with their event logs, step logs and minute keys;
runs, keys and partition statuses inside the window stay, as the UI shows them; the warehouse
keeps every row."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg

from vol_pipeline.definitions import build_definitions
from vol_pipeline.defs.partitions import MINUTE_PARTITIONS
from vol_pipeline.defs.retention import RETENTION_JOB, RETENTION_SCHEDULE
from vol_pipeline.retention import cutoff_of, keys_before, prune_instance
from vol_pipeline.runs import cli_instance, materialize_ranges
from vol_pipeline.settings import Settings
from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse
from vol_pipeline_tests.webserver import running_webserver

WINDOW_START = date(2026, 11, 20)
OLD = [datetime(2026, 11, 18, 15, 0, tzinfo=timezone.utc) + timedelta(minutes=i) for i in range(2)]  # 10:00 New York
NEW = [datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc) + timedelta(minutes=i) for i in range(2)]
OLD_KEYS, NEW_KEYS = ["2026-11-18-10:00", "2026-11-18-10:01"], ["2026-11-23-10:00", "2026-11-23-10:01"]
STATUSES = """{ assetNodeOrError(assetKey: {path: ["recommendations"]}) { ... on AssetNode {
  partitionKeys
  assetPartitionStatuses { ... on DefaultPartitionStatuses { materializedPartitions failedPartitions } } } } }"""


def test_cutoff_is_midnight_new_york_and_keys_compare_by_their_date():
    assert cutoff_of(date(2026, 11, 20)) == datetime(2026, 11, 20, 5, 0, tzinfo=timezone.utc)
    assert cutoff_of(date(2026, 7, 1)) == datetime(2026, 7, 1, 4, 0, tzinfo=timezone.utc)  # summer time
    keys = ["2026-11-19-15:59", "2026-11-20-09:30", "2026-11-23-10:00"]
    assert keys_before(keys, date(2026, 11, 20)) == ["2026-11-19-15:59"]


def test_rolling_window_start_follows_the_day_it_runs():
    rolling = Settings.from_env({"VOL_PIPELINE_HOME": "/tmp/x"})
    fixed = Settings.from_env({"VOL_PIPELINE_HOME": "/tmp/x", "VOL_PIPELINE_PARTITION_START": "2026-01-05"})
    later = datetime(2027, 3, 1, 20, 30, tzinfo=timezone.utc)
    assert rolling.rolling_start and rolling.window_start(later) == date(2027, 1, 30)
    assert not fixed.rolling_start and fixed.window_start(later) == date(2026, 1, 5)


def backdate(instance: dg.DagsterInstance, run_id: str, created: datetime) -> None:
    """Give a finished run the creation time it would have had on its own day (Dagster's
    add_historical_run); its events stay under the same run id."""
    run = instance.get_run_by_id(run_id)
    instance.run_storage.delete_run(run_id)
    instance.run_storage.add_historical_run(run, created)


def test_retention_prunes_the_instance_outside_the_window_and_the_ui_stays_right(tmp_path):
    settings = Settings(home=tmp_path, partition_start=WINDOW_START, tickers=("AAPL", "MSFT"))
    defs = build_definitions(settings)
    with cli_instance(settings) as instance:
        runs = materialize_ranges(defs, instance, [(m, m) for m in OLD + NEW])
        assert all(r.success for r in runs)
        old_ids, new_ids = [r.run_id for r in runs[:2]], [r.run_id for r in runs[2:]]
        for run_id, minute in zip(old_ids, OLD):
            backdate(instance, run_id, minute.replace(tzinfo=None))
        new_events = {r: len(instance.all_logs(r)) for r in new_ids}
        event_files = instance.event_log_storage.path_for_shard
        step_logs = Path(instance.compute_log_manager._base_dir)
        assert all(Path(event_files(r)).exists() for r in old_ids) and (step_logs / old_ids[0]).exists()
    warehouse_before = DuckDBWarehouse(settings.warehouse_path).read("bars", OLD[0], NEW[-1] + timedelta(minutes=1))
    assert warehouse_before.filter(warehouse_before["ts"] < NEW[0]).height > 0

    with running_webserver(tmp_path) as server:
        before = server.graphql(STATUSES)["assetNodeOrError"]  # the UI caches these statuses
        assert before["assetPartitionStatuses"]["materializedPartitions"] == OLD_KEYS + NEW_KEYS

        with cli_instance(settings) as instance:
            job = defs.get_job_def(RETENTION_JOB)
            dry = job.execute_in_process(instance=instance, run_config={"ops": {"prune_instance_history": {"config": {"dry_run": True}}}})
            assert dry.success and instance.get_run_by_id(old_ids[0]) is not None
            assert _metadata(dry)["runs_deleted"] == 2 and _metadata(dry)["partition_keys_deleted"] == len(OLD_KEYS)

            result = job.execute_in_process(instance=instance)
            assert result.success
            meta = _metadata(result)
            # The two old runs; the dry run was created today, inside the window.
            assert meta["runs_deleted"] == 2 and meta["partition_keys_deleted"] == 2
            assert meta["instance_mb_after"] <= meta["instance_mb_before"]
            assert all(instance.get_run_by_id(r) is None for r in old_ids)
            assert all(instance.get_run_by_id(r) is not None for r in new_ids)
            assert not any(Path(event_files(r)).exists() for r in old_ids)
            assert not (step_logs / old_ids[0]).exists()
            assert instance.get_dynamic_partitions(MINUTE_PARTITIONS) == NEW_KEYS
            assert {r: len(instance.all_logs(r)) for r in new_ids} == new_events  # the window's runs keep every event

        after = server.graphql(STATUSES)["assetNodeOrError"]
        assert after["partitionKeys"] == NEW_KEYS
        assert after["assetPartitionStatuses"]["materializedPartitions"] == NEW_KEYS
        assert after["assetPartitionStatuses"]["failedPartitions"] == []

    # Never the warehouse: the old minutes' rows are all there.
    warehouse_after = DuckDBWarehouse(settings.warehouse_path).read("bars", OLD[0], NEW[-1] + timedelta(minutes=1))
    assert warehouse_after.equals(warehouse_before)


def _metadata(result: dg.ExecuteInProcessResult) -> dict:
    [output] = [e for e in result.all_events if e.is_successful_output]
    return {k: v.value for k, v in output.event_specific_data.metadata.items()}


def test_retention_schedule_runs_in_prod_and_is_stopped_locally(tmp_path):
    for env, status in (("local", dg.DefaultScheduleStatus.STOPPED), ("prod", dg.DefaultScheduleStatus.RUNNING)):
        settings = Settings(home=tmp_path, partition_start=WINDOW_START, env=env)
        schedule = build_definitions(settings).get_schedule_def(RETENTION_SCHEDULE)
        assert schedule.default_status == status
        assert schedule.job_name == RETENTION_JOB and schedule.execution_timezone == "America/New_York"


def test_an_assets_latest_materialization_is_kept_however_old(tmp_path):
    """An unpartitioned asset materialized once, before the window: its run stays (the UI
    would otherwise show it as never materialized); an older run of it goes."""

    @dg.asset
    def summary() -> int:
        return 1

    settings = Settings(home=tmp_path, partition_start=WINDOW_START)
    with cli_instance(settings) as instance:
        first, latest = (dg.materialize([summary], instance=instance).run_id for _ in range(2))
        backdate(instance, first, OLD[0].replace(tzinfo=None))
        backdate(instance, latest, OLD[1].replace(tzinfo=None))
        assert prune_instance(instance, WINDOW_START, dry_run=True).runs_deleted == 1
        result = prune_instance(instance, WINDOW_START)
        assert result.runs_deleted == 1
        assert instance.get_run_by_id(first) is None and instance.get_run_by_id(latest) is not None
        assert instance.get_latest_materialization_event(dg.AssetKey("summary")).run_id == latest

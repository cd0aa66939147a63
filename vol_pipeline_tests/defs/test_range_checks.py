"""A range run (what `demo`, `replay` and UI backfills launch) against single-minute runs
(what the sensor launches) over the same 40 minutes, on real on-disk instances:

- both store exactly the same rows in every minute table;
- the range run records every check for every minute's own partition, SUCCEEDED and
  current (targeting that minute's materialization), never once for the whole range;
- what the UI's asset graph computes from those records (Dagster's AssetCheckState) shows
  every minute of the range green, none in progress.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import dagster as dg
import polars as pl
import pytest
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecordStatus,
    AssetCheckExecutionResolvedStatus,
)
from polars.testing import assert_frame_equal

from vol_pipeline.core.calendar import market_minutes_back, market_minutes_between
from vol_pipeline.definitions import build_definitions
from vol_pipeline.defs.partitions import market_minute_partitions, partition_key, register_minutes
from vol_pipeline.runs import QUIET_RUN_CONFIG, cli_instance, failure_message, materialize_ranges
from vol_pipeline.settings import Settings
from vol_pipeline.storage.open import open_warehouse

OPEN = datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc)  # 09:30 New York
MINUTES = [OPEN + timedelta(minutes=i) for i in range(40)]
TICKERS = ("AAPL", "MSFT")
MINUTE_TABLES = ("bars", "bars_quarantine", "lane_features", "signals", "recommendations", "executions")
CHECKS = [dg.AssetCheckKey(dg.AssetKey(asset), name) for asset, name in (
    ("bars", "pandera_contract"), ("lane_features", "pandera_contract"), ("signals", "pandera_contract"),
    ("recommendations", "pandera_contract"), ("recommendations", "confidence_formula"),
    ("executions", "pandera_contract"))]


def _home(tmp_path_factory, name: str):
    settings = Settings(home=tmp_path_factory.mktemp(name), partition_start=date(2026, 11, 16), tickers=TICKERS)
    defs, instance = build_definitions(settings), cli_instance(settings)
    warm = market_minutes_between(market_minutes_back(OPEN, 240), OPEN)
    (result,) = materialize_ranges(defs, instance, [(warm[0], warm[-1])], selection=["bars", "bars_quarantine"])
    assert result.success, failure_message(result)
    return settings, defs, instance


@pytest.fixture(scope="module")
def ranged(tmp_path_factory):
    settings, defs, instance = _home(tmp_path_factory, "ranged")
    (result,) = materialize_ranges(defs, instance, [(MINUTES[0], MINUTES[-1])])
    assert result.success, failure_message(result)
    yield settings, instance, result.run_id
    instance.dispose()


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    settings, defs, instance = _home(tmp_path_factory, "single")
    job = defs.resolve_job_def("minute_job")
    register_minutes(instance, MINUTES)
    for minute in MINUTES:  # as the sensor launches them, oldest first
        result = job.execute_in_process(partition_key=partition_key(minute), instance=instance,
                                        run_config=QUIET_RUN_CONFIG, raise_on_error=False)
        assert result.success, failure_message(result)
    yield settings, instance
    instance.dispose()


def _table(settings: Settings, name: str) -> pl.DataFrame:
    frame = open_warehouse(settings.warehouse_path, None, None).read(name, MINUTES[0], MINUTES[-1] + timedelta(minutes=1))
    return frame.sort(frame.columns)


@pytest.mark.parametrize("name", MINUTE_TABLES)
def test_a_range_run_stores_what_single_minute_runs_store(ranged, single, name):
    expected = _table(single[0], name)
    assert_frame_equal(_table(ranged[0], name), expected)
    if name in ("bars", "lane_features", "signals"):
        assert expected.height >= len(TICKERS) * 30  # the comparison is not of empty tables


def test_every_minute_of_a_range_has_its_checks_recorded_for_its_partition(ranged):
    _, instance, run_id = ranged
    infos = instance.event_log_storage.get_asset_check_partition_info(CHECKS)
    wanted = {partition_key(m) for m in MINUTES}
    by_check: dict[dg.AssetCheckKey, dict] = {key: {} for key in CHECKS}
    for info in infos:
        assert info.partition_key is not None, info  # never one record for the whole range
        by_check[info.check_key][info.partition_key] = info
    for key in CHECKS:
        in_range = {pk: info for pk, info in by_check[key].items() if pk in wanted}
        assert set(in_range) == wanted, key
        assert {i.latest_execution_status for i in in_range.values()} == {AssetCheckExecutionRecordStatus.SUCCEEDED}, key
        assert all(i.is_current for i in in_range.values()), key  # targets that minute's materialization
        assert {i.latest_planned_run_id for i in in_range.values()} == {run_id}, key


def test_the_ui_check_state_shows_every_minute_of_the_range_green(ranged):
    _, instance, _ = ranged
    partitions = market_minute_partitions()
    wanted = {partition_key(m) for m in MINUTES}
    with partition_loading_context(dynamic_partitions_store=instance):
        states = instance.event_log_storage.get_asset_check_state([(key, partitions) for key in CHECKS])
        for key in CHECKS:
            subsets = states[key].subsets
            succeeded = set(subsets[AssetCheckExecutionResolvedStatus.SUCCEEDED].subset_value.get_partition_keys())
            assert wanted <= succeeded, key
            in_progress = subsets.get(AssetCheckExecutionResolvedStatus.IN_PROGRESS)
            assert in_progress is None or not list(in_progress.subset_value.get_partition_keys()), key

"""Faults seen by whole Dagster minute runs: the warehouse dies before or during a run, and
the same minute is launched twice at once by two processes.

Every run here is a real run of the code location's minute_job (build_definitions, the
in-process executor, our IO manager) on a real Dagster instance, writing to a real
PostgreSQL database or DuckDB file. Each warehouse first gets the same 240 minutes of
bar history, written directly, so the run's lane_features, signals, recommendations and
executions are not empty; the expected tables are those of one clean run of the minute
on a DuckDB warehouse (the `reference` fixture).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._serdes import serialize_value

from vol_pipeline.core.calendar import market_minutes_back
from vol_pipeline.core.config import DEFAULT_TICKERS
from vol_pipeline.definitions import build_definitions
from vol_pipeline.defs.partitions import minute_of_key, partition_key, register_minutes
from vol_pipeline.runs import QUIET_RUN_CONFIG, cli_instance, failure_message
from vol_pipeline.settings import Settings
from vol_pipeline.sources.synthetic import SyntheticBarSource
from vol_pipeline.storage import postgres_warehouse as pw
from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse
from vol_pipeline.storage.postgres_url import redacted
from vol_pipeline.storage.postgres_warehouse import PostgresWarehouse
from vol_pipeline_tests.faults.helpers import MINUTE, T0, assert_same_rows, password_of, target, with_netloc
from vol_pipeline_tests.faults.proxy import CutRule, FaultProxy

PARTITION_START = date(2026, 11, 16)
RUN_MINUTE = T0 + 6 * MINUTE  # 2026-11-23 09:36 New York: 7 bars, 3 recommendations, 3 executions
KEY = partition_key(RUN_MINUTE)
WINDOW = (RUN_MINUTE, RUN_MINUTE + MINUTE)
HISTORY_MINUTES = 240  # what lane_features reads behind a minute
MINUTE_TABLES = ("bars", "bars_quarantine", "lane_features", "watchlist", "signals", "recommendations", "executions")
ROOT = Path(__file__).resolve().parents[2]


def preload_history(store) -> None:
    """The 240 market minutes of bars before the run's minute, written directly (untimed setup)."""
    first = market_minutes_back(RUN_MINUTE, HISTORY_MINUTES)
    bars = SyntheticBarSource(tickers=DEFAULT_TICKERS, seed=7)  # the default Settings' bar source
    store.replace("bars", bars.fetch(first, RUN_MINUTE), first, RUN_MINUTE)


def minute_tables(store) -> dict[str, pl.DataFrame]:
    return {name: store.read(name, *WINDOW) for name in MINUTE_TABLES}


def run_minute(settings: Settings, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    job = build_definitions(settings).resolve_job_def("minute_job")
    register_minutes(instance, [minute_of_key(KEY)])
    return job.execute_in_process(partition_key=KEY, instance=instance, run_config=QUIET_RUN_CONFIG,
                                  raise_on_error=False)


def materialized(result: dg.ExecuteInProcessResult) -> set[str]:
    return {event.asset_key.path[-1] for event in result.get_asset_materialization_events()}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, pl.DataFrame]:
    """The minute's rows in every table after one clean run (DuckDB, its own instance)."""
    settings = Settings(home=tmp_path_factory.mktemp("reference"), partition_start=PARTITION_START)
    store = DuckDBWarehouse(settings.warehouse_path)
    preload_history(store)
    with dg.DagsterInstance.ephemeral() as instance:
        assert run_minute(settings, instance).success
    tables = minute_tables(store)
    empty = {name for name, frame in tables.items() if frame.is_empty()}
    # 09:36 is no 5-minute mark, so the watchlist writes its (empty) window too.
    assert empty == {"bars_quarantine", "watchlist"}, "the minute should leave rows in every other table"
    return tables


def assert_complete(store, reference: dict[str, pl.DataFrame]) -> None:
    for name, frame in minute_tables(store).items():
        assert_same_rows(frame, reference[name], name)


# --- 1. the PostgreSQL warehouse dies ---------------------------------------------------------------
@pytest.fixture
def pg_setup(migrated_postgres_url, tmp_path, monkeypatch):
    """(settings whose warehouse URL goes through a proxy, the proxy, a direct warehouse).
    Two connection attempts (0.5 s of backoff) instead of four: the full backoff is timed in
    test_warehouse_faults.py; here it would only add 3 s per failed run."""
    monkeypatch.setattr(pw, "CONNECT_ATTEMPTS", 2)
    direct = PostgresWarehouse(migrated_postgres_url)
    preload_history(direct)
    with FaultProxy(*target(migrated_postgres_url)) as proxy:
        url = with_netloc(migrated_postgres_url, proxy.port)
        yield Settings(home=tmp_path, partition_start=PARTITION_START, warehouse_url=url), proxy, direct


def test_a_minute_run_against_a_dead_warehouse_fails_clearly_and_writes_nothing(pg_setup, reference):
    settings, proxy, direct = pg_setup
    proxy.down()
    with dg.DagsterInstance.ephemeral() as instance:
        failed = run_minute(settings, instance)
        assert not failed.success
        message = failure_message(failed)
        location = redacted(settings.warehouse_url)
        assert f"warehouse {location} unreachable after {pw.CONNECT_ATTEMPTS} attempts" in message, message
        assert "failed in bars_from_source" in message  # the first write of the run
        events = serialize_value(list(instance.all_logs(failed.run_id)))
        secret = password_of(settings.warehouse_url)
        assert secret not in message and secret not in events
        assert materialized(failed) == set()
        assert {name: frame.height for name, frame in minute_tables(direct).items()} == dict.fromkeys(MINUTE_TABLES, 0)

        proxy.up()  # the server is back: re-running gives the complete partition
        assert run_minute(settings, instance).success
    assert_complete(direct, reference)


def test_a_warehouse_dying_mid_run_leaves_whole_tables_that_dagster_knows_about(pg_setup, reference):
    settings, proxy, direct = pg_setup
    # the server goes away as the run starts writing lane_features (after bars was written)
    proxy.cut(CutRule(marker=b"DELETE FROM lane_features", then_down=True))
    with dg.DagsterInstance.ephemeral() as instance:
        failed = run_minute(settings, instance)
        assert not failed.success
        message = failure_message(failed)
        assert "failed in lane_features: " in message and "unreachable after" in message, message
        stored = {name: frame.height > 0 for name, frame in minute_tables(direct).items()}
        # Each asset's window is written in one transaction, so a table holds the minute
        # completely or not at all, and exactly the assets Dagster recorded as materialized
        # have rows (bars_quarantine: materialized, but this minute has no rejected rows).
        assert materialized(failed) == {"bars", "bars_quarantine"}
        assert {name for name, has_rows in stored.items() if has_rows} == {"bars"}
        assert_same_rows(direct.read("bars", *WINDOW), reference["bars"], "bars")

        # Back, and one connection lost during the re-run: the write is retried, the run succeeds.
        proxy.log.cuts.clear()
        proxy.up()
        proxy.cut(CutRule(marker=b"INSERT INTO signals"))
        rerun = run_minute(settings, instance)
        assert rerun.success, failure_message(rerun)
        assert proxy.log.cuts == ["before 'INSERT INTO signals'"]
        assert materialized(rerun) == set(MINUTE_TABLES)
    assert_complete(direct, reference)


# --- 4. the same minute launched twice at once ------------------------------------------------------
# Expected, and found: both runs succeed and the tables hold one copy, equal to one run's.
# Dagster does not stop two runs of a partition (execute_in_process has no run key), so the
# warehouse must: every write replaces its window in one transaction, serialised per window
# (DuckDB: one process holds the file at a time, the other retries for up to 30 s;
# PostgreSQL: an advisory lock per table and window). Both runs compute the same rows from
# the same inputs, so whichever replace lands last leaves the same window.
def race_two_runs(home: Path, url: str | None) -> list[dict]:
    """Two OS processes run the minute on the same instance and warehouse, released together
    once both have loaded; returns each run's outcome."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("VOL_PIPELINE_WAREHOUSE_URL", None)
    if url:
        env["VOL_PIPELINE_WAREHOUSE_URL"] = url
    go_file = home / "go"
    argv = [sys.executable, "-m", "vol_pipeline_tests.faults.workers", "run-minute", str(home),
            PARTITION_START.isoformat(), KEY, str(go_file)]
    processes = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    for process in processes:
        assert process.stdout.readline().strip() == "ready", process.stderr.read()
    go_file.touch()
    outcomes = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        outcomes.append(json.loads(out.strip().splitlines()[-1]))
    return outcomes


def assert_both_succeeded_overlapping(outcomes: list[dict], instance: dg.DagsterInstance) -> None:
    assert [o["success"] for o in outcomes] == [True, True], [o["message"] for o in outcomes]
    first, second = sorted(outcomes, key=lambda o: o["began"])
    assert second["began"] < first["ended"], "the two runs did not overlap"
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/partition": KEY}))
    assert sorted(r.run_id for r in runs) == sorted(o["run_id"] for o in outcomes)
    assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}


def test_the_same_minute_run_twice_at_once_on_duckdb_leaves_one_copy(tmp_path, reference):
    settings = Settings(home=tmp_path, partition_start=PARTITION_START)
    preload_history(DuckDBWarehouse(settings.warehouse_path))
    cli_instance(settings).dispose()  # the instance exists, as it does once anything ran
    outcomes = race_two_runs(tmp_path, None)
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        assert_both_succeeded_overlapping(outcomes, instance)
    assert_complete(DuckDBWarehouse(settings.warehouse_path), reference)


def test_the_same_minute_run_twice_at_once_on_postgres_leaves_one_copy(migrated_postgres_url, tmp_path, reference):
    settings = Settings(home=tmp_path, partition_start=PARTITION_START, warehouse_url=migrated_postgres_url)
    direct = PostgresWarehouse(migrated_postgres_url)
    preload_history(direct)
    cli_instance(settings).dispose()
    outcomes = race_two_runs(tmp_path, migrated_postgres_url)
    with dg.DagsterInstance.from_config(str(settings.dagster_home)) as instance:
        assert_both_succeeded_overlapping(outcomes, instance)
    assert_complete(direct, reference)

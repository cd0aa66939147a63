"""vol_pipeline/dagster_storage.py: Dagster's event logs with pooled connections.

- the embedded SQLite one writes a range run's events in batches, and what it stores is
  what Dagster's own storage stores one event at a time (every row that a query or the UI
  reads: events per type, asset and partition, check executions, materialized partitions);
- it is Dagster's file layout and schema: an instance written by either class is read
  by the other;
- the PostgreSQL one (production) reuses its connections and commits asynchronously.
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import pytest
import sqlalchemy as db

from vol_pipeline.core.calendar import market_minutes_back, market_minutes_between
from vol_pipeline.dagster_storage import PooledPostgresEventLogStorage, PooledSqliteEventLogStorage
from vol_pipeline.definitions import build_definitions
from vol_pipeline.runs import failure_message, materialize_ranges
from vol_pipeline.settings import Settings

OPEN = datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc)
ASSETS = ("bars", "lane_features", "signals", "recommendations", "executions")
DAGSTER_DEFAULT_YAML = "telemetry:\n  enabled: false\n"  # Dagster's own SQLite storage


def _replay(home: Path, instance: dg.DagsterInstance) -> None:
    """60 minutes of bars, then a 20-minute range of the whole chain: one range run."""
    settings = Settings(home=home, partition_start=date(2026, 11, 16), tickers=("AAPL",))
    defs = build_definitions(settings)
    warm = market_minutes_between(market_minutes_back(OPEN, 60), OPEN)
    for first, last, selection in ((warm[0], warm[-1], ["bars", "bars_quarantine"]), (OPEN, OPEN + timedelta(minutes=19), None)):
        (result,) = materialize_ranges(defs, instance, [(first, last)], selection=selection)
        assert result.success, failure_message(result)


def _instance(dagster_home: Path, yaml_text: str, monkeypatch) -> dg.DagsterInstance:
    dagster_home.mkdir(parents=True, exist_ok=True)
    (dagster_home / "dagster.yaml").write_text(yaml_text)
    monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
    return dg.DagsterInstance.from_config(str(dagster_home))


POOLED_YAML = DAGSTER_DEFAULT_YAML + (
    "event_log_storage:\n  module: vol_pipeline.dagster_storage\n  class: PooledSqliteEventLogStorage\n")


def _stored(dagster_home: Path, instance: dg.DagsterInstance) -> dict:
    with sqlite3.connect(dagster_home / "history" / "runs" / "index.db") as con:
        events = con.execute("SELECT dagster_event_type, asset_key, partition, count(*) FROM event_logs "
                             "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3").fetchall()
        checks = con.execute("SELECT asset_key, check_name, partition, execution_status, "
                             "materialization_event_storage_id IS NOT NULL FROM asset_check_executions "
                             "ORDER BY 1, 2, 3").fetchall()
        tags = con.execute("SELECT key, count(*) FROM asset_event_tags GROUP BY 1 ORDER BY 1").fetchall()
    materialized = {a: sorted(instance.get_materialized_partitions(dg.AssetKey(a))) for a in ASSETS}
    return {"events": events, "checks": checks, "tags": tags, "materialized": materialized}


def test_batched_writes_store_what_one_by_one_writes_store(tmp_path, monkeypatch):
    results = {}
    for batch_size in ("0", "1000"):  # 0: Dagster stores every event on its own
        monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", batch_size)
        home = tmp_path / f"batch_{batch_size}"
        with _instance(home / "dagster", POOLED_YAML, monkeypatch) as instance:
            assert isinstance(instance.event_log_storage, PooledSqliteEventLogStorage)
            _replay(home, instance)
            results[batch_size] = _stored(home / "dagster", instance)
    assert results["1000"] == results["0"]
    materialized = results["0"]["materialized"]
    assert len(materialized["bars"]) == 60 + 20 and all(len(materialized[a]) == 20 for a in ASSETS[1:])
    assert len(results["0"]["checks"]) >= 20 * 6


@pytest.mark.parametrize("writer, reader", [(DAGSTER_DEFAULT_YAML, POOLED_YAML), (POOLED_YAML, DAGSTER_DEFAULT_YAML)])
def test_either_storage_reads_what_the_other_wrote(tmp_path, monkeypatch, writer, reader):
    home = tmp_path / "home"
    with _instance(home / "dagster", writer, monkeypatch) as instance:
        _replay(home, instance)
        written = _stored(home / "dagster", instance)
        runs = sorted(r.run_id for r in instance.get_runs())
    with _instance(home / "dagster", reader, monkeypatch) as instance:
        assert sorted(r.run_id for r in instance.get_runs()) == runs
        assert _stored(home / "dagster", instance) == written
        assert all(instance.all_logs(run_id) for run_id in runs)


def test_sqlite_engines_stay_open_and_bounded(tmp_path):
    storage = PooledSqliteEventLogStorage(str(tmp_path / "runs"))
    try:
        for i in range(12):
            with storage.run_connection(f"run{i}") as conn:
                conn.execute(db.text("SELECT 1"))
        assert len(storage._engines) <= 9  # the index and the 8 most recent run files
        assert list(storage._engines)[-1] == "run11"
        with storage.index_connection() as first:
            pid = first.connection.dbapi_connection
        with storage.index_connection() as second:
            assert second.connection.dbapi_connection is pid  # the same open connection
            assert second.execute(db.text("PRAGMA synchronous")).scalar() == 1  # NORMAL
    finally:
        storage.dispose()
    assert storage._engines == {}


def test_the_postgres_event_log_reuses_connections_and_commits_asynchronously(postgres_url):
    storage = PooledPostgresEventLogStorage(postgres_url)
    try:
        with storage.index_connection() as conn:
            backend = conn.execute(db.text("SELECT pg_backend_pid()")).scalar()
            assert conn.execute(db.text("SHOW synchronous_commit")).scalar() == "off"
        with storage.index_connection() as conn:
            assert conn.execute(db.text("SELECT pg_backend_pid()")).scalar() == backend
        with dg.instance_for_test() as instance:  # it stores and reads events like its parent class
            storage.register_instance(instance)
            event = dg.EventLogEntry(error_info=None, level="INFO", user_message="hello", run_id="r1",
                                     timestamp=datetime.now(timezone.utc).timestamp())
            storage.store_event(event)
            assert [e.user_message for e in storage.get_logs_for_run("r1")] == ["hello"]
    finally:
        storage.dispose()

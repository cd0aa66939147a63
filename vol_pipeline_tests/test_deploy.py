"""Production wiring on one machine: deploy/dagster.yaml through dagster-postgres, the minute
and session jobs writing to a PostgreSQL warehouse, compute logs and cold history in S3 and
the warehouse URL from Secrets Manager, against moto's server on loopback (never AWS)."""

from __future__ import annotations

import io
import shutil
import sys
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import boto3
import dagster as dg
import polars as pl
import psycopg2
import pytest

from vol_pipeline.core.calendar import market_minutes_back
from vol_pipeline.definitions import build_definitions
from vol_pipeline.defs.archive import archive_key
from vol_pipeline.runs import materialize_ranges, materialize_session
from vol_pipeline.secrets import secret_string
from vol_pipeline.settings import Settings
from vol_pipeline.sources.synthetic import SyntheticBarSource
from vol_pipeline.storage.open import open_warehouse
from vol_pipeline.storage.postgres_warehouse import PostgresWarehouse
from vol_pipeline.storage.tables import TABLES

DEPLOY_INSTANCE = Path(__file__).resolve().parents[1] / "deploy" / "dagster.yaml"
SESSION = date(2026, 11, 23)
OPEN = datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc)  # 09:30 New York
MINUTE = timedelta(minutes=1)


@pytest.fixture
def buckets(aws_env):
    logs, history = f"vp-logs-{uuid.uuid4().hex[:8]}", f"vp-history-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=logs)
    s3.create_bucket(Bucket=history)
    return logs, history


@pytest.fixture
def production_instance(tmp_path, monkeypatch, postgres_url, buckets):
    """An instance loaded from deploy/dagster.yaml (a copy in its own DAGSTER_HOME)."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY_INSTANCE, home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_PG_URL", postgres_url)
    monkeypatch.setenv("VOL_PIPELINE_LOG_BUCKET", buckets[0])
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


def s3_keys(bucket: str, prefix: str = "") -> list[str]:
    listed = boto3.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for item in listed.get("Contents", [])]


def test_the_production_instance_file_uses_postgres_ecs_and_s3(production_instance):
    instance = production_instance
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"
    assert type(instance.event_log_storage).__name__ == "PooledPostgresEventLogStorage"  # dagster-postgres's, pooled
    assert type(instance.schedule_storage).__name__ == "PostgresScheduleStorage"
    assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    assert type(instance.run_launcher).__name__ == "WarmRunLauncher"  # minute and news runs; the rest to ECS
    assert type(instance.run_launcher.fallback).__name__ == "EcsRunLauncher"
    assert type(instance.compute_log_manager).__name__ == "S3ComputeLogManager"
    assert instance.run_monitoring_enabled and instance.run_retries_enabled and instance.run_retries_max_retries == 2


def test_production_starts_minute_and_news_runs_in_loaded_processes_and_the_rest_as_ecs_tasks(
    production_instance, monkeypatch
):
    """The routing of each job of the code location with production's launcher settings: no
    ECS call is made (the ECS launcher's launch is recorded), no process is started (the
    spare pool's hand-over is recorded; the real pool runs in test_warm_launcher)."""
    from dagster._core.code_pointer import ModuleCodePointer
    from dagster._core.launcher import LaunchRunContext
    from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin

    from vol_pipeline.launcher import RUN_PROCESS_TAG

    launcher = production_instance.run_launcher
    assert launcher.pool.size == 2
    to_ecs, to_spares = [], []
    monkeypatch.setattr(launcher.fallback, "launch_run", lambda context: to_ecs.append(context.dagster_run.job_name))

    def hand_over(run_id, key, argv, cwd):
        to_spares.append(production_instance.get_run_by_id(run_id).job_name)
        assert argv[1:3] == ["-m", "vol_pipeline.launcher.spare"]
        return 4242, ""

    monkeypatch.setattr(launcher.pool, "hand_over", hand_over)
    repository = build_definitions(Settings(home=Path("unused"), partition_start=date(2026, 11, 16))).get_repository_def()
    code = RepositoryPythonOrigin(sys.executable, ModuleCodePointer("vol_pipeline.definitions", "defs", None))
    tags = {}
    for job in repository.get_all_jobs():  # every job, the UI's ad-hoc __ASSET_JOB included
        run = production_instance.add_run(dg.DagsterRun(job.name, job_code_origin=JobPythonOrigin(job.name, code)))
        launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
        tags[job.name] = production_instance.get_run_by_id(run.run_id).tags[RUN_PROCESS_TAG]
    assert {"__ASSET_JOB", "instance_retention_job"} <= set(to_ecs)
    assert sorted(to_spares) == ["minute_job", "news_job"]
    assert "session_job" in to_ecs and not set(to_ecs) & {"minute_job", "news_job"}
    assert {name: tag for name, tag in tags.items() if tag == "warm"} == {"minute_job": "warm", "news_job": "warm"}


def test_the_repo_root_instance_stays_serverless():
    text = (DEPLOY_INSTANCE.parents[1] / "dagster.yaml").read_text()
    assert "postgres" not in text and "Ecs" not in text


def test_minute_and_session_jobs_on_postgres_record_runs_logs_and_archive(
    tmp_path, production_instance, migrated_postgres_url, buckets
):
    logs_bucket, history_bucket = buckets
    settings = Settings(home=tmp_path / "home", partition_start=date(2026, 11, 16), warehouse_url=migrated_postgres_url,
                        tickers=("AAPL", "MSFT"), archive_bucket=history_bucket)
    defs = build_definitions(settings)
    warm = (market_minutes_back(OPEN, 60), market_minutes_back(OPEN, 1))
    runs = materialize_ranges(defs, production_instance, [warm], selection=["bars", "bars_quarantine"])
    runs += materialize_ranges(defs, production_instance, [(OPEN, OPEN + 29 * MINUTE)])
    session = materialize_session(defs, production_instance, SESSION)
    assert all(r.success for r in runs) and session.success

    # Every run is in the PostgreSQL run storage of the instance database.
    with psycopg2.connect(production_instance.run_storage.postgres_url) as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT run_id, status FROM runs")
            stored = dict(cursor.fetchall())
    assert {r.run_id for r in [*runs, session]} <= set(stored)
    assert {stored[r.run_id] for r in [*runs, session]} == {"SUCCESS"}

    # The chain wrote to the PostgreSQL warehouse.
    warehouse = PostgresWarehouse(migrated_postgres_url)
    window = (OPEN, OPEN + 30 * MINUTE)
    expected_bars = SyntheticBarSource(tickers=settings.tickers, seed=settings.seed).fetch(*window)
    stored_bars = warehouse.read("bars", *window)
    assert stored_bars.height == expected_bars.height > 0
    assert stored_bars.sort("ticker", "ts").equals(expected_bars.select(stored_bars.columns).sort("ticker", "ts"))
    assert warehouse.read("lane_features", *window).height == stored_bars.height
    assert warehouse.read("session_report", equals={"session_date": SESSION.isoformat()}).height == 1

    # Step logs went to the S3 log bucket.
    log_keys = s3_keys(logs_bucket, "dagster/compute-logs/")
    assert any(session.run_id in key for key in log_keys)

    # Cold history: one Parquet file per table, equal to the warehouse's rows of the session.
    bars_key = archive_key(settings.archive_prefix, "bars", SESSION.isoformat())
    assert set(s3_keys(history_bucket)) == {archive_key(settings.archive_prefix, t, SESSION.isoformat()) for t in TABLES}
    body = boto3.client("s3").get_object(Bucket=history_bucket, Key=bars_key)["Body"].read()
    archived = pl.read_parquet(io.BytesIO(body))
    assert archived.sort("ticker", "ts").equals(warehouse.read("bars", OPEN, OPEN + 390 * MINUTE).sort("ticker", "ts"))


def test_the_warehouse_url_can_come_from_secrets_manager(aws_env, migrated_postgres_url):
    name = f"vol-pipeline/warehouse-{uuid.uuid4().hex[:8]}"
    boto3.client("secretsmanager").create_secret(Name=name, SecretString=migrated_postgres_url)
    warehouse = open_warehouse("/nonexistent/warehouse.duckdb", None, name)
    assert isinstance(warehouse, PostgresWarehouse)
    assert warehouse.read("bars").is_empty()
    assert secret_string(name) == migrated_postgres_url


def test_a_missing_secret_names_the_secret_not_a_value(aws_env):
    from vol_pipeline.secrets import SecretError

    with pytest.raises(SecretError, match="vol-pipeline/does-not-exist"):
        secret_string("vol-pipeline/does-not-exist")

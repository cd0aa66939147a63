"""The real `vol-pipeline` console script against PostgreSQL: `db status|upgrade`, `replay`
into the PostgreSQL warehouse (twice: idempotent; and once into the embedded DuckDB one:
the same rows), `status` and `export`, and the URL's password never printed.

The scenario runs once per test session into a shared folder (also under pytest-xdist):
the commands' outputs and snapshots of the database tables (taken with psycopg2, apart
from the warehouse code) are recorded there, the database is dropped, and the tests read
the records.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from contextlib import closing
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import dagster as dg
import polars as pl
import psycopg2
import pytest
from dagster._serdes import serialize_value
from polars.testing import assert_frame_equal

from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse
from vol_pipeline.storage.migrate import migrations
from vol_pipeline.storage.postgres_url import redacted
from vol_pipeline.storage.postgres_warehouse import PostgresWarehouse
from vol_pipeline.storage.tables import TABLES
from vol_pipeline_tests.postgres_server import create_database, drop_database
from vol_pipeline_tests.shared_fixtures import built_once

EXE = Path(sys.executable).parent / "vol-pipeline"
URL_VAR = "VOL_PIPELINE_WAREHOUSE_URL"
FAKE_PASSWORD = "not-a-real-secret"  # the local server trusts; libpq sends it only if asked
CUT_BEFORE = "2026-11-23T15:30"  # the first 60 minutes of the session (14:30-15:29 UTC)
MINUTE_TABLES = ("bars", "lane_features", "signals", "recommendations", "executions")
TIMEOUT = 240

pytestmark = pytest.mark.skipif(not EXE.exists(), reason="vol-pipeline console script not installed next to python")


# --- running the command ---------------------------------------------------------------------------
def clean_env(home: Path, url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOL_PIPELINE_")}
    env["VOL_PIPELINE_HOME"] = str(home)
    if url:
        env[URL_VAR] = url
    return env


def start(argv: list, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([str(EXE), *map(str, argv)], env=env, cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def finish(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=TIMEOUT)
    return {"code": proc.returncode, "stdout": out, "stderr": err}


def run(argv: list, env: dict[str, str], cwd: Path) -> dict:
    return finish(start(argv, env, cwd))


def run_all(commands: dict[str, tuple[list, dict]], cwd: Path) -> dict[str, dict]:
    procs = {name: start(argv, env, cwd) for name, (argv, env) in commands.items()}
    return {name: finish(proc) for name, proc in procs.items()}


def with_password(url: str, password: str, port: int | None = None) -> str:
    """`url` with `password` (and optionally another port) in its network location."""
    parts = urlsplit(url)
    user = parts.username or "postgres"
    netloc = f"{user}:{password}@{parts.hostname}:{port or parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- snapshots taken apart from the warehouse code --------------------------------------------------
def table_rows(url: str) -> dict[str, list]:
    """Every row of every table as JSON (all columns but lane_features.computed_at, the
    time of the write), sorted: what "identical content" is compared on."""
    rows = {}
    with closing(psycopg2.connect(url)) as connection, connection.cursor() as cursor:
        for name in TABLES:
            cursor.execute(f"SELECT (to_jsonb(t) - 'computed_at')::text AS r FROM {name} t ORDER BY r")
            rows[name] = [json.loads(r) for (r,) in cursor.fetchall()]
    return rows


def save_reads(store, folder: Path) -> None:
    folder.mkdir(parents=True)
    for name in TABLES:
        store.read(name).write_parquet(folder / f"{name}.parquet")


def dagster_findings(home: Path, secret: str) -> dict:
    """Whether the secret is anywhere in the CLI's Dagster instance (files, run records and the
    job snapshots stored with the runs, which hold the resources' config)."""
    in_files = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file() and secret.encode() in p.read_bytes())
    with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
        runs = instance.get_runs()
        snapshots = [serialize_value(instance.get_job_snapshot(r.job_snapshot_id)) for r in runs]
        records = [serialize_value(r) for r in runs]
    return {
        "runs": len(runs),
        "files_with_secret": in_files,
        "snapshots_with_secret": sum(secret in s for s in snapshots),
        "snapshots_with_env_var": sum(json.dumps({"env": URL_VAR})[1:-1] in s.replace('\\"', '"') for s in snapshots),
        "records_with_secret": sum(secret in r for r in records),
    }


# --- the scenario, built once -------------------------------------------------------------------------
def _build(work: Path, admin_url: str) -> None:
    database = create_database(admin_url)
    password = urlsplit(admin_url).password or FAKE_PASSWORD
    url = with_password(database, password)
    results: dict[str, object] = {"password": password, "location": redacted(url)}
    try:
        pg_home, duck_home = work / "pg_home", work / "duck_home"
        pg_env, duck_env, no_url_env = clean_env(pg_home, url), clean_env(duck_home), clean_env(pg_home)
        unreachable = with_password(database, password, port=free_port())
        malformed = with_password(database, "s3c#ret-pw")

        results["generate"] = run(["generate", "--tickers", "AAPL,MSFT", "--start", "2026-11-23", "--days", 1,
                                   "--out", work / "full.csv"], duck_env, work)
        lines = (work / "full.csv").read_text().splitlines(keepends=True)
        ts_column = lines[0].strip().split(",").index("ts")
        kept = [line for line in lines[1:] if line.split(",")[ts_column] < CUT_BEFORE]
        (work / "cut.csv").write_text(lines[0] + "".join(kept))

        results["db_status_pending"] = run(["db", "status"], pg_env, work)
        results["db_upgrade_1"] = run(["db", "upgrade"], pg_env, work)
        results["db_upgrade_2"] = run(["db", "upgrade"], pg_env, work)
        results.update(run_all({
            "db_status_applied": (["db", "status"], pg_env),
            "db_status_no_url": (["db", "status"], no_url_env),
            "db_upgrade_no_url": (["db", "upgrade"], no_url_env),
            "db_status_unreachable": (["db", "status"], clean_env(pg_home, unreachable)),
            "db_upgrade_unreachable": (["db", "upgrade"], clean_env(pg_home, unreachable)),
            "db_status_malformed": (["db", "status"], clean_env(pg_home, malformed)),
        }, work))

        duck_replay = start(["replay", "--bars", work / "cut.csv"], duck_env, work)  # meanwhile, in DuckDB
        results["replay_1"] = run(["replay", "--bars", work / "cut.csv"], pg_env, work)
        results["rows_1"] = table_rows(url)
        save_reads(PostgresWarehouse(url), work / "pg_1")
        results["replay_2"] = run(["replay", "--bars", work / "cut.csv"], pg_env, work)
        results["rows_2"] = table_rows(url)
        save_reads(PostgresWarehouse(url), work / "pg_2")
        results["replay_duck"] = finish(duck_replay)
        save_reads(DuckDBWarehouse(duck_home / "warehouse.duckdb"), work / "duck")

        results.update(run_all({
            "status": (["status"], pg_env),
            "export_lane_features": (["export", "lane_features", "--out", work / "export" / "lane_features.parquet"],
                                     pg_env),
            "export_recommendations_csv": (["export", "recommendations", "--out", work / "export" / "recs.csv"],
                                           pg_env),
        }, work))
        results["dagster"] = dagster_findings(pg_home, password)
    finally:
        drop_database(admin_url, database)
    (work / "results.json").write_text(json.dumps(results, default=str))


class Scenario:
    def __init__(self, work: Path):
        self.work = work
        self.results = json.loads((work / "results.json").read_text())
        self.password = self.results["password"]
        self.location = self.results["location"]

    def __getitem__(self, name: str):
        return self.results[name]

    def table(self, name: str, when: str) -> pl.DataFrame:
        return pl.read_parquet(self.work / when / f"{name}.parquet")

    def commands(self) -> dict[str, dict]:
        return {k: v for k, v in self.results.items() if isinstance(v, dict) and "code" in v}


@pytest.fixture(scope="module")
def cli(tmp_path_factory, postgres_admin_url) -> Scenario:
    return Scenario(built_once(tmp_path_factory, "cli_postgres", lambda work: _build(work, postgres_admin_url)))


def ok(result: dict) -> dict:
    assert result["code"] == 0, result
    assert "Traceback" not in result["stderr"], result["stderr"]
    return result


def one_error_line(result: dict, code: int) -> str:
    assert result["code"] == code, result
    lines = result["stderr"].strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result["stderr"]
    return lines[0]


def normalised(frame: pl.DataFrame, name: str) -> pl.DataFrame:
    canonical = lambda text: json.dumps(json.loads(text), sort_keys=True)  # noqa: E731
    return frame.with_columns(pl.col(c).map_elements(canonical, return_dtype=pl.String) for c in TABLES[name].json_columns)


# --- db status / upgrade ----------------------------------------------------------------------------------
def test_db_status_of_a_new_database_lists_every_migration_as_pending(cli):
    out = ok(cli["db_status_pending"])["stdout"]
    versions = [m.version for m in migrations()]
    assert len(versions) == 9
    assert out.splitlines()[0] == f"warehouse {cli.location}: schema migrations"
    for version in versions:
        assert f"  {version}: PENDING" in out
    assert out.strip().endswith("9 pending - run `vol-pipeline db upgrade`")


def test_db_upgrade_applies_them_and_a_second_upgrade_applies_nothing(cli):
    versions = [m.version for m in migrations()]
    first = ok(cli["db_upgrade_1"])["stdout"].strip()
    assert first == f"warehouse {cli.location}: applied 9 migration(s): {', '.join(versions)}"
    second = ok(cli["db_upgrade_2"])["stdout"].strip()
    assert second == f"warehouse {cli.location}: schema up to date, nothing applied"

    status = ok(cli["db_status_applied"])["stdout"]
    assert "PENDING" not in status
    for version in versions:
        assert f"  {version}: applied 20" in status
    assert status.strip().endswith("0 pending")


@pytest.mark.parametrize("command", ["db_status_no_url", "db_upgrade_no_url"])
def test_db_commands_without_a_url_exit_2_with_a_clear_message(cli, command):
    line = one_error_line(cli[command], 2)
    assert URL_VAR in line and "PostgreSQL" in line
    assert cli[command]["stdout"] == ""


@pytest.mark.parametrize("command", ["db_status_unreachable", "db_upgrade_unreachable"])
def test_db_commands_on_an_unreachable_server_exit_1_naming_the_location_only(cli, command):
    line = one_error_line(cli[command], 1)
    parts = urlsplit(cli.location)
    assert line.startswith(f"error: warehouse postgresql://{parts.hostname}:")
    assert cli.password not in line


# --- replay into PostgreSQL ----------------------------------------------------------------------------------
def test_replay_writes_the_minute_tables_to_postgres(cli):
    result = ok(cli["replay_1"])
    assert ok(cli["generate"])
    assert f"Replayed 60 market minutes of {cli.work / 'cut.csv'} into {cli.location}: 1 run(s) of minute_job" \
        in result["stdout"]
    counts = {name: len(rows) for name, rows in cli["rows_1"].items()}
    cut_rows = len((cli.work / "cut.csv").read_text().splitlines()) - 1
    assert counts["bars"] == cut_rows
    for name in MINUTE_TABLES:
        assert counts[name] > 0, counts
    assert counts["bars_quarantine"] == 0
    assert counts["signals"] == counts["lane_features"]
    assert counts["executions"] == counts["recommendations"]
    for name in ("bars", "lane_features", "signals", "recommendations"):
        assert f"  {name}: {counts[name]} rows" in result["stdout"]
    statuses = {row["status"] for row in cli["rows_1"]["executions"]}
    assert statuses == {"SIMULATED", "SKIPPED"}


def test_replay_stores_reason_and_gates_as_json_documents(cli):
    for row in cli["rows_1"]["recommendations"]:
        assert isinstance(row["reason"], dict) and "volume" in row["reason"]
    for row in cli["rows_1"]["executions"]:
        assert isinstance(row["gates"], (dict, list)) and row["gates"]


def test_replaying_again_leaves_every_table_identical(cli):
    ok(cli["replay_2"])
    first, second = cli["rows_1"], cli["rows_2"]
    assert {n: len(r) for n, r in second.items()} == {n: len(r) for n, r in first.items()}
    for name in TABLES:
        assert second[name] == first[name], f"{name} changed on the second replay"
    for name in TABLES:
        assert_frame_equal(cli.table(name, "pg_2"), cli.table(name, "pg_1"))


def test_the_duckdb_replay_produces_the_same_rows(cli):
    ok(cli["replay_duck"])
    assert f"into {cli.work / 'duck_home' / 'warehouse.duckdb'}" in cli["replay_duck"]["stdout"]
    pg_recs, duck_recs = cli.table("recommendations", "pg_1"), cli.table("recommendations", "duck")
    assert pg_recs["id"].to_list() == duck_recs["id"].to_list()
    assert pg_recs["confidence"].to_list() == pytest.approx(duck_recs["confidence"].to_list(), rel=1e-12)
    pg_exec, duck_exec = cli.table("executions", "pg_1"), cli.table("executions", "duck")
    assert pg_exec.select("recommendation_id", "status").rows() == duck_exec.select("recommendation_id", "status").rows()
    for name in TABLES:
        try:
            assert_frame_equal(normalised(cli.table(name, "pg_1"), name), normalised(cli.table(name, "duck"), name),
                               rel_tol=1e-12, abs_tol=1e-12)
        except AssertionError as error:
            raise AssertionError(f"{name}: PostgreSQL and DuckDB differ: {error}") from None


# --- status and export ------------------------------------------------------------------------------------------
def test_status_reads_postgres(cli):
    out = ok(cli["status"])["stdout"]
    assert out.startswith(f"warehouse: {cli.location}\n")
    features = cli.table("lane_features", "pg_1")
    for ticker in ("AAPL", "MSFT"):
        mine = features.filter(pl.col("ticker") == ticker)
        row = next(line for line in out.splitlines() if line.strip("│ ").startswith(f"{ticker} "))
        cells = [c.strip() for c in row.strip("│ ").split("┆")]
        assert cells[:4] == [ticker, str(mine.height), str(mine["volume_ratio"].is_not_null().sum()),
                             str(mine["volume_surge"].sum())]
    for rec_id in cli.table("recommendations", "pg_1")["id"]:
        assert rec_id in out


def test_export_reads_postgres(cli):
    result = ok(cli["export_lane_features"])
    exported = pl.read_parquet(cli.work / "export" / "lane_features.parquet")
    assert exported.height > 0
    assert result["stdout"].startswith(f"wrote {exported.height} rows of lane_features from {cli.location} to ")
    assert_frame_equal(exported, cli.table("lane_features", "pg_2"))
    ok(cli["export_recommendations_csv"])
    csv = pl.read_csv(cli.work / "export" / "recs.csv", schema=TABLES["recommendations"].columns)
    assert_frame_equal(normalised(csv, "recommendations"), normalised(cli.table("recommendations", "pg_2"), "recommendations"))


# --- the password is never shown ------------------------------------------------------------------------------
def test_no_command_prints_the_password(cli):
    commands = cli.commands()
    assert len(commands) >= 15
    leaking = [name for name, r in commands.items()
               if name != "db_status_malformed" and cli.password in r["stdout"] + r["stderr"]]
    assert not leaking
    for name in ("db_status_pending", "db_upgrade_1", "replay_1", "replay_2", "status", "export_lane_features"):
        assert cli.location in cli[name]["stdout"], name


def test_the_dagster_instance_never_stores_the_password(cli):
    found = cli["dagster"]
    assert found["runs"] >= 2  # two replays of one run each
    assert found["files_with_secret"] == []
    assert found["snapshots_with_secret"] == 0
    assert found["records_with_secret"] == 0
    assert found["snapshots_with_env_var"] == found["runs"]  # the URL is configured as the variable's name


def test_a_malformed_url_never_shows_its_password(cli):
    """A password with an unencoded '#' (s3c#ret-pw): the URL cannot be parsed, which is
    worth an error line, but the password (or its start, "s3c") must not be printed."""
    result = cli["db_status_malformed"]
    output = result["stdout"] + result["stderr"]
    assert "s3c" not in output, output.strip().splitlines()[-1]
    assert "Traceback" not in result["stderr"]
    assert result["code"] in (1, 2)


# --- the Definitions keep the URL as an EnvVar ----------------------------------------------------------------
def test_definitions_keep_the_url_from_the_environment_as_an_env_var(tmp_path, monkeypatch):
    from dagster._core.remote_representation.external_data import RepositorySnap

    from vol_pipeline.definitions import build_definitions
    from vol_pipeline.settings import Settings

    secret = "hunter2-not-real"
    url = f"postgresql://vp:{secret}@127.0.0.1:5/x"  # never connected to

    def exposures(defs: dg.Definitions) -> list[str]:
        texts = {
            "resources repr": repr(defs.resources),
            **{f"{job} snapshot": serialize_value(defs.resolve_job_def(job).get_job_snapshot())
               for job in ("minute_job", "session_job")},
            "repository snapshot": serialize_value(RepositorySnap.from_def(defs.get_repository_def())),
        }
        return [name for name, text in texts.items() if secret in text]

    monkeypatch.setenv(URL_VAR, url)
    settings = Settings.from_env({"VOL_PIPELINE_HOME": str(tmp_path), "VOL_PIPELINE_PARTITION_START": "2026-11-16",
                                  URL_VAR: url})
    assert secret not in repr(settings)
    defs = build_definitions(settings)
    warehouse = defs.resources["warehouse"]
    assert isinstance(warehouse.url, dg.EnvVar)
    assert warehouse.url.env_var_name == URL_VAR
    assert isinstance(defs.resources["io_manager"].warehouse.url, dg.EnvVar)
    assert exposures(defs) == []
    snapshot = serialize_value(defs.resolve_job_def("minute_job").get_job_snapshot())
    assert URL_VAR in snapshot

    # control: a URL that does not come from the environment is kept as a plain string, and
    # then the same checks do see it (so they would catch a leak)
    monkeypatch.delenv(URL_VAR)
    plain = build_definitions(Settings(home=tmp_path, partition_start=date(2026, 11, 16), warehouse_url=url))
    assert not isinstance(plain.resources["warehouse"].url, dg.EnvVar)
    assert "minute_job snapshot" in exposures(plain)

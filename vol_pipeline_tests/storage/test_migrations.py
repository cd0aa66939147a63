"""The PostgreSQL schema migrations: order, bookkeeping, idempotency, drift detection, the
resulting schema (the issue's contract), concurrent upgrades and a failing migration.

Every test gets a fresh database from the `postgres_url` / `migrated_postgres_url` fixtures.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import time
from contextlib import closing
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import psycopg2
import pytest

from vol_pipeline.storage import migrate
from vol_pipeline.storage.migrate import UPGRADE_LOCK, migrations, status, upgrade
from vol_pipeline.storage.postgres_warehouse import PostgresWarehouse
from vol_pipeline.storage.tables import TABLES

EXPECTED_VERSIONS = [
    "001_bars",
    "002_lane_features",
    "003_volume_features",
    "004_signals_recommendations",
    "005_executions",
    "006_outcomes_session_report",
    "007_bar_provenance_revisions",
    "008_news_watchlist",
    "009_lane_features_by_day",
]
# polars type of a TABLES column -> the PostgreSQL types (information_schema.data_type) that hold it
COMPATIBLE = {
    pl.String: {"text"},
    pl.Float64: {"double precision", "numeric"},
    pl.Int64: {"bigint"},
    pl.Int32: {"integer"},
    pl.Boolean: {"boolean"},
}


# --- helpers ----------------------------------------------------------------------------------
def query(url: str, sql: str, params: tuple = ()) -> list[tuple]:
    with closing(psycopg2.connect(url)) as connection, connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall() if cursor.description else []
        connection.commit()
        return rows


def recorded(url: str) -> list[tuple[str, datetime, str]]:
    return query(url, "SELECT version, applied_at, checksum FROM schema_migrations ORDER BY version")


def exists(url: str, relation: str) -> bool:
    return query(url, "SELECT to_regclass(%s) IS NOT NULL", (relation,))[0][0]


def columns(url: str, table_name: str) -> dict[str, tuple]:
    rows = query(
        url,
        "SELECT column_name, data_type, numeric_precision, numeric_scale, is_nullable"
        " FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s",
        (table_name,),
    )
    return {name: tuple(rest) for name, *rest in rows}


def schema_snapshot(url: str) -> list[tuple]:
    """Every column, index and view of the public schema (what an upgrade could change)."""
    cols = query(url, "SELECT table_name, column_name, data_type, column_default, is_nullable"
                      " FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2")
    indexes = query(url, "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1")
    views = query(url, "SELECT viewname, definition FROM pg_views WHERE schemaname = 'public' ORDER BY 1")
    return [*cols, *indexes, *views]


@pytest.fixture
def migrations_copy(tmp_path, monkeypatch) -> Path:
    """A copy of the migrations folder that `migrations()` reads instead of the package's."""
    folder = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, folder)
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", folder)
    return folder


# --- the migration files ------------------------------------------------------------------------
def test_the_package_ships_the_migrations_in_order():
    found = migrations()
    assert [m.version for m in found] == EXPECTED_VERSIONS
    for m in found:
        text = (migrate.MIGRATIONS_DIR / f"{m.version}.sql").read_text()
        assert m.sql == text
        assert m.checksum == hashlib.sha256(text.encode()).hexdigest()[:16]


# --- upgrade ------------------------------------------------------------------------------------
def test_upgrade_of_an_empty_database_applies_every_migration_in_order(postgres_url):
    assert not exists(postgres_url, "schema_migrations")
    started = datetime.now(timezone.utc)

    applied = upgrade(postgres_url)

    assert applied == EXPECTED_VERSIONS
    rows = recorded(postgres_url)
    assert [version for version, _, _ in rows] == EXPECTED_VERSIONS
    by_file = {m.version: m.checksum for m in migrations()}
    for version, applied_at, checksum in rows:
        assert checksum == by_file[version], version
        assert len(checksum) == 16 and int(checksum, 16) >= 0
        assert started - timedelta(seconds=5) <= applied_at <= datetime.now(timezone.utc) + timedelta(seconds=5)
    # applied one after the other, in file-name order (each in its own transaction)
    times = [applied_at for _, applied_at, _ in rows]
    assert times == sorted(times)


def test_a_second_upgrade_applies_nothing_and_changes_nothing(migrated_postgres_url):
    url = migrated_postgres_url
    bookkeeping, schema = recorded(url), schema_snapshot(url)

    assert upgrade(url) == []
    assert upgrade(url) == []

    assert recorded(url) == bookkeeping  # same rows, same applied_at, same checksums
    assert schema_snapshot(url) == schema


def test_upgrade_keeps_the_data_already_in_the_tables(migrated_postgres_url):
    url = migrated_postgres_url
    query(url, "INSERT INTO bars VALUES ('AAPL', '2026-11-23 14:30+00', 1, 2, 0.5, 1.5, 100)")
    assert upgrade(url) == []
    assert query(url, "SELECT ticker, volume FROM bars") == [("AAPL", 100)]


def test_status_before_and_after_upgrade(postgres_url):
    before = status(postgres_url)
    assert [s.version for s in before] == EXPECTED_VERSIONS
    assert all(s.applied_at is None and not s.changed for s in before)
    assert not exists(postgres_url, "schema_migrations"), "status must not create anything"

    upgrade(postgres_url)

    after = status(postgres_url)
    assert [s.version for s in after] == EXPECTED_VERSIONS
    applied_at = {version: when for version, when, _ in recorded(postgres_url)}
    for state in after:
        assert state.applied_at == applied_at[state.version]
        assert not state.changed


def test_status_shows_a_new_migration_as_pending(migrated_postgres_url, migrations_copy):
    (migrations_copy / "999_extra.sql").write_text("CREATE TABLE IF NOT EXISTS extra (x INTEGER);\n")
    states = {s.version: s for s in status(migrated_postgres_url)}
    assert states["999_extra"].applied_at is None
    assert all(states[v].applied_at is not None for v in EXPECTED_VERSIONS)

    assert upgrade(migrated_postgres_url) == ["999_extra"]
    assert status(migrated_postgres_url)[-1].applied_at is not None
    assert exists(migrated_postgres_url, "extra")


def test_a_migration_file_changed_after_it_was_applied_is_flagged_and_not_reapplied(
    migrated_postgres_url, migrations_copy
):
    url = migrated_postgres_url
    bookkeeping, schema = recorded(url), schema_snapshot(url)
    edited = migrations_copy / "003_volume_features.sql"
    edited.write_text(edited.read_text() + "\nALTER TABLE lane_features ADD COLUMN IF NOT EXISTS sneaky INTEGER;\n")

    states = {s.version: s for s in status(url)}
    assert states["003_volume_features"].changed
    assert states["003_volume_features"].applied_at is not None
    assert [v for v, s in states.items() if s.changed] == ["003_volume_features"]

    assert upgrade(url) == []  # never re-applied
    assert recorded(url) == bookkeeping  # the checksum of what was applied is kept
    assert schema_snapshot(url) == schema
    assert "sneaky" not in columns(url, "lane_features")
    assert status(url)[2].changed  # still flagged


def test_a_deleted_migration_file_does_not_break_status(migrated_postgres_url, migrations_copy):
    (migrations_copy / "009_lane_features_by_day.sql").unlink()
    states = status(migrated_postgres_url)
    assert [s.version for s in states] == EXPECTED_VERSIONS[:-1]
    assert upgrade(migrated_postgres_url) == []


# --- the resulting schema: the contract ---------------------------------------------------
def test_lane_features_volume_columns_have_the_contract_types(migrated_postgres_url):
    cols = columns(migrated_postgres_url, "lane_features")
    assert cols["volume_current"][:1] == ("bigint",)
    assert cols["volume_avg_20"][:1] == ("bigint",)
    assert cols["volume_ratio"][:3] == ("numeric", 10, 4)
    assert cols["volume_surge"][:1] == ("boolean",)
    for name in ("volume_current", "volume_avg_20", "volume_ratio", "volume_surge"):
        assert cols[name][3] == "YES", f"{name} must be nullable (no volume data for early bars)"


def test_volume_index_is_on_ticker_ts_volume_ratio(migrated_postgres_url):
    rows = query(migrated_postgres_url,
                 "SELECT tablename, indexdef FROM pg_indexes WHERE indexname = 'idx_lane_features_volume'")
    assert len(rows) == 1
    tablename, indexdef = rows[0]
    assert tablename == "lane_features"
    assert indexdef.endswith("USING btree (ticker, ts, volume_ratio)"), indexdef


def test_volume_comments_document_the_columns(migrated_postgres_url):
    rows = dict(query(
        migrated_postgres_url,
        "SELECT a.attname, col_description(a.attrelid, a.attnum) FROM pg_attribute a"
        " WHERE a.attrelid = 'lane_features'::regclass AND a.attname LIKE 'volume%%'",
    ))
    assert "2.0" in rows["volume_ratio"] and "surge" in rows["volume_ratio"]
    assert rows["volume_surge"] and rows["volume_avg_20"]


@pytest.mark.parametrize("table_name, column", [("recommendations", "reason"), ("executions", "gates"),
                                                ("session_report", "report")])
def test_json_columns_are_jsonb(migrated_postgres_url, table_name, column):
    assert columns(migrated_postgres_url, table_name)[column][0] == "jsonb"
    assert TABLES[table_name].json_columns == (column,)


def test_every_table_exists_with_at_least_its_columns_in_compatible_types(migrated_postgres_url):
    for name, tbl in TABLES.items():
        cols = columns(migrated_postgres_url, name)
        assert cols, f"table {name} missing"
        missing = [c for c in tbl.columns if c not in cols]
        assert not missing, f"{name} lacks {missing}"
        for column, dtype in tbl.columns.items():
            pg_type = cols[column][0]
            if column in tbl.json_columns:
                assert pg_type == "jsonb", (name, column)
            elif isinstance(dtype, pl.Datetime):
                assert pg_type == "timestamp with time zone", (name, column, pg_type)
            else:
                assert pg_type in COMPATIBLE[dtype.base_type()], (name, column, dtype, pg_type)


def test_lane_telemetry_view_returns_the_rows_of_bars(migrated_postgres_url):
    url = migrated_postgres_url
    cols = query(url, "SELECT column_name FROM information_schema.columns"
                      " WHERE table_name = 'lane_telemetry' ORDER BY ordinal_position")
    assert [c for (c,) in cols] == ["ticker", "ts", "open", "high", "low", "close", "volume"]
    t0 = datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc)
    frame = pl.DataFrame(
        {"ticker": ["AAPL", "MSFT", "AAPL"], "ts": [t0, t0, t0 + timedelta(minutes=1)],
         "open": [1.5, 2.5, 3.5], "high": [2.0, 3.0, 4.0], "low": [1.0, 2.0, 3.0], "close": [1.75, 2.75, 3.75],
         "volume": [100, None, 300], "feed": ["iex"] * 3, "fetched_at": [t0 + timedelta(minutes=2)] * 3},
        schema=TABLES["bars"].columns,
    )
    PostgresWarehouse(url).replace("bars", frame, t0, t0 + timedelta(minutes=2))
    order = " ORDER BY ticker, ts"
    through_view = query(url, "SELECT ticker, ts, open, high, low, close, volume FROM lane_telemetry" + order)
    assert through_view == query(url, "SELECT ticker, ts, open, high, low, close, volume FROM bars" + order)
    assert [(r[0], r[1], r[6]) for r in through_view] == [
        ("AAPL", t0, 100), ("AAPL", t0 + timedelta(minutes=1), 300), ("MSFT", t0, None)]


# --- two upgrades at once ----------------------------------------------------------------------------
def test_concurrent_upgrades_both_succeed_and_apply_each_migration_once(postgres_url):
    workers = 3
    barrier = threading.Barrier(workers)
    results: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=10)
            results[i] = upgrade(postgres_url)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors, errors
    assert len(results) == workers
    applied = [version for versions in results.values() for version in versions]
    assert sorted(applied) == EXPECTED_VERSIONS  # every migration applied by exactly one upgrade
    assert sorted(len(v) for v in results.values()) == [0] * (workers - 1) + [len(EXPECTED_VERSIONS)]
    assert [v for v, _, _ in recorded(postgres_url)] == EXPECTED_VERSIONS


def test_upgrade_waits_for_the_upgrade_lock(postgres_url):
    """While another session holds the upgrade lock, an upgrade applies nothing; it proceeds on release."""
    holder = psycopg2.connect(postgres_url)
    try:
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", (UPGRADE_LOCK,))
        outcome: dict[str, object] = {}
        thread = threading.Thread(target=lambda: outcome.setdefault("applied", upgrade(postgres_url)))
        thread.start()
        time.sleep(0.8)
        assert thread.is_alive(), "upgrade did not wait for the lock"
        assert not exists(postgres_url, "schema_migrations")
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", (UPGRADE_LOCK,))
        thread.join(timeout=30)
        assert outcome["applied"] == EXPECTED_VERSIONS
    finally:
        holder.close()


# --- a failing migration -------------------------------------------------------------------------------
BROKEN_SQL = """
CREATE TABLE half_applied (x INTEGER);
ALTER TABLE bars ADD COLUMN half_column INTEGER;
INSERT INTO half_applied VALUES (1);
SELECT * FROM no_such_table;
"""


def test_a_failing_last_migration_leaves_the_earlier_ones_applied_and_itself_unrecorded(
    postgres_url, migrations_copy
):
    (migrations_copy / "999_broken.sql").write_text(BROKEN_SQL)

    with pytest.raises(psycopg2.Error, match="no_such_table"):
        upgrade(postgres_url)

    assert [v for v, _, _ in recorded(postgres_url)] == EXPECTED_VERSIONS
    assert not exists(postgres_url, "half_applied"), "the failing migration was half-applied"
    assert "half_column" not in columns(postgres_url, "bars")
    states = {s.version: s for s in status(postgres_url)}
    assert states["999_broken"].applied_at is None
    assert all(states[v].applied_at is not None for v in EXPECTED_VERSIONS)

    # the lock was released with the failed upgrade's connection; a fixed file is applied alone
    (migrations_copy / "999_broken.sql").write_text("CREATE TABLE half_applied (x INTEGER);\n")
    assert upgrade(postgres_url) == ["999_broken"]
    assert exists(postgres_url, "half_applied")
    assert query(postgres_url, "SELECT count(*) FROM half_applied") == [(0,)]


def test_a_failing_migration_in_the_middle_stops_the_upgrade_there(postgres_url, migrations_copy):
    (migrations_copy / "003b_broken.sql").write_text(BROKEN_SQL)

    with pytest.raises(psycopg2.Error):
        upgrade(postgres_url)

    assert [v for v, _, _ in recorded(postgres_url)] == EXPECTED_VERSIONS[:3]
    assert not exists(postgres_url, "half_applied")
    assert not exists(postgres_url, "signals")  # the later migrations were not run either
    pending = [s.version for s in status(postgres_url) if s.applied_at is None]
    assert pending == ["003b_broken", *EXPECTED_VERSIONS[3:]]

"""Versioned, idempotent schema migrations for the PostgreSQL warehouse.

The scripts in `migrations/` run in file-name order, each in its own transaction together
with its row in `schema_migrations` (version, applied_at, checksum), so a migration is
either fully applied and recorded or not at all. An advisory lock serialises concurrent
upgrades (two containers starting at once). Re-running applies nothing. A recorded
migration whose file changed afterwards is reported by `status`, never re-applied.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from vol_pipeline.storage.postgres_url import driver_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
UPGRADE_LOCK = 7_461_001  # pg_advisory_lock key held while upgrading

CREATE_SCHEMA_MIGRATIONS = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version TEXT PRIMARY KEY,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    checksum TEXT NOT NULL
)"""


@dataclass(frozen=True)
class Migration:
    version: str  # file name without .sql, e.g. "003_volume_features"
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class MigrationState:
    version: str
    applied_at: datetime | None  # None: pending
    changed: bool  # applied, but the file no longer matches what was applied


def migrations() -> list[Migration]:
    return [Migration(path.stem, path.read_text()) for path in sorted(MIGRATIONS_DIR.glob("*.sql"))]


def _connect(url: str):
    import psycopg2  # migrations are multi-statement scripts: simple query protocol

    return psycopg2.connect(driver_url(url))


def _recorded(cursor) -> dict[str, tuple[datetime, str]]:
    cursor.execute("SELECT version, applied_at, checksum FROM schema_migrations")
    return {version: (applied_at, checksum) for version, applied_at, checksum in cursor.fetchall()}


def upgrade(url: str) -> list[str]:
    """Apply every pending migration; returns the versions applied (empty when up to date)."""
    applied: list[str] = []
    connection = _connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", (UPGRADE_LOCK,))
            cursor.execute(CREATE_SCHEMA_MIGRATIONS)
            connection.commit()
            done = _recorded(cursor)
            for migration in migrations():
                if migration.version in done:
                    continue
                cursor.execute(migration.sql)
                cursor.execute("INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
                               (migration.version, migration.checksum))
                connection.commit()
                applied.append(migration.version)
            cursor.execute("SELECT pg_advisory_unlock(%s)", (UPGRADE_LOCK,))
            connection.commit()
    except Exception:
        connection.rollback()
        raise
    finally:
        connection.close()
    return applied


def status(url: str) -> list[MigrationState]:
    """Every known migration with when it was applied (None = pending)."""
    connection = _connect(url)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
            done = _recorded(cursor) if cursor.fetchone()[0] else {}
    finally:
        connection.close()
    states = []
    for migration in migrations():
        applied_at, checksum = done.get(migration.version, (None, None))
        states.append(MigrationState(migration.version, applied_at, checksum is not None and checksum != migration.checksum))
    return states

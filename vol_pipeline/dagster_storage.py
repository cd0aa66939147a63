"""Dagster's SQLite event log, with its connections kept open (the embedded instance's storage).

Dagster's own SqliteEventLogStorage builds a new SQLAlchemy engine for every read and write
and disposes of it afterwards. Measured on a one-session replay (7,000 events, 2 cores):
most of the run went into that churn, not into the compute: a new engine per call also
means no compiled-statement cache, and closing the last connection to a WAL database
checkpoints the whole log to the main file, i.e. every event paid for a checkpoint.

This subclass keeps one engine per database file (the cross-run index, and the few most
recent run files), so statements are compiled once and the WAL is checkpointed by SQLite
as it grows. Everything else - schema, files, queries, locking - is Dagster's: an instance
written by this class is a plain SQLite instance, and the other way round.

`synchronous=NORMAL` (WAL): a commit no longer waits for fsync. The database cannot be
corrupted by a crash; an operating-system crash or power loss may lose the last few events
of the run history (never warehouse data). Production uses PostgreSQL (deploy/dagster.yaml).

Used through dagster.yaml (`event_log_storage`), so the webserver and the daemon get it too.
`vacuum_sqlite_files` is the compaction instance retention runs on these files.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import sqlalchemy as db
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.schema import SqlEventLogStorageTable
from dagster import Field, StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from dagster_postgres.event_log.event_log import PostgresEventLogStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config

# Dagster hands range runs' events to store_event_batch only when this is set (per process,
# read at every event): every process that opens this storage writes with it.
os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", "1000")
RUN_FILES_KEPT_OPEN = 8  # a long-lived daemon or webserver would otherwise hold every run's file


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """SqliteEventLogStorage whose engines live as long as the storage (see the module doc)."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, db.engine.Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        self._tables_seen: set[str] = set()
        super().__init__(base_dir or _default_base_dir(), inst_data)

    @classmethod
    def config_type(cls):
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> "PooledSqliteEventLogStorage":
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> db.engine.Engine:
        with self._engines_lock:
            engine = self._engines.pop(shard, None)
            if engine is None:
                engine = db.create_engine(
                    self.conn_string_for_shard(shard), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
                    pool_size=1, max_overflow=4,
                )
                db.event.listen(engine, "connect", _set_pragmas)
            self._engines[shard] = engine  # most recently used last
            while len(self._engines) > RUN_FILES_KEPT_OPEN + 1:
                self._engines.popitem(last=False)[1].dispose()
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[db.engine.Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn:
                with conn.begin():
                    yield conn

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """A range run's planned and done materializations (one per minute and asset) in two
        transactions, where Dagster's SQLite storage stores them one by one (several commits
        each). The rows are those store_event writes, in the same order. Dagster sends batches
        only when DAGSTER_EVENT_BATCH_SIZE > 0 (set below)."""
        if len(events) < 2 or len({e.run_id for e in events}) != 1:
            return super().store_event_batch(events)
        rows = [self._event_to_row(event) for event in events]
        with self.run_connection(events[0].run_id) as conn:
            conn.execute(SqlEventLogStorageTable.insert(), rows)
        asset_rows = [(e, row) for e, row in zip(events, rows) if e.is_dagster_event and e.dagster_event_type in ASSET_EVENTS]
        if asset_rows:
            with self.index_transaction() as conn:
                ids = conn.execute(SqlEventLogStorageTable.insert().returning(
                    SqlEventLogStorageTable.c.id, sort_by_parameter_order=True), [row for _, row in asset_rows]).scalars().all()
                asset_events = [e for e, _ in asset_rows]
                self._store_asset_event_tags(conn, asset_events, ids)
                # The asset row keeps only an asset's latest event of each kind, so only those
                # are written (as dagster-postgres's batch does), in their original order.
                last = {(e.dagster_event.asset_key, e.dagster_event_type): i for i, e in enumerate(asset_events)}
                for i in sorted(last.values()):
                    self._store_asset_event(conn, asset_events[i], ids[i])
        for event, row in zip(events, rows):
            if event.is_dagster_event and event.dagster_event_type in ASSET_CHECK_EVENTS:
                with self.index_connection() as conn:
                    event_id = conn.execute(SqlEventLogStorageTable.insert().values(**row)).inserted_primary_key[0]
                self.store_asset_check_event(event, event_id)

    def has_table(self, table_name: str) -> bool:
        # Dagster asks this before every asset check event (a new engine each time); a table,
        # once there, stays.
        if table_name not in self._tables_seen:
            with self._engine(INDEX_SHARD_NAME).connect() as conn:
                if conn.dialect.has_table(conn, table_name):
                    self._tables_seen.add(table_name)
        return table_name in self._tables_seen

    def delete_events(self, run_id: str) -> None:
        """Dagster empties the run's file; its file goes too (instance retention deletes a
        run a minute, ~98k files a year otherwise)."""
        super().delete_events(run_id)
        with self._engines_lock:
            engine = self._engines.pop(run_id, None)
        if engine is not None:
            engine.dispose()
        self._initialized_dbs.discard(run_id)
        for suffix in ("", "-wal", "-shm"):
            try:
                os.remove(self.path_for_shard(run_id) + suffix)
            except FileNotFoundError:
                pass

    def _dispose_engines(self) -> None:
        with self._engines_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        self._dispose_engines()  # wipe deletes the files
        self._tables_seen.clear()
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()


def _set_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _asynchronous_commits(dbapi_connection, _record) -> None:
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit TO OFF")
    dbapi_connection.commit()


def _default_base_dir() -> str:
    """Where Dagster's default SQLite storage keeps event logs: $DAGSTER_HOME/history/runs."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise ValueError("PooledSqliteEventLogStorage needs base_dir or DAGSTER_HOME")
    return os.path.join(home, "history", "runs")


class PooledPostgresEventLogStorage(PostgresEventLogStorage):
    """dagster-postgres's event log (production) with a small connection pool and
    asynchronous commits.

    Its own opens a new connection (TCP + authentication) for every read and write, and
    each event's commit waits for the WAL flush; a range run writes ~7,000 events.
    Measured on a 2-session replay: 171 s -> 83 s pooled (Dagster pools the same way in the
    webserver, optimize_for_webserver) -> 42 s with `synchronous_commit=off` for these
    connections only: PostgreSQL stays consistent; a server crash may lose the last
    fraction of a second of run-history events (the warehouse is another database and
    commits normally).
    """

    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True, inst_data=None, token_provider=None):
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        self._engine.dispose()
        self._engine = create_pg_engine(self.postgres_url, self._token_provider, isolation_level="AUTOCOMMIT",
                                        pool_size=1, max_overflow=4, pool_recycle=3600, pool_pre_ping=True)
        db.event.listen(self._engine, "connect", _asynchronous_commits)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> "PooledPostgresEventLogStorage":
        return cls(
            inst_data=inst_data, postgres_url=pg_url_from_config(config_value),
            should_autocreate_tables=config_value.get("should_autocreate_tables", True),
            token_provider=get_token_provider_from_config(config_value),
        )


def vacuum_sqlite_files(files: list[Path], free_share: float) -> list[Path]:
    """VACUUM the files that are at least `free_share` free pages, then fold the
    write-ahead log back in so the file shrinks on disk; returns those files. SQLite reuses
    free pages for new rows, so a daily prune of one day in thirty needs no VACUUM; the first
    prune of a grown instance does. VACUUM holds the write lock while it copies: the daemon's
    writers wait on their busy timeout (5 s for Dagster's run storage), hence the threshold
    and the evening schedule."""
    compacted = []
    for path in files:
        connection = sqlite3.connect(path, timeout=60, isolation_level=None)
        try:
            free = connection.execute("PRAGMA freelist_count").fetchone()[0]
            pages = connection.execute("PRAGMA page_count").fetchone()[0]
            if pages and free / pages >= free_share:
                connection.execute("VACUUM")
                connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                compacted.append(path)
        finally:
            connection.close()
    return compacted

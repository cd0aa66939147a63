"""A PostgreSQL server for the tests, found or started, and fresh databases on it.

Order: VOL_PIPELINE_TEST_PG_URL (an admin URL), then the local server on 127.0.0.1:5432,
then a throwaway server started with initdb/pg_ctl in a temporary folder. Without any of
them the Postgres tests are skipped with the reason, except under CI=true, where they fail:
CI must run them.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


def _reachable(url: str) -> bool:
    import psycopg2

    try:
        psycopg2.connect(url, connect_timeout=3).close()
        return True
    except psycopg2.OperationalError:
        return False


def _binary(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ThrowawayServer:
    """initdb + pg_ctl in a temporary folder (as the `postgres` user when running as root)."""

    def __init__(self) -> None:
        initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
        if not (initdb and pg_ctl):
            raise RuntimeError("no initdb/pg_ctl on this machine")
        self.folder = Path(tempfile.mkdtemp(prefix="vp-pg-"))
        self.port = _free_port()
        self.pg_ctl = pg_ctl
        self.prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.prefix:
            shutil.chown(self.folder, "postgres")
        data = self.folder / "data"
        subprocess.run([*self.prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres"],
                       check=True, capture_output=True)
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        subprocess.run([*self.prefix, pg_ctl, "-D", str(data), "-o", options, "-l", str(self.folder / "log"), "-w", "start"],
                       check=True, capture_output=True)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        subprocess.run([*self.prefix, self.pg_ctl, "-D", str(self.folder / "data"), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def admin_url() -> tuple[str, ThrowawayServer | None]:
    """An admin URL of a running server, and the throwaway server to stop (if one was started)."""
    configured = os.environ.get("VOL_PIPELINE_TEST_PG_URL")
    if configured:
        return configured, None
    if _reachable(LOCAL_URL):
        return LOCAL_URL, None
    try:
        server = ThrowawayServer()
    except (RuntimeError, OSError, subprocess.CalledProcessError) as error:
        reason = f"no PostgreSQL server: 127.0.0.1:5432 unreachable and no throwaway server ({error})"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must run the PostgreSQL tests")
        pytest.skip(reason)
    return server.url, server


def create_database(admin: str) -> str:
    """A new empty database on the server of `admin`; returns its URL."""
    import psycopg2

    name = f"vp_test_{uuid.uuid4().hex[:12]}"
    connection = psycopg2.connect(admin)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return admin.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin: str, url: str) -> None:
    import psycopg2

    name = url.rsplit("/", 1)[1]
    connection = psycopg2.connect(admin)
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    connection.close()

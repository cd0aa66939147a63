"""Fixtures shared by the whole suite: a PostgreSQL server and fresh databases on it."""

from __future__ import annotations

import pytest

from vol_pipeline_tests.postgres_server import admin_url, create_database, drop_database


@pytest.fixture(scope="session")
def postgres_admin_url():
    """Admin URL of a PostgreSQL server (found or started; see postgres_server.py)."""
    url, server = admin_url()
    yield url
    if server is not None:
        server.stop()


@pytest.fixture
def postgres_url(postgres_admin_url):
    """URL of a new, empty database, dropped after the test."""
    url = create_database(postgres_admin_url)
    yield url
    drop_database(postgres_admin_url, url)


@pytest.fixture
def migrated_postgres_url(postgres_url):
    """A new database with every migration applied."""
    from vol_pipeline.storage.migrate import upgrade

    upgrade(postgres_url)
    return postgres_url


@pytest.fixture(scope="module")
def module_postgres_url(postgres_admin_url):
    """One migrated database shared by a test module (see emptied_postgres_url)."""
    from vol_pipeline.storage.migrate import upgrade

    url = create_database(postgres_admin_url)
    upgrade(url)
    yield url
    drop_database(postgres_admin_url, url)


@pytest.fixture
def emptied_postgres_url(module_postgres_url):
    """The module's migrated database with every table emptied: cheaper than a new database per test."""
    from contextlib import closing

    import psycopg2

    from vol_pipeline.storage.tables import TABLES

    with closing(psycopg2.connect(module_postgres_url)) as connection, connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(TABLES)}")
        connection.commit()
    return module_postgres_url


@pytest.fixture(scope="session")
def moto_endpoint():
    """An S3 / Secrets Manager compatible endpoint on loopback (moto's server), never AWS."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def aws_env(monkeypatch, moto_endpoint):
    """Point every boto3 client of the test at the loopback endpoint, with dummy credentials."""
    for name, value in {
        "AWS_ENDPOINT_URL": moto_endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return moto_endpoint

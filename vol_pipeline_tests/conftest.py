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

"""Which warehouse to open: PostgreSQL when a URL is configured, else the embedded DuckDB file."""

from __future__ import annotations

from pathlib import Path

from vol_pipeline.storage.warehouse import Warehouse


def open_warehouse(path: str | Path, url: str | None = None, url_secret_id: str | None = None) -> Warehouse:
    """`url` (or the AWS Secrets Manager secret `url_secret_id` holding it) selects PostgreSQL."""
    if url_secret_id and not url:
        from vol_pipeline.secrets import secret_string

        url = secret_string(url_secret_id)
    if url:
        from vol_pipeline.storage.postgres_warehouse import PostgresWarehouse

        return PostgresWarehouse(url)
    from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse

    return DuckDBWarehouse(path)

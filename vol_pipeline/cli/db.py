"""`db upgrade` and `db status`: the PostgreSQL warehouse's schema migrations."""

from __future__ import annotations

import argparse

from vol_pipeline.cli.context import settings_from_env
from vol_pipeline.cli.errors import CliError
from vol_pipeline.settings import WAREHOUSE_URL_SECRET_VAR, WAREHOUSE_URL_VAR, Settings


def _url(settings: Settings) -> str:
    if settings.warehouse_url:
        return settings.warehouse_url
    if settings.warehouse_url_secret:
        from vol_pipeline.secrets import SecretError, secret_string

        try:
            return secret_string(settings.warehouse_url_secret)
        except SecretError as error:
            raise CliError(str(error)) from None
    raise CliError(f"db commands manage the PostgreSQL warehouse: set {WAREHOUSE_URL_VAR} (or {WAREHOUSE_URL_SECRET_VAR}); "
                   "the embedded DuckDB warehouse creates its tables itself")


def _database_errors():
    import psycopg2

    return psycopg2.Error


def upgrade(args: argparse.Namespace) -> str:
    from vol_pipeline.storage.migrate import upgrade as apply_pending

    settings = settings_from_env()
    try:
        applied = apply_pending(_url(settings))
    except _database_errors() as error:
        raise CliError(f"warehouse {settings.warehouse_location}: {str(error).strip().splitlines()[0]}", code=1) from None
    if not applied:
        return f"warehouse {settings.warehouse_location}: schema up to date, nothing applied"
    return f"warehouse {settings.warehouse_location}: applied {len(applied)} migration(s): {', '.join(applied)}"


def status(args: argparse.Namespace) -> str:
    from vol_pipeline.storage.migrate import status as migration_status

    settings = settings_from_env()
    try:
        states = migration_status(_url(settings))
    except _database_errors() as error:
        raise CliError(f"warehouse {settings.warehouse_location}: {str(error).strip().splitlines()[0]}", code=1) from None
    lines = [f"warehouse {settings.warehouse_location}: schema migrations"]
    for state in states:
        when = f"applied {state.applied_at:%Y-%m-%d %H:%M:%S %Z}" if state.applied_at else "PENDING"
        changed = "  (file changed since it was applied)" if state.changed else ""
        lines.append(f"  {state.version}: {when}{changed}")
    pending = sum(1 for s in states if s.applied_at is None)
    lines.append(f"{pending} pending" + (" - run `vol-pipeline db upgrade`" if pending else ""))
    return "\n".join(lines)

"""`report SESSION_DATE`: build a session's outcomes and report through Dagster, then print it."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from datetime import date, datetime, timezone

from vol_pipeline.cli.context import settings_from_env, warehouse
from vol_pipeline.cli.errors import CliError
from vol_pipeline.core.calendar import sessions_between
from vol_pipeline.settings import Settings


def session_report_text(settings: Settings, session: date, refresh: bool = True) -> str:
    """Materialize outcomes + session_report for `session` (unless not `refresh`) and render it."""
    from vol_pipeline.core.report_text import render
    from vol_pipeline.defs.session_partitions import session_bounds

    if not sessions_between(session, session):
        raise CliError(f"{session} is not an NYSE session (weekend or holiday)")
    first_bar, close = session_bounds(session)
    store = warehouse(settings)
    if refresh:
        if datetime.now(timezone.utc) < close:
            raise CliError(f"session {session} has not closed yet (closes {close:%H:%M} UTC)")
        if store.read("bars", first_bar, close, newest_first=1).is_empty():
            raise CliError(f"no bars stored for session {session} in {settings.warehouse_location}: "
                           f"run `vol-pipeline demo --session {session}` or `vol-pipeline replay --bars FILE` first")
        _materialize(settings, session)
    stored = store.read("session_report", equals={"session_date": session.isoformat()})
    if stored.is_empty():
        raise CliError(f"no report stored for session {session}; run `vol-pipeline report {session}` (without --stored)")
    return render(json.loads(stored["report"][0]))


def _materialize(settings: Settings, session: date) -> None:
    from vol_pipeline.definitions import build_definitions
    from vol_pipeline.runs import cli_instance, failure_message, materialize_session

    settings = replace(settings, partition_start=min(settings.partition_start, session))
    result = materialize_session(build_definitions(settings), cli_instance(settings), session)
    if not result.success:
        raise CliError(failure_message(result), code=1)


def report(args: argparse.Namespace) -> str:
    return session_report_text(settings_from_env(), args.session_date, refresh=not args.stored)

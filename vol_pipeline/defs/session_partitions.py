"""Session partitions: one key per NYSE trading session (`2026-11-23`), New York time.

A key's window is the New York calendar day (Friday's runs to Monday 00:00), so every
minute partition of the session falls inside it. Weekends are outside the cron; full-day
holidays are excluded. end_offset=1 makes today's session a partition from midnight, so
the report can run right after the close.

The session assets read their rows by time (session_bounds), not through the partition
mapping: Dagster's default time-window mapping from a session to the minute partitions
(measured on Dagster 1.13.27) also includes the previous session's 15:59 (391 keys) and
takes ~0.7 s to resolve. It only draws the lineage edge in the UI.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import dagster as dg

from vol_pipeline.core.calendar import MARKET_TZ, REGULAR_OPEN, session_minutes_utc, weekday_closures

# Holidays are excluded this far past today (exchange-calendars knows about a year ahead);
# a code location running longer than that without a reload would miss later holidays.
HOLIDAY_HORIZON = timedelta(days=120)

SESSION_FORMAT = "%Y-%m-%d"
SESSION_CRON = "0 0 * * 1-5"


def session_partitions(start: date, today: date | None = None) -> dg.TimeWindowPartitionsDefinition:
    horizon = (today or date.today()) + HOLIDAY_HORIZON
    holidays = [datetime.combine(day, time(0)) for day, closes_at in weekday_closures(start, horizon) if closes_at <= REGULAR_OPEN]
    return dg.TimeWindowPartitionsDefinition(
        start=datetime.combine(start, time(0)),
        fmt=SESSION_FORMAT,
        cron_schedule=SESSION_CRON,
        timezone=MARKET_TZ,
        end_offset=1,
        exclusions=holidays,
    )


def session_of_key(key: str) -> date:
    return datetime.strptime(key, SESSION_FORMAT).date()


def session_bounds(session: date) -> tuple[datetime, datetime]:
    """UTC start of the first bar and end of the last bar (13:00 New York on a half day)."""
    minutes = session_minutes_utc(session)
    first, last = (m.replace(tzinfo=timezone.utc) for m in minutes[[0, -1]].tolist())
    return first, last + timedelta(minutes=1)


def session_start_utc(session: date) -> datetime:
    """Midnight New York of the session date, in UTC: where a session's row is filed."""
    return datetime.combine(session, time(0), ZoneInfo(MARKET_TZ)).astimezone(timezone.utc)

"""Market-minute partitions: one key per NYSE regular-session minute, New York time.

Key `2026-11-23-09:30` is the bar from 09:30:00 to 09:30:59 (window end 09:31). The cron
ticks every weekday minute of hours 9-16 and the exclusions remove 09:00-09:29, the 16:xx
hour and the holiday / half-day minutes from exchange-calendars. Hour 16 stays in the cron
so the 15:59 window ends at 16:00 instead of at the next morning's first tick (DESIGN §5).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import dagster as dg

from vol_pipeline.core.calendar import MARKET_TZ, REGULAR_OPEN, closed_weekday_minutes

MINUTE_FORMAT = "%Y-%m-%d-%H:%M"
MARKET_MINUTE_CRON = "* 9-16 * * 1-5"
OUTSIDE_SESSION_CRONS = ("0-29 9 * * 1-5", "* 16 * * 1-5")
# Holidays are excluded this far past today. Every excluded minute is serialized with the
# partitions (in run events too), so the list is kept short: a code location running
# longer than this without a reload would show the next holiday's minutes as partitions.
HOLIDAY_HORIZON = timedelta(days=60)


def market_minute_partitions(start: date, today: date | None = None) -> dg.TimeWindowPartitionsDefinition:
    """Minute partitions from the first regular-session minute on or after `start`."""
    horizon = (today or date.today()) + HOLIDAY_HORIZON
    return dg.TimeWindowPartitionsDefinition(
        start=datetime.combine(start, REGULAR_OPEN),
        fmt=MINUTE_FORMAT,
        cron_schedule=MARKET_MINUTE_CRON,
        timezone=MARKET_TZ,
        exclusions=[*OUTSIDE_SESSION_CRONS, *closed_weekday_minutes(start, horizon)],
    )


def partition_key(minute: datetime) -> str:
    """Partition key of the bar starting at `minute` (any timezone)."""
    return minute.astimezone(ZoneInfo(MARKET_TZ)).strftime(MINUTE_FORMAT)


def minute_of_key(key: str) -> datetime:
    """UTC bar start of a partition key."""
    local = datetime.strptime(key, MINUTE_FORMAT).replace(tzinfo=ZoneInfo(MARKET_TZ))
    return local.astimezone(timezone.utc)

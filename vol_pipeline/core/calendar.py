"""NYSE regular-session calendar (exchange-calendars XNYS): sessions and their minutes.

Imported lazily by callers that need it: exchange-calendars pulls in pandas.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import polars as pl

EXCHANGE = "XNYS"
MARKET_TZ = "America/New_York"
REGULAR_OPEN = time(9, 30)
REGULAR_CLOSE = time(16, 0)


@lru_cache(maxsize=1)
def _calendar():
    import exchange_calendars as xcals

    return xcals.get_calendar(EXCHANGE)


def sessions_from(start: date, count: int) -> list[date]:
    """The first `count` NYSE sessions on or after `start` (holidays skipped)."""
    import pandas as pd

    cal = _calendar()
    first = cal.date_to_session(pd.Timestamp(start), direction="next")
    index = cal.sessions.get_loc(first)
    return [ts.date() for ts in cal.sessions[index : index + count]]


def sessions_between(start: date, end: date) -> list[date]:
    """NYSE sessions with start <= session <= end."""
    import pandas as pd

    return [ts.date() for ts in _calendar().sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))]


def session_minutes_utc(session: date) -> np.ndarray:
    """Bar-start minutes of a regular session as datetime64[us] UTC (390, or 210 on a half day)."""
    import pandas as pd

    minutes = _calendar().session_minutes(pd.Timestamp(session))
    return minutes.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[us]")


def weekday_closures(start: date, end: date) -> list[tuple[date, time]]:
    """Weekdays between start and end inclusive when NYSE closes before 16:00 New York
    time, with the time it closes: 09:30 for a holiday, e.g. 13:00 for a half day."""
    import pandas as pd

    cal = _calendar()
    weekdays = pd.bdate_range(pd.Timestamp(start), min(pd.Timestamp(end), cal.last_session))
    if weekdays.empty:
        return []
    sessions = cal.sessions_in_range(weekdays[0], weekdays[-1])
    local_close = cal.schedule.loc[sessions, "close"].dt.tz_convert(MARKET_TZ).dt.time
    closes = [(day.date(), local_close.get(day, REGULAR_OPEN)) for day in weekdays]
    return [(day, closes_at) for day, closes_at in closes if closes_at < REGULAR_CLOSE]


def closed_weekday_minutes(start: date, end: date) -> list[datetime]:
    """The 09:30-15:59 minutes (New York wall time, naive) of `weekday_closures`: weekday
    market minutes minus these are exactly the NYSE regular sessions."""
    return [m for day, closes_at in weekday_closures(start, end) for m in _minutes(day, closes_at, REGULAR_CLOSE)]


def _minutes(day: date, first: time, end: time) -> list[datetime]:
    start = datetime.combine(day, first)
    return [start + timedelta(minutes=i) for i in range((datetime.combine(day, end) - start) // timedelta(minutes=1))]


def market_minutes_between(start: datetime, end: datetime) -> list[datetime]:
    """Regular-session bar-start minutes m (UTC, aware) with start <= m < end."""
    from datetime import timezone

    return [m.replace(tzinfo=timezone.utc) for m in _naive_utc_minutes_between(start, end)]


def _naive_utc_minutes_between(start: datetime, end: datetime) -> list[datetime]:
    """market_minutes_between as naive UTC datetimes: making each aware costs more than
    finding it, and market_minutes_back needs only one of them."""
    from datetime import timezone

    import pandas as pd

    first = (pd.Timestamp(start).tz_convert(MARKET_TZ).date())
    last = (pd.Timestamp(end).tz_convert(MARKET_TZ).date())
    low, high = (moment.astimezone(timezone.utc).replace(tzinfo=None) for moment in (start, end))
    return [m for s in sessions_between(first, last) for m in session_minutes_utc(s).tolist() if low <= m < high]


def session_open_utc(day: date) -> datetime | None:
    """UTC start of the first bar of `day`'s session; None when NYSE is closed that day."""
    from datetime import timezone

    if not sessions_between(day, day):
        return None
    return session_minutes_utc(day)[0].tolist().replace(tzinfo=timezone.utc)


def market_minutes_back(minute: datetime, count: int) -> datetime:
    """The bar start `count` market minutes before `minute` (UTC), across sessions.

    Reaches back over nights, weekends and holidays; clipped to the calendar's first session.
    """
    from datetime import timezone

    day = minute.astimezone(timezone.utc).date()
    earlier: list[datetime] = []
    span = 1
    while len(earlier) < count:
        span *= 2
        window_start = datetime.combine(day - timedelta(days=span), time(), timezone.utc)
        earlier = _naive_utc_minutes_between(window_start, minute)
        if window_start.date() < _calendar().first_session.date():
            break
    if not earlier:
        return minute
    return (earlier[-count] if len(earlier) >= count else earlier[0]).replace(tzinfo=timezone.utc)


def session_hours(first: date, last: date) -> "pl.DataFrame":
    """One row per NYSE session with first <= date <= last (New York dates): `session`,
    and its regular-hours `open` and `close` in UTC (close 13:00 New York on half days).

    Dates inside the shipped table (core/xnys_table.py, equal to exchange-calendars by a
    test) are answered from it in about a millisecond; only dates outside it build the
    exchange-calendars calendar (~0.4 s plus pandas)."""
    import polars as pl

    from vol_pipeline.core import xnys_table as table

    parts = []
    if first < table.FIRST:
        parts.append(_calendar_session_hours(first, min(last, table.FIRST - timedelta(days=1))))
    if first <= table.LAST and last >= table.FIRST:
        parts.append(_table_session_hours(max(first, table.FIRST), min(last, table.LAST)))
    if last > table.LAST:
        parts.append(_calendar_session_hours(max(first, table.LAST + timedelta(days=1)), last))
    if not parts:  # first > last
        return pl.DataFrame(schema={"session": pl.Date, "open": pl.Datetime("us", "UTC"), "close": pl.Datetime("us", "UTC")})
    return pl.concat(parts)


def _table_session_hours(first: date, last: date) -> "pl.DataFrame":
    import polars as pl

    from vol_pipeline.core import xnys_table as table

    days = pl.date_range(first, last, eager=True).alias("session")
    sessions = days.filter((days.dt.weekday() <= 5) & ~days.is_in(list(table.HOLIDAYS)))
    special = [day for day in table.SPECIAL_HOURS if first <= day <= last]

    def local(column: str, regular: time, index: int) -> "pl.Expr":
        moments = {day: datetime.combine(day, table.SPECIAL_HOURS[day][index]) for day in special}
        regular_moment = pl.col("session").cast(pl.Datetime("us")) + timedelta(hours=regular.hour, minutes=regular.minute)
        if moments:
            replaced = pl.col("session").replace_strict(list(moments), list(moments.values()), default=None,
                                                        return_dtype=pl.Datetime("us"))
            regular_moment = pl.coalesce(replaced, regular_moment)
        utc = regular_moment.dt.replace_time_zone(MARKET_TZ).dt.convert_time_zone("UTC")
        return utc.alias(column)

    return pl.DataFrame(sessions).select(
        "session", local("open", REGULAR_OPEN, 0), local("close", REGULAR_CLOSE, 1))


def _calendar_session_hours(first: date, last: date) -> "pl.DataFrame":
    """session_hours from the exchange-calendars calendar itself (its own date range)."""
    import pandas as pd
    import polars as pl

    cal = _calendar()
    start, end = max(pd.Timestamp(first), cal.first_session), min(pd.Timestamp(last), cal.last_session)
    sessions = cal.sessions_in_range(start, end) if start <= end else cal.sessions[:0]
    schedule = cal.schedule.loc[sessions]

    def utc(column: str) -> "pl.Series":
        naive = schedule[column].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]")
        return pl.Series(column, naive).dt.replace_time_zone("UTC")

    return pl.DataFrame([pl.Series("session", [day.date() for day in sessions], dtype=pl.Date), utc("open"), utc("close")])


def with_session_hours(frame: "pl.DataFrame", ts_column: str) -> "pl.DataFrame":
    """`frame` plus `session_open` / `session_close` (UTC) of the NYSE session on the New
    York date of `ts_column` (UTC datetimes); both null when that date has no session.

    Each UTC hour lies in one New York date (the offset changes only on the hour), so the
    session is looked up once per hour of the frame's span and gathered by each row's hour:
    no per-row date and no 2M-row join (measured 85 -> ~20 ms at 1.95M bars)."""
    import polars as pl

    schedule = _hourly(frame[ts_column])
    if schedule is None:  # not UTC, or a span too long for a table of hours
        frame = frame.with_columns(session_day=_new_york_date(frame, ts_column))
        return frame.join(_sessions_of(frame["session_day"]), on="session_day", how="left",
                          maintain_order="left").drop("session_day")
    hours, hour_index = schedule
    per_hour = hours.to_frame("hour").with_columns(session_day=_hour_dates(hours))
    per_hour = per_hour.join(_sessions_of(per_hour["session_day"]), on="session_day", how="left", maintain_order="left")
    return frame.with_columns(pl.Series(name, per_hour[name].gather(hour_index)) for name in ("session_open", "session_close"))


def _sessions_of(days: "pl.Series") -> "pl.DataFrame":
    """session_hours of the span of `days`, named for joining on session_day."""
    days = days.drop_nulls()
    hours = session_hours(days.min(), days.max()) if days.len() else session_hours(date.max, date.min)
    return hours.rename({"session": "session_day", "open": "session_open", "close": "session_close"})


def _hourly(ts: "pl.Series") -> "tuple[pl.Series, pl.Series] | None":
    """The UTC hours spanning `ts` and each row's index into them (null for a null ts);
    None when `ts` is not UTC, all null, or spans more than MAX_OFFSET_HOURS."""
    import polars as pl

    first, last = ts.min(), ts.max()
    if first is None or getattr(ts.dtype, "time_zone", None) != "UTC" or (last - first) > timedelta(hours=MAX_OFFSET_HOURS):
        return None
    start = first.replace(minute=0, second=0, microsecond=0)
    hours = pl.datetime_range(start, last, "1h", time_unit="us", time_zone="UTC", eager=True)
    return hours, (ts.dt.replace_time_zone(None) - start.replace(tzinfo=None)).dt.total_hours()


def _hour_dates(hours: "pl.Series") -> "pl.Series":
    """The New York date of each UTC hour (a few thousand conversions)."""
    return hours.dt.convert_time_zone(MARKET_TZ).dt.date()


MAX_OFFSET_HOURS = 24 * 366 * 50  # beyond 50 years of span, convert row by row instead


def _new_york_date(frame: "pl.DataFrame", ts_column: str) -> "pl.Series":
    """The New York date of each timestamp: by its UTC hour (see with_session_hours), or
    converted row by row when the column is not UTC or spans too long."""
    ts = frame[ts_column]
    schedule = _hourly(ts)
    if schedule is None:
        return ts.dt.convert_time_zone(MARKET_TZ).dt.date().alias("session_day")
    hours, hour_index = schedule
    return _hour_dates(hours).gather(hour_index).alias("session_day")

"""The shipped NYSE session table (core/xnys_table.py) against exchange-calendars itself."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import exchange_calendars as xcals
import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from vol_pipeline.core import xnys_table
from vol_pipeline.core.calendar import MARKET_TZ, _calendar_session_hours, _new_york_date, session_hours


def exchange_calendars_hours(first: date, last: date) -> pl.DataFrame:
    """Sessions, opens and closes (UTC) of an exchange-calendars XNYS calendar built on exactly [first, last]."""
    calendar = xcals.get_calendar("XNYS", start=pd.Timestamp(first), end=pd.Timestamp(last))
    schedule = calendar.schedule

    def utc(column: str) -> pl.Series:
        naive = schedule[column].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]")
        return pl.Series(column, naive).dt.replace_time_zone("UTC")

    return pl.DataFrame([pl.Series("session", [d.date() for d in schedule.index], dtype=pl.Date), utc("open"), utc("close")])


def test_the_table_equals_exchange_calendars_over_its_whole_range():
    # Every session, holiday and half day of 2000-2027: what validation rejects bars by.
    assert_frame_equal(session_hours(xnys_table.FIRST, xnys_table.LAST),
                       exchange_calendars_hours(xnys_table.FIRST, xnys_table.LAST))


def test_the_table_was_generated_by_the_installed_exchange_calendars():
    assert xnys_table.EXCHANGE_CALENDARS_VERSION == xcals.__version__, (
        "exchange-calendars changed: run scripts/build_xnys_table.py")


def test_the_table_reaches_at_least_a_month_ahead():
    assert xnys_table.LAST >= date.today() + timedelta(days=30), (
        f"the table ends {xnys_table.LAST}: run scripts/build_xnys_table.py")


@pytest.mark.parametrize(("first", "last"), [
    (xnys_table.LAST - timedelta(days=10), xnys_table.LAST + timedelta(days=40)),  # past the table's end
    (date(2026, 11, 26), date(2026, 11, 27)),  # Thanksgiving and its half day
])
def test_ranges_across_the_table_edges_match_the_calendar(first, last):
    assert_frame_equal(session_hours(first, last), _calendar_session_hours(first, last))


def test_before_the_table_only_the_calendars_own_range_answers():
    # exchange-calendars' default calendar reaches 20 years back (not to 1999).
    assert_frame_equal(session_hours(date(1999, 12, 20), date(2000, 1, 10)),
                       exchange_calendars_hours(date(2000, 1, 3), date(2000, 1, 10)))


def test_an_empty_range_is_an_empty_frame():
    empty = session_hours(date(2026, 11, 30), date(2026, 11, 1))
    assert empty.is_empty() and empty.columns == ["session", "open", "close"]


def test_new_york_dates_by_hourly_offsets_equal_row_by_row_conversion():
    # Both DST changes of 2026, minute by minute, a null and a row far from the others.
    spring = pl.datetime_range(datetime(2026, 3, 7, tzinfo=timezone.utc), datetime(2026, 3, 10, tzinfo=timezone.utc),
                               "1m", time_zone="UTC", eager=True)
    autumn = pl.datetime_range(datetime(2026, 10, 31, tzinfo=timezone.utc), datetime(2026, 11, 3, tzinfo=timezone.utc),
                               "1m", time_zone="UTC", eager=True)
    extra = pl.Series([None, datetime(2001, 7, 3, 4, 30, tzinfo=timezone.utc)], dtype=pl.Datetime("us", "UTC"))
    frame = pl.DataFrame({"ts": pl.concat([autumn, spring, extra])})
    expected = frame["ts"].dt.convert_time_zone(MARKET_TZ).dt.date().alias("session_day")
    assert_frame_equal(frame.select(_new_york_date(frame, "ts")), expected.to_frame())


def test_new_york_dates_of_a_column_in_another_zone_are_converted_row_by_row():
    frame = pl.DataFrame({"ts": [datetime(2026, 11, 23, 23, 30, tzinfo=timezone.utc)]}).with_columns(
        pl.col("ts").dt.convert_time_zone("Asia/Tokyo"))
    assert _new_york_date(frame, "ts").to_list() == [date(2026, 11, 23)]

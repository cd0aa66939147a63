"""The 16:10 session-close schedule: one run covering every minute of the day's session."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from vol_pipeline.definitions import build_definitions
from vol_pipeline.defs.partitions import market_minute_partitions
from vol_pipeline.defs.schedules import session_range_tags
from vol_pipeline.settings import Settings

NY = ZoneInfo("America/New_York")
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def schedule_def(tmp_path, env: str = "local") -> dg.ScheduleDefinition:
    defs = build_definitions(Settings(home=tmp_path, partition_start=date(2025, 11, 3), env=env))
    return defs.resolve_schedule_def("session_close_schedule")


def evaluate(schedule: dg.ScheduleDefinition, day: date, instance: dg.DagsterInstance | None = None):
    """The schedule as the daemon calls it: at 16:10 New York on `day`."""
    when = datetime(day.year, day.month, day.day, 16, 10, tzinfo=NY)
    if instance is None:
        with dg.instance_for_test() as instance:
            return schedule(dg.build_schedule_context(instance=instance, scheduled_execution_time=when))
    return schedule(dg.build_schedule_context(instance=instance, scheduled_execution_time=when))


@pytest.mark.parametrize(
    "day, first, last",
    [
        (date(2026, 11, 23), "2026-11-23-09:30", "2026-11-23-15:59"),
        (date(2026, 3, 9), "2026-03-09-09:30", "2026-03-09-15:59"),  # first day of summer time
        (date(2026, 11, 2), "2026-11-02-09:30", "2026-11-02-15:59"),  # first day of winter time
        (date(2025, 11, 28), "2025-11-28-09:30", "2025-11-28-12:59"),  # half day
        (date(2025, 12, 24), "2025-12-24-09:30", "2025-12-24-12:59"),  # half day
    ],
)
def test_session_range_tags_cover_the_whole_session(day, first, last):
    assert session_range_tags(day) == {RANGE_START: first, RANGE_END: last}


def test_session_range_covers_exactly_the_partitions_of_that_day(tmp_path):
    """The schedule adds its session's minutes (the sensor may have been off) before the run."""
    with dg.instance_for_test() as instance:
        for day in (date(2025, 11, 26), date(2025, 11, 28), date(2025, 12, 1)):
            assert isinstance(evaluate(schedule_def(tmp_path), day, instance), dg.RunRequest)
        keys = market_minute_partitions().get_partition_keys(dynamic_partitions_store=instance)
    assert len(keys) == 390 + 210 + 390
    for day in (date(2025, 11, 26), date(2025, 11, 28), date(2025, 12, 1)):
        tags = session_range_tags(day)
        in_range = keys[keys.index(tags[RANGE_START]) : keys.index(tags[RANGE_END]) + 1]
        assert in_range == [k for k in keys if k.startswith(day.isoformat())]


@pytest.mark.parametrize(
    "day, first, last",
    [
        (date(2026, 11, 23), "2026-11-23-09:30", "2026-11-23-15:59"),
        (date(2025, 11, 28), "2025-11-28-09:30", "2025-11-28-12:59"),
    ],
)
def test_schedule_requests_one_run_over_the_session(tmp_path, day, first, last):
    request = evaluate(schedule_def(tmp_path), day)
    assert isinstance(request, dg.RunRequest)
    assert request.tags[RANGE_START] == first
    assert request.tags[RANGE_END] == last
    assert request.tags["vol_pipeline/trigger"] == "session_close"
    assert request.run_key == f"session-{day.isoformat()}"  # one run per session, re-ticks deduplicated
    assert request.partition_key is None


@pytest.mark.parametrize("day", [date(2026, 11, 26), date(2026, 4, 3), date(2025, 12, 25)])
def test_schedule_skips_holidays(tmp_path, day):
    result = evaluate(schedule_def(tmp_path), day)
    assert isinstance(result, dg.SkipReason)
    assert day.isoformat() in result.skip_message


def test_schedule_fires_at_1610_new_york_on_weekdays(tmp_path):
    schedule = schedule_def(tmp_path)
    assert schedule.execution_timezone == "America/New_York"
    assert schedule.cron_schedule == "10 16 * * 1-5"
    assert schedule.job_name == "minute_job"


@pytest.mark.parametrize("env, status", [("local", dg.DefaultScheduleStatus.STOPPED), ("prod", dg.DefaultScheduleStatus.RUNNING)])
def test_default_status_follows_the_environment(tmp_path, env, status):
    assert schedule_def(tmp_path, env).default_status == status

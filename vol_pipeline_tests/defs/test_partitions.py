"""Market-minute partitions (one key per NYSE regular-session minute, New York time):
the keys the platform registers, their order, key <-> minute, and the Settings.

The minute keys are a DynamicPartitionsDefinition (defs/partitions.py): which keys exist
is decided by the NYSE calendar when minutes are registered, so these tests register
spans of days on an ephemeral instance and look at what Dagster then lists.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from vol_pipeline.core.calendar import market_minutes_between
from vol_pipeline.defs.partitions import (
    MINUTE_PARTITIONS, key_range_window, market_minute_partitions, minute_of_key, partition_key, register_minutes,
    run_minute_window,
)
from vol_pipeline.runs import contiguous_ranges, plan_runs
from vol_pipeline.settings import DEFAULT_HISTORY_DAYS, Settings, default_partition_start

NY = ZoneInfo("America/New_York")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def registered(first: date, last: date) -> list[str]:
    """The keys Dagster lists after the minutes of first..last (New York dates) are registered."""
    instance = dg.DagsterInstance.ephemeral()
    start = datetime.combine(first, datetime.min.time(), NY)
    end = datetime.combine(last + timedelta(days=1), datetime.min.time(), NY)
    register_minutes(instance, market_minutes_between(start, end))
    return market_minute_partitions().get_partition_keys(dynamic_partitions_store=instance)


def keys_per_day(keys: list[str]) -> dict[str, int]:
    return dict(Counter(key[:10] for key in keys))


def day_keys(day: str, first: str = "09:30", count: int = 390) -> list[str]:
    start = datetime.strptime(f"{day} {first}", "%Y-%m-%d %H:%M")
    return [(start + timedelta(minutes=i)).strftime("%Y-%m-%d-%H:%M") for i in range(count)]


# --- keys per session -----------------------------------------------------------------


def test_a_normal_session_has_390_keys_from_0930_to_1559():
    keys = registered(date(2026, 11, 23), date(2026, 11, 23))
    assert keys == day_keys("2026-11-23")


def test_the_half_day_after_thanksgiving_has_210_keys_ending_1259():
    keys = registered(date(2025, 11, 26), date(2025, 12, 1))
    assert keys_per_day(keys) == {"2025-11-26": 390, "2025-11-28": 210, "2025-12-01": 390}  # 11-27: Thanksgiving
    assert [k for k in keys if k.startswith("2025-11-28")] == day_keys("2025-11-28", count=210)
    # the last bar's window ends at the 13:00 close
    assert key_range_window("2025-11-28-12:59", "2025-11-28-12:59") == (utc(2025, 11, 28, 17, 59), utc(2025, 11, 28, 18, 0))


def test_holidays_and_weekends_have_no_keys():
    per_day = keys_per_day(registered(date(2026, 4, 1), date(2026, 4, 7)))
    assert per_day == {"2026-04-01": 390, "2026-04-02": 390, "2026-04-06": 390, "2026-04-07": 390}  # Good Friday


def test_a_few_weeks_are_sessions_times_their_minutes_in_time_order():
    keys = registered(date(2026, 11, 2), date(2026, 11, 30))
    per_day = keys_per_day(keys)
    assert per_day["2026-11-27"] == 210 and "2026-11-26" not in per_day
    assert len(per_day) == 20 and len(keys) == 19 * 390 + 210
    assert keys == sorted(keys) and len(set(keys)) == len(keys)


@pytest.mark.parametrize(
    "day, open_utc, close_utc",
    [
        ("2026-03-06", utc(2026, 3, 6, 14, 30), utc(2026, 3, 6, 21, 0)),  # before spring forward
        ("2026-03-09", utc(2026, 3, 9, 13, 30), utc(2026, 3, 9, 20, 0)),  # after
        ("2026-10-30", utc(2026, 10, 30, 13, 30), utc(2026, 10, 30, 20, 0)),  # before fall back
        ("2026-11-02", utc(2026, 11, 2, 14, 30), utc(2026, 11, 2, 21, 0)),  # after
    ],
)
def test_dst_change_days_have_390_keys_at_the_right_utc_times(day, open_utc, close_utc):
    the_day = date.fromisoformat(day)
    assert registered(the_day, the_day) == day_keys(day)
    assert key_range_window(f"{day}-09:30", f"{day}-15:59") == (open_utc, close_utc)


# --- registering: idempotent, oldest first; ranges follow Dagster's order -----------------


def test_registering_again_adds_nothing_and_keeps_the_order():
    instance = dg.DagsterInstance.ephemeral()
    minutes = market_minutes_between(utc(2026, 11, 23), utc(2026, 11, 24))
    register_minutes(instance, reversed(minutes[:10]))  # any order in: oldest first
    register_minutes(instance, minutes[:20])
    assert instance.get_dynamic_partitions(MINUTE_PARTITIONS) == [partition_key(m) for m in minutes[:20]]


def test_a_key_added_by_another_process_in_between_is_not_an_error(tmp_path, monkeypatch):
    # Dagster reads the stored keys, then inserts the rest: another process inserting the
    # same key in between makes the insert fail (seen in CI as two runs of one minute).
    from sqlalchemy.exc import IntegrityError

    instance = dg.DagsterInstance.local_temp(str(tmp_path))
    minutes = market_minutes_between(utc(2026, 11, 23), utc(2026, 11, 24))[:3]
    add = instance.add_dynamic_partitions
    calls = []

    def other_process_first(name, keys):
        calls.append(keys)
        if len(calls) == 1:
            add(name, keys)  # the other process wins the race ...
            raise IntegrityError("INSERT INTO dynamic_partitions", {}, Exception("UNIQUE constraint failed"))
        return add(name, keys)

    monkeypatch.setattr(instance, "add_dynamic_partitions", other_process_first)
    assert register_minutes(instance, minutes) == [partition_key(m) for m in minutes]
    assert instance.get_dynamic_partitions(MINUTE_PARTITIONS) == [partition_key(m) for m in minutes]
    assert len(calls) == 2


def test_runs_split_where_older_minutes_were_added_after_newer_ones():
    instance = dg.DagsterInstance.ephemeral()
    monday = market_minutes_between(utc(2026, 11, 23), utc(2026, 11, 24))
    friday = market_minutes_between(utc(2026, 11, 20), utc(2026, 11, 21))
    register_minutes(instance, monday)  # the live session first, history later
    runs = plan_runs(instance, friday + monday, 390)
    assert runs == [(friday[0], friday[-1]), (monday[0], monday[-1])]
    keys = instance.get_dynamic_partitions(MINUTE_PARTITIONS)
    assert keys[:390] == [partition_key(m) for m in monday] and keys[390:] == [partition_key(m) for m in friday]
    # in time order alone the two sessions would have been one range
    assert contiguous_ranges(friday + monday, 780) == [(friday[0], monday[-1])]


def test_plan_runs_registers_whole_sessions_and_caps_the_run_length():
    instance = dg.DagsterInstance.ephemeral()
    monday = market_minutes_between(utc(2026, 11, 23), utc(2026, 11, 24))
    sparse = monday[5:300:7]  # a thinly traded ticker: minutes without bars in between
    runs = plan_runs(instance, sparse, 100)
    assert runs[0][0] == sparse[0] and runs[-1][1] == sparse[-1]
    assert all(market_minutes_between(a, b + timedelta(minutes=1)).__len__() <= 100 for a, b in runs)
    assert len(instance.get_dynamic_partitions(MINUTE_PARTITIONS)) == len(market_minutes_between(sparse[0], sparse[-1] + timedelta(minutes=1)))


# --- key <-> minute -------------------------------------------------------------------


@pytest.mark.parametrize(
    "key, minute",
    [
        ("2026-11-23-09:30", utc(2026, 11, 23, 14, 30)),
        ("2026-11-23-15:59", utc(2026, 11, 23, 20, 59)),
        ("2026-03-09-09:30", utc(2026, 3, 9, 13, 30)),  # summer time
        ("2026-11-02-09:30", utc(2026, 11, 2, 14, 30)),  # winter time again
        ("2025-11-28-12:59", utc(2025, 11, 28, 17, 59)),
    ],
)
def test_partition_key_and_minute_of_key_round_trip(key, minute):
    assert minute_of_key(key) == minute
    assert minute_of_key(key).utcoffset() == timedelta(0)
    assert partition_key(minute) == key
    assert partition_key(minute.astimezone(NY)) == key  # any timezone in
    assert partition_key(minute.astimezone(ZoneInfo("Asia/Tokyo"))) == key


def test_run_windows_come_from_the_tags():
    assert run_minute_window({"dagster/partition": "2026-11-23-09:30"}) == (utc(2026, 11, 23, 14, 30), utc(2026, 11, 23, 14, 31))
    assert run_minute_window({"dagster/asset_partition_range_start": "2026-11-23-09:30",
                              "dagster/asset_partition_range_end": "2026-11-23-15:59"}) == (utc(2026, 11, 23, 14, 30), utc(2026, 11, 23, 21, 0))
    assert run_minute_window({"dagster/partition": "2026-11-23"}) is None  # a session partition


@pytest.mark.parametrize("bad", ["foo", "2026-11-23 09:30", "2026-11-23-9h30"])
def test_a_key_that_is_not_a_minute_is_a_clear_error(bad):
    with pytest.raises(dg.Failure) as error:
        key_range_window(bad, "2026-11-23-09:31")
    assert repr(bad) in str(error.value.description) and "2026-11-23-09:30" in str(error.value.description)


# --- Settings -------------------------------------------------------------------------


def test_default_partition_start_is_30_days_before_today_in_new_york(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    expected = datetime.now(NY).date() - timedelta(days=30)
    assert DEFAULT_HISTORY_DAYS == 30
    assert Settings.from_env({}).partition_start == expected
    # 21:30 New York on the 23rd is already the 24th in UTC: the New York date counts
    assert default_partition_start(utc(2026, 11, 24, 2, 30)) == date(2026, 10, 24)


def test_partition_start_from_the_environment():
    assert Settings.from_env({"VOL_PIPELINE_PARTITION_START": "2026-03-06"}).partition_start == date(2026, 3, 6)


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "06/03/2026", "2026-02-30"])
def test_a_bad_partition_start_is_a_clear_error(bad):
    with pytest.raises(ValueError) as error:
        Settings.from_env({"VOL_PIPELINE_PARTITION_START": bad})
    message = str(error.value)
    assert "VOL_PIPELINE_PARTITION_START" in message
    assert repr(bad) in message
    assert "YYYY-MM-DD" in message


PG_URL = {"VOL_PIPELINE_WAREHOUSE_URL": "postgresql://vp:pw@db.internal:5432/vol"}


@pytest.mark.parametrize("env, expected", [({}, "local"), ({"VOL_PIPELINE_ENV": "local"}, "local"),
                                           ({"VOL_PIPELINE_ENV": "prod", **PG_URL}, "prod")])
def test_environment_kind(env, expected):
    assert Settings.from_env(env).env == expected


def test_prod_without_a_postgres_warehouse_is_an_error():
    with pytest.raises(ValueError, match="VOL_PIPELINE_ENV=prod needs VOL_PIPELINE_WAREHOUSE_URL"):
        Settings.from_env({"VOL_PIPELINE_ENV": "prod"})
    assert Settings.from_env({"VOL_PIPELINE_ENV": "prod", "VOL_PIPELINE_WAREHOUSE_URL_SECRET": "vol/db"}).uses_postgres


def test_the_warehouse_url_never_shows_in_repr_or_location():
    settings = Settings.from_env(PG_URL)
    assert settings.uses_postgres
    assert "pw" not in repr(settings) and "vp:" not in repr(settings)
    assert settings.warehouse_location == "postgresql://db.internal:5432/vol"


@pytest.mark.parametrize("bad", ["production", "dev", "PROD ", "staging"])
def test_an_unknown_environment_kind_is_an_error(bad):
    with pytest.raises(ValueError, match="VOL_PIPELINE_ENV must be 'local' or 'prod'") as error:
        Settings.from_env({"VOL_PIPELINE_ENV": bad})
    assert repr(bad) in str(error.value)


def test_home_defaults_to_dot_vol_pipeline_resolved(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({})
    assert settings.home == (tmp_path / ".vol_pipeline").resolve()
    assert settings.home.is_absolute()
    assert settings.warehouse_path == settings.home / "warehouse.duckdb"
    assert settings.dagster_home == settings.home / "dagster"


def test_a_relative_home_is_resolved_against_the_working_directory(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    assert Settings.from_env({"VOL_PIPELINE_HOME": "data/vp"}).home == (tmp_path / "data" / "vp").resolve()


def test_from_env_reads_os_environ_when_no_mapping_is_given(monkeypatch, tmp_path):
    monkeypatch.setenv("VOL_PIPELINE_HOME", str(tmp_path))
    monkeypatch.setenv("VOL_PIPELINE_PARTITION_START", "2026-11-02")
    monkeypatch.setenv("VOL_PIPELINE_ENV", "prod")
    monkeypatch.setenv("VOL_PIPELINE_WAREHOUSE_URL", PG_URL["VOL_PIPELINE_WAREHOUSE_URL"])
    settings = Settings.from_env()
    assert (settings.home, settings.partition_start, settings.env) == (tmp_path.resolve(), date(2026, 11, 2), "prod")


def test_the_minute_partitions_are_dynamic_and_the_same_everywhere():
    """Definitions built from any settings share one partitions definition (one set of keys)."""
    assert market_minute_partitions() == dg.DynamicPartitionsDefinition(name=MINUTE_PARTITIONS)

"""Market-minute partitions (one key per NYSE regular-session minute, New York time) and
the Settings that decide where they start.

Every test pins `today` (the holiday horizon) and `current_time` and keeps the span to a
few sessions, so the results do not depend on the day the suite runs and stay fast.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from vol_pipeline.defs.partitions import market_minute_partitions, minute_of_key, partition_key
from vol_pipeline.settings import DEFAULT_HISTORY_DAYS, Settings, default_partition_start

NY = ZoneInfo("America/New_York")


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


# Closures are excluded as one cron per day when the partitions span under a year and as
# minutes past that; `today` (start of the holiday horizon) picks the form. Both must agree.
FORMS = {"crons": -10, "minutes": 300}  # today = start + this many days


def partitions_for(start: date, form: str = "crons"):
    return market_minute_partitions(start, today=start + timedelta(days=FORMS[form]))


def keys_between(start: date, current_time: datetime, form: str = "crons") -> list[str]:
    return partitions_for(start, form).get_partition_keys(current_time=current_time)


both_forms = pytest.mark.parametrize("form", list(FORMS))


def keys_per_day(keys: list[str]) -> dict[str, int]:
    return dict(Counter(key[:10] for key in keys))


def day_keys(day: str, first: str = "09:30", count: int = 390) -> list[str]:
    start = datetime.strptime(f"{day} {first}", "%Y-%m-%d %H:%M")
    return [(start + timedelta(minutes=i)).strftime("%Y-%m-%d-%H:%M") for i in range(count)]


def utc_window(start: date, key: str, form: str = "crons") -> tuple[datetime, datetime]:
    window = partitions_for(start, form).time_window_for_partition_key(key)
    return window.start.astimezone(timezone.utc), window.end.astimezone(timezone.utc)


# --- keys per session -----------------------------------------------------------------


def test_a_normal_session_has_390_keys_from_0930_to_1559():
    keys = keys_between(date(2026, 11, 23), utc(2026, 11, 24, 5))
    assert keys == day_keys("2026-11-23")
    assert keys[0] == "2026-11-23-09:30" and keys[-1] == "2026-11-23-15:59"


@both_forms
def test_the_half_day_after_thanksgiving_has_210_keys_ending_1259(form):
    keys = keys_between(date(2025, 11, 26), utc(2025, 12, 2, 5), form)
    per_day = keys_per_day(keys)
    assert per_day == {"2025-11-26": 390, "2025-11-28": 210, "2025-12-01": 390}  # 11-27: Thanksgiving
    half_day = [k for k in keys if k.startswith("2025-11-28")]
    assert half_day == day_keys("2025-11-28", count=210)
    assert half_day[-1] == "2025-11-28-12:59"
    # the last bar's window ends at the 13:00 close, not at the next session
    assert utc_window(date(2025, 11, 26), "2025-11-28-12:59", form) == (utc(2025, 11, 28, 17, 59), utc(2025, 11, 28, 18, 0))


@both_forms
def test_a_holiday_has_no_keys(form):
    keys = keys_between(date(2026, 4, 1), utc(2026, 4, 8, 5), form)
    per_day = keys_per_day(keys)
    assert "2026-04-03" not in per_day  # Good Friday
    assert per_day == {"2026-04-01": 390, "2026-04-02": 390, "2026-04-06": 390, "2026-04-07": 390}


def test_weekends_have_no_keys():
    per_day = keys_per_day(keys_between(date(2026, 11, 19), utc(2026, 11, 24, 5)))
    assert per_day == {"2026-11-19": 390, "2026-11-20": 390, "2026-11-23": 390}


@both_forms
def test_a_few_weeks_are_sessions_times_their_minutes(form):
    keys = keys_between(date(2026, 11, 2), utc(2026, 12, 1, 5), form)
    per_day = keys_per_day(keys)
    assert per_day["2026-11-27"] == 210  # half day
    assert "2026-11-26" not in per_day  # Thanksgiving
    assert set(per_day.values()) == {390, 210}
    assert len(per_day) == 20
    assert len(keys) == 19 * 390 + 210
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


@both_forms
def test_the_year_end_closures_across_new_year(form):
    per_day = keys_per_day(keys_between(date(2026, 12, 21), utc(2027, 1, 6, 5), form))
    assert per_day == {
        "2026-12-21": 390, "2026-12-22": 390, "2026-12-23": 390,
        "2026-12-24": 210,  # Christmas Eve half day; Christmas closed
        "2026-12-28": 390, "2026-12-29": 390, "2026-12-30": 390, "2026-12-31": 390,
        # New Year's Day closed
        "2027-01-04": 390, "2027-01-05": 390,
    }


# --- daylight saving time -------------------------------------------------------------


@pytest.mark.parametrize(
    "start, day, open_utc, close_utc",
    [
        # spring forward (Sunday 2026-03-08): Friday in winter time, Monday in summer time
        (date(2026, 3, 6), "2026-03-06", utc(2026, 3, 6, 14, 30), utc(2026, 3, 6, 21, 0)),
        (date(2026, 3, 6), "2026-03-09", utc(2026, 3, 9, 13, 30), utc(2026, 3, 9, 20, 0)),
        # fall back (Sunday 2026-11-01): Friday in summer time, Monday in winter time
        (date(2026, 10, 30), "2026-10-30", utc(2026, 10, 30, 13, 30), utc(2026, 10, 30, 20, 0)),
        (date(2026, 10, 30), "2026-11-02", utc(2026, 11, 2, 14, 30), utc(2026, 11, 2, 21, 0)),
    ],
)
@both_forms
def test_dst_change_days_have_390_keys_at_the_right_utc_times(start, day, open_utc, close_utc, form):
    keys = keys_between(start, utc(2026, 11, 4, 5) if start.month == 10 else utc(2026, 3, 11, 5), form)
    assert [k for k in keys if k.startswith(day)] == day_keys(day)
    assert utc_window(start, f"{day}-09:30", form) == (open_utc, open_utc + timedelta(minutes=1))
    assert utc_window(start, f"{day}-15:59", form) == (close_utc - timedelta(minutes=1), close_utc)


def test_the_1559_window_ends_at_1600_the_same_day():
    window = market_minute_partitions(date(2026, 11, 23), today=date(2026, 11, 1)).time_window_for_partition_key(
        "2026-11-23-15:59"
    )
    assert window.start == datetime(2026, 11, 23, 15, 59, tzinfo=NY)
    assert window.end == datetime(2026, 11, 23, 16, 0, tzinfo=NY)


# --- which keys exist at a given time -------------------------------------------------


@pytest.mark.parametrize(
    "now, last_key",
    [
        (utc(2026, 11, 23, 14, 30, 59), None),  # 09:30 bar not finished
        (utc(2026, 11, 23, 14, 31), "2026-11-23-09:30"),
        (utc(2026, 11, 23, 15, 0), "2026-11-23-09:59"),
        (utc(2026, 11, 23, 20, 59, 59), "2026-11-23-15:58"),
        (utc(2026, 11, 23, 21, 0), "2026-11-23-15:59"),  # the last bar is there at the close
        (utc(2026, 11, 24, 14, 0), "2026-11-23-15:59"),  # overnight: nothing new
    ],
)
def test_a_key_exists_once_its_minute_has_closed(now, last_key):
    keys = keys_between(date(2026, 11, 23), now)
    assert (keys[-1] if keys else None) == last_key


@both_forms
def test_the_half_day_last_key_exists_at_its_1300_close(form):
    assert keys_between(date(2025, 11, 28), utc(2025, 11, 28, 18, 0), form)[-1] == "2025-11-28-12:59"
    assert keys_between(date(2025, 11, 28), utc(2025, 11, 28, 17, 59, 59), form)[-1] == "2025-11-28-12:58"
    # nothing more until the next session opens on Monday
    assert keys_between(date(2025, 11, 28), utc(2025, 12, 1, 14, 30), form)[-1] == "2025-11-28-12:59"


@pytest.mark.parametrize(
    "start, first_key",
    [
        (date(2026, 11, 23), "2026-11-23-09:30"),  # a session
        (date(2026, 11, 21), "2026-11-23-09:30"),  # Saturday -> Monday
        (date(2026, 4, 3), "2026-04-06-09:30"),  # Good Friday -> Monday
        (date(2026, 11, 26), "2026-11-27-09:30"),  # Thanksgiving -> the half day
    ],
)
@both_forms
def test_the_first_key_is_the_open_of_the_first_session_on_or_after_the_start(start, first_key, form):
    assert keys_between(start, utc(2026, 12, 1, 5) if start.month == 11 else utc(2026, 4, 8, 5), form)[0] == first_key


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
    assert partition_key(minute_of_key(key)) == key


def test_every_key_of_a_session_maps_back_to_its_window_start():
    start = date(2026, 3, 9)
    partitions = market_minute_partitions(start, today=date(2026, 3, 1))
    keys = partitions.get_partition_keys(current_time=utc(2026, 3, 10, 5))
    for key in keys[::37] + keys[-1:]:
        window = partitions.time_window_for_partition_key(key)
        assert minute_of_key(key) == window.start.astimezone(timezone.utc)
        assert partition_key(window.start) == key


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


def test_the_default_partition_count_stays_far_below_dagster_limits():
    """Default start, real clock: about 30 days of sessions (~8k keys), not 100k."""
    start = Settings.from_env({}).partition_start
    keys = market_minute_partitions(start).get_partition_keys(current_time=datetime.now(timezone.utc))
    assert 0 < len(keys) < 20_000
    assert len(keys) >= 15 * 390  # 30 days hold at least 15 full sessions' worth

"""The per-minute sensor as Dagster runs it: built by build_definitions, evaluated with a
sensor context and the code location's bar_source resource, the clock pinned by
monkeypatching vol_pipeline.defs.sensors.utc_now.

Expected minute lists are written out here in New York wall time (not computed with the
calendar helpers the sensor uses); which minutes have bars comes from the bar source.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl
import pytest

from vol_pipeline.core.minute_requests import SensorCursor, minute_fingerprints
from vol_pipeline.definitions import build_definitions
from vol_pipeline.defs import sensors as sensors_module
from vol_pipeline.defs.sensors import MAX_RUNS_PER_TICK, REVISION_MINUTES
from vol_pipeline.settings import Settings
from vol_pipeline.sources.replay import ReplayBarSource
from vol_pipeline.sources.synthetic import SyntheticBarSource

NY = ZoneInfo("America/New_York")
TICKERS = ("AAPL",)  # one ticker: about 3% of its minutes have no bar, so gaps get exercised
SEED = 7


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def ny(day: date, hhmm: str) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NY).astimezone(timezone.utc)


def ny_minutes(day: date, first: str, end: str) -> list[datetime]:
    """UTC starts of the New York minutes first <= m < end on `day`."""
    start, stop = ny(day, first), ny(day, end)
    return [start + timedelta(minutes=i) for i in range(int((stop - start) / timedelta(minutes=1)))]


def key(minute: datetime) -> str:
    return minute.astimezone(NY).strftime("%Y-%m-%d-%H:%M")


def with_synthetic_bars(minutes: list[datetime]) -> list[datetime]:
    bars = SyntheticBarSource(tickers=TICKERS, seed=SEED).fetch(minutes[0], minutes[-1] + timedelta(minutes=1))
    present = set(bars["ts"].to_list())
    return [m for m in minutes if m in present]


@dataclass
class Tick:
    requests: list[dg.RunRequest]
    cursor: str | None
    skipped: bool
    added_keys: list[str] = ()  # keys the tick adds to the market_minutes partitions

    @property
    def run_keys(self) -> list[str]:
        return [r.run_key for r in self.requests]


class SensorHarness:
    """The code location's minute_sensor with a pinned clock."""

    def __init__(self, settings: Settings, monkeypatch: pytest.MonkeyPatch):
        self.defs = build_definitions(settings)
        self.sensor = self.defs.resolve_sensor_def("minute_sensor")
        self.monkeypatch = monkeypatch
        self.cursor: str | None = None

    def tick(self, now: datetime) -> Tick:
        self.monkeypatch.setattr(sensors_module, "utc_now", lambda: now)
        context = dg.build_sensor_context(cursor=self.cursor, resources={"bar_source": self.defs.resources["bar_source"]})
        result = self.sensor(context)
        if isinstance(result, dg.SkipReason):
            return Tick([], self.cursor, skipped=True)
        assert isinstance(result, dg.SensorResult)
        if result.cursor is not None:
            self.cursor = result.cursor
        added = [k for r in result.dynamic_partitions_requests or [] for k in r.partition_keys]
        assert all(r.partitions_def_name == "market_minutes" for r in result.dynamic_partitions_requests or [])
        return Tick(list(result.run_requests or []), result.cursor, skipped=False, added_keys=added)

    def drain(self, now: datetime, max_ticks: int = 50) -> tuple[list[str], list[int]]:
        """Tick at `now` until nothing is requested: all run keys, and the size of each tick."""
        keys: list[str] = []
        sizes: list[int] = []
        for _ in range(max_ticks):
            tick = self.tick(now)
            if not tick.requests:
                return keys, sizes
            keys.extend(tick.run_keys)
            sizes.append(len(tick.requests))
        pytest.fail("the sensor kept requesting runs")


@pytest.fixture
def synthetic(tmp_path, monkeypatch) -> SensorHarness:
    settings = Settings(home=tmp_path, partition_start=date(2026, 11, 16), tickers=TICKERS, seed=SEED)
    return SensorHarness(settings, monkeypatch)


# --- status ---------------------------------------------------------------------------


@pytest.mark.parametrize("env, status", [("local", dg.DefaultSensorStatus.STOPPED), ("prod", dg.DefaultSensorStatus.RUNNING)])
def test_default_status_follows_the_environment(tmp_path, env, status):
    defs = build_definitions(Settings(home=tmp_path, partition_start=date(2026, 11, 16), env=env))
    sensor = defs.resolve_sensor_def("minute_sensor")
    assert sensor.default_status == status
    assert sensor.job_name == "minute_job"


# --- a session, tick by tick ----------------------------------------------------------


def test_first_tick_requests_todays_closed_minutes_from_the_open(synthetic):
    day = date(2026, 11, 23)
    tick = synthetic.tick(utc(2026, 11, 23, 15, 0))  # 10:00 New York
    expected = with_synthetic_bars(ny_minutes(day, "09:30", "10:00"))
    assert len(expected) >= 25
    assert tick.run_keys == [key(m) for m in expected]
    assert [r.partition_key for r in tick.requests] == tick.run_keys
    assert all(r.tags["vol_pipeline/trigger"] == "new_minute" for r in tick.requests)
    assert tick.run_keys[0] == "2026-11-23-09:30"


def test_requests_carry_the_partition_tags_dagster_would_add(synthetic):
    """Pre-resolved requests skip Dagster's per-key check; the tags must be exactly its own."""
    tick = synthetic.tick(utc(2026, 11, 23, 15, 0))
    job = synthetic.defs.resolve_job_def("minute_job")
    for request in tick.requests[:3]:
        assert request.has_resolved_partition()
        own = {k: v for k, v in request.tags.items() if k.startswith("dagster/")}
        assert own == dict(job.get_tags_for_partition_key(request.partition_key, None))
        assert job.get_run_config_for_partition_key(request.partition_key) == {}  # nothing else to resolve


def test_each_tick_adds_every_closed_minute_as_a_partition_bars_or_not(synthetic):
    """The requested keys exist when their runs are created (Dagster adds the tick's keys
    first); minutes without bars are partitions too, never materialized."""
    day = date(2026, 11, 23)
    tick = synthetic.tick(utc(2026, 11, 23, 15, 0))
    assert tick.added_keys == [key(m) for m in ny_minutes(day, "09:30", "10:00")]  # oldest first
    assert tick.requests and set(tick.run_keys) < set(tick.added_keys)  # AAPL has minutes without bars
    later = synthetic.tick(utc(2026, 11, 23, 15, 5))
    assert later.added_keys == [key(m) for m in ny_minutes(day, "10:00", "10:05")]  # only what it had not seen


def test_the_next_tick_at_the_same_time_requests_nothing(synthetic):
    now = utc(2026, 11, 23, 15, 0)
    assert synthetic.tick(now).requests
    again = synthetic.tick(now)
    assert again.requests == []
    # and a few seconds later, still inside 10:00, nothing either
    assert synthetic.tick(now + timedelta(seconds=45)).requests == []


def test_a_later_tick_requests_only_the_new_minutes(synthetic):
    day = date(2026, 11, 23)
    synthetic.tick(utc(2026, 11, 23, 15, 0))
    tick = synthetic.tick(utc(2026, 11, 23, 15, 5, 30))  # 10:05:30
    assert tick.run_keys == [key(m) for m in with_synthetic_bars(ny_minutes(day, "10:00", "10:05"))]


def test_a_minute_is_requested_only_once_it_has_closed(synthetic):
    assert synthetic.tick(utc(2026, 11, 23, 14, 30, 59)).requests == []  # 09:30 bar still open
    assert synthetic.tick(utc(2026, 11, 23, 14, 31)).run_keys == ["2026-11-23-09:30"]


# --- downtime -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "before, after, sessions",
    [
        # down from 10:00 to 14:00 the same day
        (utc(2026, 11, 23, 15, 0), utc(2026, 11, 23, 19, 0), [(date(2026, 11, 23), "10:00", "14:00")]),
        # down from Friday 10:00 to Monday 10:30
        (
            utc(2026, 11, 20, 15, 0),
            utc(2026, 11, 23, 15, 30),
            [(date(2026, 11, 20), "10:00", "16:00"), (date(2026, 11, 23), "09:30", "10:30")],
        ),
        # down over Thanksgiving (closed) and the half day after it (closes 13:00)
        (
            utc(2026, 11, 25, 15, 0),
            utc(2026, 11, 30, 15, 0),
            [(date(2026, 11, 25), "10:00", "16:00"), (date(2026, 11, 27), "09:30", "13:00"), (date(2026, 11, 30), "09:30", "10:00")],
        ),
        # down over the spring-forward weekend: Friday in winter time, Monday in summer time
        (
            utc(2026, 3, 6, 20, 0),
            utc(2026, 3, 9, 14, 0),
            [(date(2026, 3, 6), "15:00", "16:00"), (date(2026, 3, 9), "09:30", "10:00")],
        ),
    ],
    ids=["same-day", "weekend", "thanksgiving", "dst"],
)
def test_catch_up_after_downtime_requests_every_minute_once_in_order(tmp_path, monkeypatch, before, after, sessions):
    start = before.date() - timedelta(days=7)
    synthetic = SensorHarness(Settings(home=tmp_path, partition_start=start, tickers=TICKERS, seed=SEED), monkeypatch)
    first_keys, _ = synthetic.drain(before)
    assert first_keys
    keys, sizes = synthetic.drain(after)
    expected = [key(m) for day, first, end in sessions for m in with_synthetic_bars(ny_minutes(day, first, end))]
    assert keys == expected  # none skipped, none twice, oldest first
    assert len(set(keys)) == len(keys)
    assert all(size <= MAX_RUNS_PER_TICK for size in sizes)
    assert sizes[0] == MAX_RUNS_PER_TICK  # the backlog is paced, not launched at once
    assert len(sizes) == -(-len(expected) // MAX_RUNS_PER_TICK)


def test_the_first_tick_after_the_close_catches_up_the_whole_session(synthetic):
    keys, sizes = synthetic.drain(utc(2026, 11, 23, 21, 30))  # 16:30, sensor just turned on
    assert keys == [key(m) for m in with_synthetic_bars(ny_minutes(date(2026, 11, 23), "09:30", "16:00"))]
    assert max(sizes) == MAX_RUNS_PER_TICK


# --- nothing to do --------------------------------------------------------------------


@pytest.mark.parametrize(
    "now",
    [
        utc(2026, 11, 23, 14, 0),  # Monday 09:00, before the open
        utc(2026, 11, 21, 15, 0),  # Saturday
        utc(2026, 11, 22, 18, 0),  # Sunday
        utc(2026, 11, 26, 15, 0),  # Thanksgiving
        utc(2026, 4, 3, 15, 0),  # Good Friday
    ],
    ids=["before-open", "saturday", "sunday", "thanksgiving", "good-friday"],
)
def test_no_request_outside_a_session_on_a_fresh_sensor(synthetic, now):
    tick = synthetic.tick(now)
    assert tick.skipped
    assert tick.requests == []


@pytest.mark.parametrize(
    "now",
    [utc(2026, 11, 25, 23, 0), utc(2026, 11, 26, 15, 0), utc(2026, 11, 27, 3, 0), utc(2026, 11, 27, 14, 29, 59)],
    ids=["evening", "holiday", "holiday-night", "next-morning-before-open"],
)
def test_no_request_outside_a_session_after_a_day_of_ticks(synthetic, now):
    synthetic.drain(utc(2026, 11, 25, 21, 0))  # Wednesday's session fully handled
    tick = synthetic.tick(now)
    assert tick.requests == []


# --- replay file: gaps, late and revised bars ------------------------------------------

DAY = date(2026, 11, 23)


def write_bars(path: Path, bars: list[tuple[str, str, int]]) -> None:
    """bars: (ticker, New York HH:MM on DAY, volume); ts written with its -05:00 offset."""
    rows = [
        (ticker, f"{DAY.isoformat()}T{hhmm}:00-05:00", 100.0, 101.0, 99.0, 100.5, volume)
        for ticker, hhmm, volume in bars
    ]
    pl.DataFrame(rows, schema=["ticker", "ts", "open", "high", "low", "close", "volume"], orient="row").write_csv(path)


@pytest.fixture
def replay(tmp_path, monkeypatch) -> tuple[SensorHarness, Path]:
    path = tmp_path / "bars.csv"
    write_bars(path, [("AAPL", "09:30", 10)])
    settings = Settings(home=tmp_path / "home", partition_start=date(2026, 11, 16), bars_file=path)
    return SensorHarness(settings, monkeypatch), path


def at(hhmm: str) -> datetime:
    return ny(DAY, hhmm)


BARS = [("AAPL", "09:30", 10), ("AAPL", "09:31", 11), ("MSFT", "09:31", 12), ("AAPL", "09:33", 13), ("MSFT", "09:34", 14)]


def test_replay_minutes_without_bars_are_not_requested(replay):
    harness, path = replay
    write_bars(path, BARS)
    tick = harness.tick(at("09:40"))
    assert tick.run_keys == ["2026-11-23-09:30", "2026-11-23-09:31", "2026-11-23-09:33", "2026-11-23-09:34"]
    assert harness.tick(at("09:41")).requests == []


def test_replay_revised_bar_is_requested_again_with_a_new_run_key(replay):
    harness, path = replay
    write_bars(path, BARS)
    harness.tick(at("09:40"))
    revised = [b if b[:2] != ("MSFT", "09:31") else ("MSFT", "09:31", 999) for b in BARS]
    write_bars(path, revised)

    tick = harness.tick(at("09:41"))
    assert len(tick.requests) == 1
    request = tick.requests[0]
    assert request.partition_key == "2026-11-23-09:31"
    assert request.run_key == "2026-11-23-09:31@r1"
    assert request.tags["vol_pipeline/trigger"] == "revised_bars"
    fingerprint = minute_fingerprints(ReplayBarSource(path).fetch(at("09:31"), at("09:32")))[at("09:31")]
    assert SensorCursor.from_json(tick.cursor).seen[at("09:31").isoformat()] == fingerprint

    assert harness.tick(at("09:42")).requests == []  # once per revision

    write_bars(path, [b if b[:2] != ("MSFT", "09:31") else ("MSFT", "09:31", 1000) for b in BARS])
    second = harness.tick(at("09:43")).requests
    assert [r.partition_key for r in second] == ["2026-11-23-09:31"]
    assert second[0].run_key not in (request.run_key, "2026-11-23-09:31")  # a new run, not deduplicated


def test_replay_every_revision_gets_a_fresh_run_key(replay):
    harness, path = replay
    state_a, state_b = [("AAPL", "09:31", 11)], [("AAPL", "09:31", 12)]
    write_bars(path, state_a)
    run_keys = harness.tick(at("09:40")).run_keys  # A: first run
    for hhmm, state in (("09:41", state_b), ("09:42", state_a), ("09:43", state_b)):  # B, back to A, B again
        write_bars(path, state)
        tick = harness.tick(at(hhmm))
        assert [r.partition_key for r in tick.requests] == ["2026-11-23-09:31"]
        run_keys.extend(tick.run_keys)
    # Dagster launches a sensor's run_key once: a repeated key means the last revision never runs
    assert len(set(run_keys)) == len(run_keys) == 4


def test_replay_bar_order_in_the_file_does_not_trigger_a_revision(replay):
    harness, path = replay
    write_bars(path, BARS)
    harness.tick(at("09:40"))
    write_bars(path, list(reversed(BARS)))
    assert harness.tick(at("09:41")).requests == []


def test_replay_late_bar_for_a_passed_minute_is_requested(replay):
    harness, path = replay
    write_bars(path, BARS)
    harness.tick(at("09:40"))
    write_bars(path, [*BARS, ("AAPL", "09:32", 20), ("TSLA", "09:39", 21)])
    tick = harness.tick(at("09:41"))
    assert [r.partition_key for r in tick.requests] == ["2026-11-23-09:32", "2026-11-23-09:39"]
    assert all(r.run_key.startswith(f"{r.partition_key}@") for r in tick.requests)
    assert all(r.tags["vol_pipeline/trigger"] == "revised_bars" for r in tick.requests)
    assert harness.tick(at("09:42")).requests == []


def test_replay_new_and_revised_minutes_in_one_tick(replay):
    harness, path = replay
    write_bars(path, BARS)
    harness.tick(at("09:40"))
    write_bars(path, [("AAPL", "09:30", 77), *BARS[1:], ("AAPL", "09:41", 5)])
    tick = harness.tick(at("09:42"))
    assert [(r.partition_key, r.tags["vol_pipeline/trigger"]) for r in tick.requests] == [
        ("2026-11-23-09:30", "revised_bars"),
        ("2026-11-23-09:41", "new_minute"),
    ]
    assert tick.run_keys[1] == "2026-11-23-09:41"


def test_replay_changes_older_than_the_revision_window_are_not_requested(replay):
    harness, path = replay
    bars = [("AAPL", "09:30", 10), ("AAPL", "10:00", 11), ("AAPL", "11:40", 12)]
    write_bars(path, bars)
    harness.drain(at("09:40"))
    harness.drain(at("11:50"))  # cursor at 11:49: 09:30 is 139 minutes back, 10:00 is 109
    assert 109 < REVISION_MINUTES < 139
    write_bars(path, [("AAPL", "09:30", 999), ("AAPL", "10:00", 999), ("AAPL", "11:40", 999), ("AAPL", "09:31", 1)])
    tick = harness.tick(at("11:51"))
    # inside the window only: the 09:30 change and the late 09:31 bar are too old
    assert [r.partition_key for r in tick.requests] == ["2026-11-23-10:00", "2026-11-23-11:40"]


class SteppedClock:
    """The sensor's clock, moved on by every sleep the sensor takes (or stopped: step 0)."""

    def __init__(self, now: datetime, step: float = 1.0):
        self.now, self.step, self.sleeps = now, step, 0

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += timedelta(seconds=seconds * self.step)


@pytest.mark.parametrize("start, delay, waits_until", [
    ("10:15:57", 0, "10:16:00.2"),  # 3 s before the 10:15 bar closes: wait for it
    ("10:16:07", 10, "10:16:10.2"),  # a live feed's grace: due 10 s after the close
    ("10:15:30", 0, None),  # 30 s away: the next pass (5 s) comes first
    ("16:00:58", 0, None),  # after the close, the next minute is not a market minute
    ("09:29:58", 0, None),  # nor before the open
])
def test_a_tick_just_before_a_bar_is_due_waits_for_it(monkeypatch, start, delay, waits_until):
    day = date(2026, 11, 23)
    hhmmss = start.split(":")
    clock = SteppedClock(ny(day, ":".join(hhmmss[:2])) + timedelta(seconds=int(hhmmss[2])))
    began = clock.now
    monkeypatch.setattr(sensors_module, "utc_now", clock)
    monkeypatch.setattr(sensors_module, "sleep", clock.sleep)
    sensors_module.wait_for_due_bar(timedelta(seconds=delay))
    if waits_until is None:
        assert clock.sleeps == 0
    else:
        hh, mm, ss = waits_until.split(":")
        target = ny(day, f"{hh}:{mm}") + timedelta(seconds=float(ss))
        assert target <= clock.now < target + timedelta(seconds=sensors_module.DUE_POLL_S + 1e-6)
    assert clock.now - began <= timedelta(seconds=sensors_module.DUE_WAIT_S + 2 * sensors_module.DUE_MARGIN_S)


def test_a_stopped_clock_never_holds_a_tick_longer_than_a_pass(monkeypatch):
    clock = SteppedClock(ny(date(2026, 11, 23), "10:15") + timedelta(seconds=58), step=0)
    monkeypatch.setattr(sensors_module, "utc_now", clock)
    monkeypatch.setattr(sensors_module, "sleep", clock.sleep)
    sensors_module.wait_for_due_bar(timedelta(0))
    bound = (sensors_module.DUE_WAIT_S + sensors_module.DUE_MARGIN_S) / sensors_module.DUE_POLL_S
    assert 0 < clock.sleeps <= bound

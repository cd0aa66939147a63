"""The minute sensor across daemon restarts, downtime and a crash in the middle of a tick.

The sensor runs in Dagster's own sensor-daemon iteration against a SQLite instance on
disk (sensor_daemon.py); a restart is a new instance object and workspace on the same
DAGSTER_HOME, so only what the instance persisted carries over. One tick runs in a
separate process that SIGKILLs itself at Dagster's debug crash point RUN_LAUNCHED: after
launching the first run of the tick, before the tick's cursor reached the sensor state.

What must hold over the whole sequence: every closed minute with bars is requested and
has exactly one run (none skipped, none twice), counting what Dagster's run-key
deduplication absorbs. Submitted runs wait in the QueuedRunCoordinator's queue: nothing
dequeues them here, so no run executes (this test is about which runs exist).

Two ways back from the crash, both in Dagster 1.13.27 (dagster/_daemon/sensor.py):
- restarted within 24 h: Dagster resumes the interrupted tick from the run requests it
  stored with the tick (skipping the run already launched) and stores its cursor;
- restarted after more than 24 h: Dagster drops the interrupted tick; the sensor
  evaluates again from the last stored cursor and requests the crashed tick's minutes
  again; the one already launched is deduplicated by its run key.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
from dagster._core.scheduler.instigation import TickStatus
import polars as pl
import pytest

from vol_pipeline.defs.partitions import partition_key
from vol_pipeline_tests.faults.sensor_daemon import Daemon, write_location

NY = ZoneInfo("America/New_York")
ROOT = Path(__file__).resolve().parents[2]
FRIDAY, MONDAY = date(2026, 11, 20), date(2026, 11, 23)
TICKERS = ("AAPL", "MSFT")


def ny(day: date, hhmm: str, second: int = 10) -> datetime:
    hour, minute = map(int, hhmm.split(":"))
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=NY).astimezone(timezone.utc)


def minutes(day: date, first: str, end: str, gaps: tuple[str, ...] = ()) -> list[datetime]:
    """UTC starts of the New York minutes first <= m < end, without the `gaps`."""
    start, stop = ny(day, first, 0), ny(day, end, 0)
    skip = {ny(day, hhmm, 0) for hhmm in gaps}
    count = int((stop - start) / timedelta(minutes=1))
    return [m for m in (start + timedelta(minutes=i) for i in range(count)) if m not in skip]


def write_bars(path: Path, bar_minutes: list[datetime]) -> None:
    rows = [(ticker, m.isoformat(), 100.0, 101.0, 99.0, 100.5, 1000 + i)
            for i, m in enumerate(bar_minutes) for ticker in TICKERS]
    pl.DataFrame(rows, schema=["ticker", "ts", "open", "high", "low", "close", "volume"], orient="row").write_csv(path)


def crash_tick(home: Path, location: Path, now: datetime) -> int:
    """One tick in its own process, killed by Dagster's crash hook after its first launched run."""
    argv = [sys.executable, "-m", "vol_pipeline_tests.faults.workers", "sensor-tick", str(home / "dagster"),
            str(location), now.isoformat(), "RUN_LAUNCHED"]
    done = subprocess.run(argv, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=120)
    assert "not crashed" not in done.stdout, done.stderr
    return done.returncode


def partitions_of_runs(instance: dg.DagsterInstance) -> Counter:
    return Counter(run.tags["dagster/partition"] for run in instance.get_runs())


def drain(daemon: Daemon, now: datetime, max_ticks: int = 8) -> None:
    """Tick 6 s apart (over the sensor's 5 s minimum interval) until a tick launches nothing."""
    for k in range(max_ticks):
        before = len(daemon.instance.get_runs())
        daemon.tick(now + timedelta(seconds=6 * k))
        if len(daemon.instance.get_runs()) == before and k > 0:
            return
    pytest.fail("the sensor kept launching runs")


# Small on purpose: Dagster writes ~13 events per created run into SQLite (~0.3 s a run here).
SCENARIOS = {
    # bars: minutes with bars; ticks before the crash ("restart": a clean restart); the tick
    # that crashes; when the daemon comes back; whether Dagster resumes the crashed tick
    "restart-after-6-min": dict(
        bars=minutes(MONDAY, "09:30", "10:00", gaps=("09:33", "09:38", "09:45")),
        before=[ny(MONDAY, "09:34"), ny(MONDAY, "09:37"), "restart", ny(MONDAY, "09:40")],
        crash=ny(MONDAY, "09:43"),
        back=ny(MONDAY, "09:49"),
        resumed=True,
    ),
    "restart-after-a-weekend": dict(
        bars=minutes(FRIDAY, "15:50", "16:00", gaps=("15:54",)) + minutes(MONDAY, "09:30", "09:40"),
        before=[ny(FRIDAY, "15:53")],
        crash=ny(FRIDAY, "15:57"),
        back=ny(MONDAY, "09:37"),
        resumed=False,
    ),
}


@pytest.mark.parametrize("name", SCENARIOS)
def test_every_minute_is_requested_exactly_once_across_restarts_downtime_and_a_crashed_tick(tmp_path, name):
    scenario = SCENARIOS[name]
    bars_file = tmp_path / "bars.csv"
    write_bars(bars_file, scenario["bars"])
    location = write_location(tmp_path, bars_file, partition_start=date(2026, 11, 9))
    home = tmp_path / "dagster"

    daemon = Daemon(home, location)
    daemon.start_sensor()
    for step in scenario["before"]:
        if step == "restart":  # a clean restart: the new daemon must find the stored cursor
            cursor = daemon.cursor()
            daemon.close()
            daemon = Daemon(home, location)
            assert cursor and daemon.cursor() == cursor
        else:
            daemon.tick(step)
    cursor_before_crash = daemon.cursor()
    runs_before_crash = len(daemon.instance.get_runs())
    daemon.close()

    assert crash_tick(tmp_path, location, scenario["crash"]) == -signal.SIGKILL

    daemon = Daemon(home, location)  # restart after the downtime
    try:
        latest = daemon.ticks()[0]
        assert latest.status == TickStatus.STARTED, "the crashed tick should be left unfinished"
        assert len(latest.unsubmitted_run_ids_with_requests) > 0
        assert daemon.cursor() == cursor_before_crash, "the crashed tick's cursor must not have been stored"
        assert len(daemon.instance.get_runs()) == runs_before_crash + 1  # it launched one run, then died

        drain(daemon, scenario["back"])

        ticks = daemon.ticks()
        crashed = next(t for t in ticks if t.tick_id == latest.tick_id)
        assert (crashed.status == TickStatus.SUCCESS) == scenario["resumed"]  # resumed, or dropped (SKIPPED)
        run_keys = {run.run_id: run.tags["dagster/run_key"] for run in daemon.instance.get_runs()}
        deduplicated = [key for t in ticks for key in t.run_keys if key not in {run_keys[i] for i in t.run_ids}]
        launched = partitions_of_runs(daemon.instance)
    finally:
        daemon.close()

    closed = [m for m in scenario["bars"] if m + timedelta(minutes=1) <= scenario["back"]]
    expected = {partition_key(m) for m in closed}
    assert set(launched) == expected, (
        f"skipped: {sorted(expected - set(launched))}, unexpected: {sorted(set(launched) - expected)}")
    assert max(launched.values()) == 1, f"minutes run twice: {[k for k, n in launched.items() if n > 1]}"
    # the run launched by the crashed tick was requested again, and Dagster skipped it by its run key
    assert deduplicated == [partition_key(first_launched(scenario))]


def first_launched(scenario) -> datetime:
    """The crashed tick's first request: the first minute with bars after the last tick before it."""
    last_tick = [s for s in scenario["before"] if s != "restart"][-1]
    return next(m for m in scenario["bars"] if m + timedelta(minutes=1) > last_tick)

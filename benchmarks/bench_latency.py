"""Live latency: bar close -> recommendations committed, through the real minute sensor, the
real `dagster-daemon` and the instance's run launcher, on the embedded default instance.

    .venv/bin/python benchmarks/bench_latency.py              # 20 measured minutes (+1 warm-up): ~24 min
    .venv/bin/python benchmarks/bench_latency.py --quick      # 3 measured minutes (+1 warm-up): ~6 min
    .venv/bin/python benchmarks/bench_latency.py --ticks 30 --tickers 500 --keep
    .venv/bin/python benchmarks/bench_latency.py --source alpaca   # live mode against a loopback Alpaca

What runs, all of it the project's own machinery:

- a fresh temporary VOL_PIPELINE_HOME, with DAGSTER_HOME = <home>/dagster holding a copy of the
  repo-root dagster.yaml (SQLite storage, Dagster's QueuedRunCoordinator, the project's
  WarmRunLauncher); `dagster sensor start minute_sensor`, then `dagster-daemon run -w
  workspace.yaml` as a child process (the daemon starts the code server; minute runs start in
  the launcher's loaded spare processes, the first one in a new `dagster api execute_run`
  process from the code server);
- the replay bar source (`VOL_PIPELINE_BARS_FILE`, a Parquet file) is the only source of new
  bars. The benchmark releases bars on the wall clock: at each minute's close it atomically
  rewrites the file with that minute's bars added (synthetic bars, `SyntheticBarSource`, seed 7,
  the seed's 7 tickers by default). The 240 market minutes before the first released minute are
  written straight into the warehouse's `bars` table beforehand (untimed setup), so
  lane_features has its lookback as in a live session, and the file only ever holds released
  minutes (the sensor's first tick finds nothing to catch up).
- `--source alpaca`: the live Alpaca source instead (VOL_PIPELINE_SOURCE=alpaca) against the
  loopback server of the tests (`vol_pipeline_tests.fake_alpaca`, run in this process on
  127.0.0.1), which serves a minute's bars once the minute has closed on the (sensor's) clock.
  The sensor asks for a minute only VOL_PIPELINE_GRACE_SECONDS (default 10 s) after its close,
  so that grace is part of every latency; the executions step decides on the wall clock.

Clock. The minute partitions are real NYSE minutes and the sensor reads the wall clock. During
a regular session with enough minutes left, nothing is shifted: the released minutes are the
minutes now closing. Otherwise (nights, weekends, holidays: the machine runs on UTC at any
hour) the sensor's clock is shifted by a whole number of minutes onto the last completed
session (10:00 New York onwards), so minute boundaries still fall on real minute boundaries
and every latency is real wall-clock time. The project has no clock hook yet, so the shift is
done by a benchmark-only code location (a generated file in the temp dir) that replaces
`vol_pipeline.defs.sensors.utc_now` and then exposes `vol_pipeline.definitions.defs` unchanged;
the runs, launcher and daemon are untouched. Which clock was used is in the results.

Latency of a minute = timestamp of the `recommendations` ASSET_MATERIALIZATION event of its
run (logged by the run worker right after the IO manager's DuckDB transaction committed) minus
the minute's close on the wall clock (the bar's end, when its bars became available). The
warehouse is not polled: DuckDB admits one process at a time, so polling it would delay the
runs being measured. The breakdown per minute comes from the same instance: the sensor tick
that requested the run, and the run's RUN_ENQUEUED / RUN_STARTING / 'Started process for run' /
RUN_START / STEP_START / RUN_SUCCESS events. The first released minute is a warm-up (first process spawn,
cold caches) and is reported apart, not in the percentiles. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, time as dtime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, Row, write_results  # noqa: E402
from vol_pipeline.settings import DEFAULT_GRACE_SECONDS  # noqa: E402
sys.path.insert(0, str(ROOT))  # vol_pipeline_tests.fake_alpaca for --source alpaca

VENV_BIN = ROOT / ".venv" / "bin"
TARGET_P95_S = 4.0  # issue 17 (was 10 s)
SENSOR = "minute_sensor"
OFFSET_VAR = "VOL_PIPELINE_BENCH_SENSOR_CLOCK_OFFSET_S"
HISTORY_MINUTES = 240  # lane_features reads [start - 239 market minutes, end)
RELEASE_LEAD_S = 5.0  # the first released minute closes at least this long after setup ends
SETUP_SLACK_MINUTES = 6  # session minutes kept free for setup (sensor start, daemon, first tick)
FIRST_TICK_TIMEOUT_S = 300.0
DRAIN_TIMEOUT_S = 180.0  # after the last close, how long to wait for its recommendations
SAMPLE_EVERY_S = 1.0

LOCATION_TEMPLATE = '''"""Benchmark-only code location written by benchmarks/bench_latency.py: vol_pipeline's
definitions unchanged, except that the minute sensor's clock is shifted by ${offset_var} seconds
(a whole number of minutes) so that a past session's minutes close on today's wall clock."""

import os
from datetime import timedelta

import vol_pipeline.defs.sensors as _sensors

_OFFSET = timedelta(seconds=int(os.environ["{offset_var}"]))
_wall_clock = _sensors.utc_now
_sensors.utc_now = lambda: _wall_clock() + _OFFSET  # looked up by the sensor at every tick

from vol_pipeline.definitions import defs  # noqa: E402,F401
'''
OFFSET_WORKSPACE = """load_from:
  - python_file:
      relative_path: latency_location.py
      location_name: vol_pipeline
"""


# -- the clock -----------------------------------------------------------------------------
@dataclass
class Clock:
    offset: timedelta  # sensor clock = wall clock + offset (0, or whole minutes into the past)
    session: list[datetime]  # the market minutes (UTC bar starts) of the session being replayed
    description: str

    def close_on_wall_clock(self, minute: datetime) -> datetime:
        return minute + timedelta(minutes=1) - self.offset


def _session_minutes(day) -> list[datetime]:
    from zoneinfo import ZoneInfo

    from vol_pipeline.core.calendar import MARKET_TZ, market_minutes_between

    start = datetime.combine(day, dtime(), ZoneInfo(MARKET_TZ)).astimezone(timezone.utc)
    return market_minutes_between(start, start + timedelta(days=1))


def plan_clock(now: datetime, needed_minutes: int, mode: str = "auto") -> Clock:
    """`auto`: the wall clock when today's session still has the minutes this run needs,
    otherwise (or with `shifted`) a whole-minute shift onto the last completed session,
    starting at its 10:00 bar. `wall` refuses to run outside a session."""
    from vol_pipeline.core.calendar import sessions_between
    from vol_pipeline.settings import market_today

    today = market_today(now)
    wanted = needed_minutes + SETUP_SLACK_MINUTES
    session = _session_minutes(today)
    ahead = [m for m in session if m >= now]
    # Before the open, the session's minutes are all ahead but hours away: shift instead.
    open_now = bool(session) and session[0] <= now + timedelta(minutes=SETUP_SLACK_MINUTES)
    if open_now and len(ahead) >= wanted and mode != "shifted":
        return Clock(timedelta(0), _session_minutes(today), f"wall clock (live NYSE session {today})")
    if mode == "wall":
        raise RuntimeError(f"--clock wall: today's NYSE session does not have {wanted} minutes left ({len(ahead)})")
    for day in reversed(sessions_between(today - timedelta(days=14), today)):
        minutes = _session_minutes(day)
        if minutes and minutes[-1] + timedelta(minutes=1) <= now:
            break
    else:
        raise RuntimeError("no completed NYSE session in the last 14 days")
    anchor = 30  # 10:00 New York: the first tick of the shifted sensor skips the empty first half hour
    if len(minutes) - anchor < wanted:
        raise RuntimeError(f"{needed_minutes} minutes do not fit in the {day} session after 10:00; use fewer --ticks")
    next_wall_minute = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    offset = minutes[anchor] - next_wall_minute
    return Clock(offset, minutes, f"sensor clock shifted by {offset.total_seconds() / 60:+.0f} min onto the {day} session")


# -- processes -----------------------------------------------------------------------------
def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    return children


def _tree(pid: int) -> list[int]:
    """pid and all its descendants (alive now)."""
    children, found, todo = _children_map(), [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _tree_cpu_s(pid: int) -> float:
    """CPU seconds of pid's tree, including children it has already reaped."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    return total / ticks


def _machine_busy_s() -> float:
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _start_time(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except OSError:
        return None


def _stop(process: subprocess.Popen | None, grace_s: float = 15.0) -> None:
    """SIGTERM the process's process group (it was started in a session of its own) and each
    of its descendants by pid, then SIGKILL those still alive after `grace_s` (a pid counts as
    the same process only if its start time did not change)."""
    if process is None:
        return
    tree = {p: _start_time(p) for p in _tree(process.pid)} if process.poll() is None else {}

    def signal_all(sig: int) -> None:
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        for pid, started in tree.items():
            if started is not None and _start_time(pid) == started:
                try:
                    os.kill(pid, sig)
                except (ProcessLookupError, PermissionError):
                    pass

    signal_all(signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    signal_all(signal.SIGKILL)
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


# -- measurement ---------------------------------------------------------------------------
@dataclass
class Tick:
    key: str
    close: float  # wall-clock epoch seconds of the minute's end
    released: float  # when the rewritten bar file was in place
    warm_up: bool
    sensor_tick: float | None = None
    sensor_tick_end: float | None = None
    events: dict[str, float] = field(default_factory=dict)
    run_id: str | None = None
    status: str | None = None
    run_process: str = "-"  # the launcher's tag: warm (a loaded spare) or cold (a new process)

    @property
    def latency(self) -> float | None:
        committed = self.events.get("recommendations")
        return None if committed is None else committed - self.close

    def at(self, name: str) -> float | None:
        """Time of a point: "close", "tick" or an event; "A|B" is the first of them present."""
        for option in name.split("|"):
            # "ready": when the run could start being requested, the later of the close and the
            # tick's start (a tick that starts before the close waits in the sensor for the bar)
            ready = None if self.sensor_tick is None else max(self.close, self.sensor_tick)
            value = {"close": self.close, "tick": ready}.get(option, self.events.get(option))
            if value is not None:
                return value
        return None

    def part(self, start: str, end: str) -> float | None:
        a, b = self.at(start), self.at(end)
        return None if a is None or b is None else b - a


# (label, from, to): consecutive stages, they add up to the latency
STAGES = [
    ("wait for the sensor tick (close -> tick start; 0 when the tick started first and waited for the bar)", "close",
     "tick"),
    # without a run queue (DefaultRunCoordinator) there is no RUN_ENQUEUED: the next stage is empty
    ("sensor evaluation + run created (close or tick start -> RUN_ENQUEUED, or RUN_STARTING without a queue)", "tick",
     "RUN_ENQUEUED|RUN_STARTING"),
    ("run queue + launch call (RUN_ENQUEUED -> RUN_STARTING)", "RUN_ENQUEUED", "RUN_STARTING"),
    ("run process: hand-over to a loaded one, or spawn + imports (RUN_STARTING -> 'Started process')", "RUN_STARTING",
     "PROCESS_STARTED"),
    ("code location load in the run process, cached when loaded ('Started process' -> RUN_START)", "PROCESS_STARTED",
     "RUN_START"),
    ("run start -> first step (RUN_START -> STEP_START)", "RUN_START", "STEP_START"),
    ("steps bars -> recommendations committed (STEP_START -> materialization)", "STEP_START", "recommendations"),
]


def percentile(values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _sensor_ticks(instance):
    from dagster._core.definitions.run_request import InstigatorType

    states = [s for s in instance.all_instigator_state(instigator_type=InstigatorType.SENSOR) if s.instigator_name == SENSOR]
    if not states:
        return []
    return instance.get_ticks(states[0].instigator_origin_id, states[0].selector_id, limit=1000)


def _collect(instance, ticks: list[Tick]) -> None:
    import dagster as dg
    from dagster import DagsterEventType

    sensor_ticks = _sensor_ticks(instance)
    wanted = {
        DagsterEventType.RUN_ENQUEUED: "RUN_ENQUEUED", DagsterEventType.RUN_STARTING: "RUN_STARTING", DagsterEventType.RUN_START: "RUN_START",
        DagsterEventType.STEP_START: "STEP_START", DagsterEventType.RUN_SUCCESS: "RUN_END",
        DagsterEventType.RUN_FAILURE: "RUN_END",
    }
    for tick in ticks:
        records = instance.get_run_records(dg.RunsFilter(tags={"dagster/run_key": tick.key}), limit=1)
        if not records:
            continue
        run = records[0].dagster_run
        tick.run_id, tick.status = run.run_id, run.status.value
        tick.run_process = run.tags.get("vol_pipeline/run_process", "-")
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None:
                continue
            if event.event_type in wanted:
                tick.events.setdefault(wanted[event.event_type], entry.timestamp)
            elif event.event_type == DagsterEventType.ENGINE_EVENT and (entry.message or "").startswith("Started process for run"):
                tick.events.setdefault("PROCESS_STARTED", entry.timestamp)  # logged by the new run process
            elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION and event.asset_key == dg.AssetKey("recommendations"):
                tick.events.setdefault("recommendations", entry.timestamp)
        for sensor_tick in sensor_ticks:
            if tick.run_id in sensor_tick.run_ids:
                tick.sensor_tick, tick.sensor_tick_end = sensor_tick.timestamp, sensor_tick.end_timestamp


def _finished(instance, keys: list[str]) -> bool:
    import dagster as dg

    done = 0
    for key in keys:
        records = instance.get_run_records(dg.RunsFilter(tags={"dagster/run_key": key}), limit=1)
        if records and records[0].dagster_run.is_finished:
            done += 1
    return done == len(keys)


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _tickers(count: int | None) -> tuple[str, ...]:
    from vol_pipeline.core.config import DEFAULT_TICKERS

    return DEFAULT_TICKERS if not count else tuple(f"T{i:04d}" for i in range(count))


def measure(n_ticks: int, n_tickers: int | None = None, keep: bool = False, clock_mode: str = "auto",
            dagster_yaml: Path | None = None, log=print, source: str = "replay",
            grace_s: float = DEFAULT_GRACE_SECONDS) -> dict:
    """Runs the live measurement; returns the per-minute records and the context."""
    import polars as pl

    import dagster as dg
    from vol_pipeline.core.bars import BAR_SCHEMA
    from vol_pipeline.core.calendar import market_minutes_back
    from vol_pipeline.defs.partitions import partition_key
    from vol_pipeline.sources.synthetic import SyntheticBarSource
    from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse

    warm_up = 1
    clock = plan_clock(datetime.now(timezone.utc), warm_up + n_ticks, clock_mode)
    log(f"clock: {clock.description}")
    tickers = _tickers(n_tickers)
    tmp = Path(tempfile.mkdtemp(prefix="bench_latency_"))
    home, dagster_home, bars_file = tmp / "home", tmp / "home" / "dagster", tmp / "bars.parquet"
    dagster_home.mkdir(parents=True)
    shutil.copy(dagster_yaml or ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    pl.DataFrame(schema=BAR_SCHEMA).write_parquet(bars_file)
    if clock.offset:
        (tmp / "latency_location.py").write_text(LOCATION_TEMPLATE.replace("{offset_var}", OFFSET_VAR))
        (tmp / "workspace.yaml").write_text(OFFSET_WORKSPACE)
        workspace = tmp / "workspace.yaml"
    else:
        workspace = ROOT / "workspace.yaml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOL_PIPELINE_", "DAGSTER_"))}
    env.update(VOL_PIPELINE_HOME=str(home), DAGSTER_HOME=str(dagster_home), VOL_PIPELINE_ENV="local", PYTHONUNBUFFERED="1")
    alpaca = None
    if source == "alpaca":
        from vol_pipeline_tests.fake_alpaca import FakeAlpaca

        offset = clock.offset
        alpaca = FakeAlpaca("bench-key-id", "bench-secret-key", clock=lambda: datetime.now(timezone.utc) + offset)
        alpaca.start()
        env = {k: v for k, v in env.items() if not k.startswith("APCA_")}
        env.update(VOL_PIPELINE_SOURCE="alpaca", VOL_PIPELINE_ALPACA_DATA_URL=alpaca.url,
                   APCA_API_KEY_ID="bench-key-id", APCA_API_SECRET_KEY="bench-secret-key",
                   VOL_PIPELINE_GRACE_SECONDS=f"{grace_s:g}")
    else:
        env.update(VOL_PIPELINE_BARS_FILE=str(bars_file))
    if clock.offset:
        env[OFFSET_VAR] = str(int(clock.offset.total_seconds()))
    daemon_log = tmp / "daemon.log"
    daemon: subprocess.Popen | None = None
    failed = True
    try:
        started = time.time()
        cli = subprocess.run([str(VENV_BIN / "dagster"), "sensor", "start", SENSOR, "-w", str(workspace)],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, start_new_session=True)
        if cli.returncode != 0:
            raise RuntimeError(f"dagster sensor start failed:\n{cli.stdout}\n{cli.stderr}")
        sensor_start_s = time.time() - started

        busy_before, self_before = _machine_busy_s(), os.times()
        load_before = os.getloadavg()
        daemon_started = time.time()
        with open(daemon_log, "wb") as out:
            daemon = subprocess.Popen([str(VENV_BIN / "dagster-daemon"), "run", "-w", str(workspace)], cwd=ROOT, env=env,
                                      stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        os.environ["DAGSTER_HOME"] = str(dagster_home)  # the instance file leaves storage paths to DAGSTER_HOME
        instance = dg.DagsterInstance.from_config(str(dagster_home))
        tree_cpu = 0.0

        def sample_until(deadline: float, done=lambda: False) -> None:
            nonlocal tree_cpu
            while time.time() < deadline:
                if daemon.poll() is not None:
                    raise RuntimeError(f"dagster-daemon exited with {daemon.returncode}:\n{_log_tail(daemon_log)}")
                tree_cpu = max(tree_cpu, _tree_cpu_s(daemon.pid))
                if done():
                    return
                time.sleep(max(0.0, min(SAMPLE_EVERY_S, deadline - time.time())))

        def first_tick_done() -> bool:
            return any(t.timestamp >= daemon_started and t.end_timestamp for t in _sensor_ticks(instance))

        sample_until(time.time() + FIRST_TICK_TIMEOUT_S, first_tick_done)
        if not first_tick_done():
            raise RuntimeError(f"no {SENSOR} tick within {FIRST_TICK_TIMEOUT_S:.0f} s:\n{_log_tail(daemon_log)}")
        first_tick_s = time.time() - daemon_started
        log(f"setup: sensor start {sensor_start_s:.1f} s, daemon start -> first sensor tick {first_tick_s:.1f} s")

        # The minutes to release: the next ones closing at least RELEASE_LEAD_S from now.
        now = datetime.now(timezone.utc)
        upcoming = [m for m in clock.session if clock.close_on_wall_clock(m) >= now + timedelta(seconds=RELEASE_LEAD_S)]
        schedule = upcoming[: warm_up + n_ticks]
        if len(schedule) < warm_up + n_ticks:
            raise RuntimeError("the session ends before the benchmark would; run it later or with fewer --ticks")
        generator = SyntheticBarSource(tickers=tickers, seed=7)  # not `source`: that names the live source
        history_start = market_minutes_back(schedule[0], HISTORY_MINUTES)
        DuckDBWarehouse(home / "warehouse.duckdb").replace("bars", generator.fetch(history_start, schedule[0]),
                                                          history_start, schedule[0])
        released_bars = generator.fetch(schedule[0], schedule[-1] + timedelta(minutes=1))
        if alpaca is not None:  # served by the fake once each minute has closed on the clock
            alpaca.publish_frame(released_bars)
        log(f"releasing {len(schedule)} minutes {partition_key(schedule[0])} .. {partition_key(schedule[-1])} "
            f"({len(tickers)} tickers; first closes at {clock.close_on_wall_clock(schedule[0]):%H:%M:%S} UTC)")

        ticks: list[Tick] = []
        staging = bars_file.with_suffix(".tmp.parquet")
        for i, minute in enumerate(schedule):
            close = clock.close_on_wall_clock(minute).timestamp()
            sample_until(close)
            while time.time() < close:  # sub-second remainder
                time.sleep(close - time.time())
            if alpaca is None:
                released_bars.filter(pl.col("ts") <= minute).write_parquet(staging)
                os.replace(staging, bars_file)
            ticks.append(Tick(partition_key(minute), close, time.time(), warm_up=i < warm_up))
            log(f"  released {ticks[-1].key} (+{ticks[-1].released - close:.3f} s after its close)")
        keys = [t.key for t in ticks]
        sample_until(ticks[-1].close + DRAIN_TIMEOUT_S, lambda: _finished(instance, keys))
        tree_cpu = max(tree_cpu, _tree_cpu_s(daemon.pid))
        ended = time.time()
        busy_after, self_after = _machine_busy_s(), os.times()
        _collect(instance, ticks)
        tick_times = sorted(t.timestamp for t in _sensor_ticks(instance) if t.timestamp >= daemon_started)
        coordinator = instance.run_coordinator
        config = {
            "run_coordinator": type(coordinator).__name__,
            "dequeue_interval_s": getattr(coordinator, "dequeue_interval_seconds", None),
            "run_launcher": type(instance.run_launcher).__name__,
            "sensor_tick_intervals_s": [round(b - a, 2) for a, b in zip(tick_times, tick_times[1:])],
        }
        wall = ended - daemon_started
        self_cpu = (self_after.user + self_after.system) - (self_before.user + self_before.system)
        machine_busy = busy_after - busy_before
        others = max(0.0, machine_busy - tree_cpu - self_cpu)
        cpus = len(os.sched_getaffinity(0))
        load = {
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
            "wall_s": round(wall, 1),
            "machine_busy_cpu_s": round(machine_busy, 1),
            "daemon_tree_cpu_s": round(tree_cpu, 1),
            "benchmark_process_cpu_s": round(self_cpu, 1),
            "other_processes_cpu_s": round(others, 1),
            "other_processes_share": round(others / (wall * cpus), 3),
            "cpus": cpus,
        }
        failed = False
        return {
            "ticks": ticks, "clock": clock, "tickers": len(tickers), "load": load, "source": source, "grace_s": grace_s,
            "api_requests": len(alpaca.requests) if alpaca is not None else None,
            "setup": {"sensor_start_s": round(sensor_start_s, 1), "daemon_to_first_tick_s": round(first_tick_s, 1)},
            "config": config,
        }
    finally:
        _stop(daemon)
        if alpaca is not None:
            alpaca.stop()
        if failed:
            log(f"daemon log tail ({daemon_log}):\n{_log_tail(daemon_log)}")
        if keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def rows_from(result: dict) -> list[Row]:
    ticks: list[Tick] = result["ticks"]
    measured = [t for t in ticks if not t.warm_up]
    latencies = [t.latency for t in measured if t.latency is not None]
    missing = [t.key for t in measured if t.latency is None]
    clock: Clock = result["clock"]
    load = result["load"]
    details = {
        "source": result.get("source", "replay"),
        "grace_s": result.get("grace_s") if result.get("source") == "alpaca" else None,
        "run_process": {t.key: t.run_process for t in ticks},
        "api_requests": result.get("api_requests"),
        "clock": clock.description,
        "clock_offset_s": clock.offset.total_seconds(),
        "tickers": result["tickers"],
        "setup": result["setup"],
        "instance": result["config"],
        "load": load,
        "missing": missing,
        "ticks": [
            {"key": t.key, "warm_up": t.warm_up, "close": t.close, "released_after_close_s": round(t.released - t.close, 4),
             "sensor_tick": t.sensor_tick, "sensor_tick_end": t.sensor_tick_end, "run_id": t.run_id, "status": t.status,
             "events": t.events, "latency_s": t.latency}
            for t in ticks
        ],
    }
    if not latencies:
        return [Row("latency", "bar close -> recommendation committed", [float("nan")], target=f"< {TARGET_P95_S:.0f} s",
                    met=False, note=f"no minute got its recommendations committed ({len(missing)} missing)", extra=details)]
    p95 = percentile(latencies, 0.95)
    # Live Alpaca minutes wait the grace before they are even asked for: the target is on top of it.
    grace = result.get("grace_s", DEFAULT_GRACE_SECONDS)
    target_s = TARGET_P95_S + (grace if result.get("source") == "alpaca" else 0.0)
    n = len(latencies)
    busy = load["other_processes_share"]
    missing_note = f"; {len(missing)} minute(s) without recommendations in {DRAIN_TIMEOUT_S:.0f} s" if missing else ""
    live_source = (f"loopback Alpaca source, grace {grace:g} s included" if result.get("source") == "alpaca"
                   else "replay file released on the clock")
    where = (f"{n} live minutes, {result['tickers']} tickers, {live_source}, sensor + dagster-daemon + the instance's run launcher; "
             f"{'wall clock' if not clock.offset else 'sensor clock shifted onto a past session'}; "
             f"other processes used {busy:.0%} of the CPUs{missing_note}")
    rows = [
        Row("latency", "bar close -> recommendation committed (p50)", latencies, note=where, extra=details),
        Row("latency", "bar close -> recommendation committed (p95)", [p95], target=f"< {target_s:.0f} s",
            met=p95 < target_s and not missing,
            note=f"p95 of {n} minutes (linear interpolation){missing_note}", extra={"latencies_s": latencies}),
        Row("latency", "bar close -> recommendation committed (max)", [max(latencies)], note=f"worst of {n} minutes"),
    ]
    for label, start, end in STAGES:
        parts = [t.part(start, end) for t in measured]
        parts = [p for p in parts if p is not None]
        if parts:
            rows.append(Row("latency", f"  stage: {label}", parts, note="median over the minutes; stages add up to the latency",
                            extra={"p95": percentile(parts, 0.95), "max": max(parts)}))
    after = [t.part("recommendations", "RUN_END") for t in measured]
    after = [p for p in after if p is not None]
    if after:
        rows.append(Row("latency", "  after: executions + run end (materialization -> RUN_SUCCESS)", after,
                        note="not part of the latency"))
    intervals = result["config"]["sensor_tick_intervals_s"]
    if intervals:
        rows.append(Row("latency", "  sensor tick interval (between consecutive ticks)", intervals,
                        note="the sensor's minimum_interval_seconds on the daemon's sensor loop; sets the first stage"))
    evaluation = [t.sensor_tick_end - t.sensor_tick for t in measured if t.sensor_tick and t.sensor_tick_end]
    if evaluation:
        rows.append(Row("latency", "  sensor tick duration (tick start -> tick end)", evaluation,
                        note="includes the wait for the bar when the tick started before it was due"))
    warm = [t for t in ticks if t.warm_up and t.latency is not None]
    if warm:
        rows.append(Row("latency", "warm-up minute: bar close -> recommendation committed", [warm[0].latency],
                        note="first run of the daemon; not in the percentiles"))
    return rows


def run(quick: bool = False, ticks: int | None = None, tickers: int | None = None, keep: bool = False,
        clock: str = "auto", dagster_yaml: Path | None = None, source: str = "replay",
        grace_s: float = DEFAULT_GRACE_SECONDS) -> list[Row]:
    """`quick`: 3 measured minutes; otherwise 20 (override with `ticks`)."""
    return rows_from(measure(ticks or (3 if quick else 20), tickers, keep, clock, dagster_yaml, source=source,
                             grace_s=grace_s))


def _print_ticks(rows: list[Row]) -> None:
    details = rows[0].extra
    print(f"\nclock: {details['clock']}; setup {details['setup']}; load {details['load']}")
    print(f"instance: {details['instance']}")
    print("| minute | latency s | close->tick | tick->enqueued | queue+launch | process | code load | "
          "start->step | steps | status | run process |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for record in details["ticks"]:
        t = Tick(record["key"], record["close"], record["close"], record["warm_up"], record["sensor_tick"],
                 record["sensor_tick_end"], record["events"], record["run_id"], record["status"])
        cells = [t.part(a, b) for _, a, b in STAGES]
        text = " | ".join("-" if c is None else f"{c:.2f}" for c in cells)
        latency = "-" if t.latency is None else f"{t.latency:.2f}"
        print(f"| {t.key}{' (warm-up)' if t.warm_up else ''} | {latency} | {text} | {t.status} | "
              f"{details['run_process'].get(t.key, '-')} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, help="measured minutes (default 20, 3 with --quick)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tickers", type=int, help="synthetic tickers T0000.. instead of the seed's 7")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home (instance, warehouse, daemon log)")
    parser.add_argument("--clock", choices=["auto", "wall", "shifted"], default="auto",
                        help="auto: the wall clock during a session with enough minutes left, else shifted onto the "
                             "last completed session; shifted: always shift (to compare)")
    parser.add_argument("--dagster-yaml", type=Path,
                        help="instance file to use instead of the repo-root dagster.yaml (to compare instance settings)")
    parser.add_argument("--source", choices=["replay", "alpaca"], default="replay",
                        help="replay: a bar file released on the clock; alpaca: the live Alpaca source against a "
                             "loopback server publishing on the clock")
    parser.add_argument("--grace", type=float, default=DEFAULT_GRACE_SECONDS,
                        help="with --source alpaca: VOL_PIPELINE_GRACE_SECONDS (the loopback server publishes at the close)")
    args = parser.parse_args(argv)

    def terminate(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, terminate)
    try:
        rows = run(args.quick, args.ticks, args.tickers, args.keep, args.clock, args.dagster_yaml, args.source, args.grace)
    except KeyboardInterrupt:
        print("interrupted: dagster-daemon and its processes were stopped", file=sys.stderr)
        raise SystemExit(130) from None
    _print_ticks(rows)
    print(write_results("latency" if args.source == "replay" else f"latency_{args.source}", rows).read_text())


if __name__ == "__main__":
    main()

"""The sensor daemon's own iteration (dagster._daemon.sensor.execute_sensor_iteration: ticks,
cursor, run keys, run submission, resuming an interrupted tick) run in this process against
an instance on disk, with both clocks set to a chosen time.

The real `dagster-daemon` runs this same function in a loop, every sensor at most every
`minimum_interval_seconds` of wall time; driving it here lets a test put hours of
downtime between two ticks. Clocks: Dagster's (tick timestamps, the minimum interval, how
old an interrupted tick may be to be resumed) via dagster's test helper freeze_time, and
the sensor's (vol_pipeline.defs.sensors.utc_now). The code location is the project's
build_definitions in a generated file (as benchmarks/bench_latency.py does), loaded in
process, so the monkeypatched clock is the one the sensor reads.
"""

from __future__ import annotations

import logging
import signal
from contextlib import ExitStack, contextmanager
from datetime import date, datetime
from pathlib import Path

import dagster as dg
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.test_utils import freeze_time
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._core.workspace.context import WorkspaceProcessContext
from dagster._core.workspace.load_target import InProcessWorkspaceLoadTarget
from dagster._daemon.sensor import execute_sensor_iteration

from vol_pipeline.defs import sensors as sensors_module
from vol_pipeline.runs import instance_yaml

SENSOR = "minute_sensor"
LOCATION_NAME = "vol_pipeline"
LOCATION = '''"""Test-only code location: vol_pipeline's definitions on a replay bar file."""
from datetime import date
from pathlib import Path

from vol_pipeline.definitions import build_definitions
from vol_pipeline.settings import Settings

defs = build_definitions(Settings(home=Path({home!r}), partition_start=date.fromisoformat({start!r}),
                                  bars_file=Path({bars!r})))
'''
LOGGER = logging.getLogger("vol_pipeline_tests.sensor_daemon")


def write_location(folder: Path, bars_file: Path, partition_start: date) -> Path:
    """The code location file, and the instance folder `folder/dagster` with the CLI's
    instance settings (SQLite, QueuedRunCoordinator: submitted runs wait in the queue, which
    nothing drains here, so no run executes)."""
    (folder / "dagster").mkdir(parents=True, exist_ok=True)
    (folder / "dagster" / "dagster.yaml").write_text(instance_yaml(folder / "dagster"))
    path = folder / "sensor_location.py"
    path.write_text(LOCATION.format(home=str(folder), start=partition_start.isoformat(), bars=str(bars_file)))
    return path


@contextmanager
def clocks(now: datetime):
    original = sensors_module.utc_now
    sensors_module.utc_now = lambda: now
    try:
        with freeze_time(now):
            yield
    finally:
        sensors_module.utc_now = original


class Daemon:
    """One 'daemon process' lifetime: an instance object and a workspace on DAGSTER_HOME.
    Closing it and opening a new one is a restart: only what the instance stored survives."""

    def __init__(self, dagster_home: Path, location_file: Path):
        self._stack = ExitStack()
        self.instance = self._stack.enter_context(dg.DagsterInstance.from_config(str(dagster_home)))
        origin = InProcessCodeLocationOrigin(
            LoadableTargetOrigin(python_file=str(location_file), working_directory=str(location_file.parent)),
            location_name=LOCATION_NAME,
        )
        self.workspace = self._stack.enter_context(
            WorkspaceProcessContext(self.instance, InProcessWorkspaceLoadTarget(origin)))

    def remote_sensor(self):
        location = self.workspace.create_request_context().get_code_location(LOCATION_NAME)
        (repository,) = location.get_repositories().values()
        return repository.get_sensor(SENSOR)

    def start_sensor(self) -> None:
        """What turning the sensor on in the UI does (it is stopped by default locally)."""
        self.instance.start_sensor(self.remote_sensor())

    def state(self):
        sensor = self.remote_sensor()
        return self.instance.get_instigator_state(sensor.get_remote_origin_id(), sensor.selector_id)

    def cursor(self) -> str | None:
        return self.state().instigator_data.cursor

    def ticks(self):
        sensor = self.remote_sensor()
        return list(self.instance.get_ticks(sensor.get_remote_origin_id(), sensor.selector_id))

    def tick(self, now: datetime, crash_point: str | None = None) -> None:
        flags = {SENSOR: {crash_point: signal.SIGKILL}} if crash_point else None
        with clocks(now):
            for _ in execute_sensor_iteration(self.workspace, LOGGER, threadpool_executor=None,
                                              submit_threadpool_executor=None, debug_crash_flags=flags):
                pass

    def close(self) -> None:
        self._stack.close()

    def __enter__(self) -> "Daemon":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def sensor_iteration(dagster_home: str, location_file: Path, now: datetime, crash_point: str | None = None) -> None:
    """One iteration in a fresh Daemon (used by the crashing subprocess, workers.py)."""
    with Daemon(Path(dagster_home), location_file) as daemon:
        daemon.tick(now, crash_point)

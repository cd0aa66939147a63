"""What the tests that run the real `dagster-daemon` share: a code location on the loopback
Alpaca server, the daemon's environment, the daemon process, and waiting for a condition."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

BIN = Path(sys.executable).parent
TIMEOUT_S = 180
LOCATION = '''from datetime import date
from pathlib import Path

from vol_pipeline.definitions import build_definitions
from vol_pipeline.settings import Settings

defs = build_definitions(Settings(home=Path({home!r}), partition_start=date(2026, 11, 16), tickers={tickers!r},
                                  watchlist={tickers!r}, source="alpaca", alpaca_data_url={url!r}, grace_seconds=0.0))
'''


def wait_for(condition, what: str, timeout: float = TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def alpaca_workspace(folder: Path, home: Path, tickers: tuple[str, ...], url: str, name: str) -> tuple[Path, Path]:
    """(workspace.yaml, location.py): the project's definitions reading bars from `url`."""
    location = folder / "location.py"
    location.write_text(LOCATION.format(home=str(home), tickers=tickers, url=url))
    workspace = folder / "workspace.yaml"
    workspace.write_text(f"load_from:\n  - python_file:\n      relative_path: {location}\n      location_name: {name}\n")
    return workspace, location


def daemon_env(dagster_home: Path, key_id: str, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOL_PIPELINE_", "APCA_", "DAGSTER_"))}
    env.update(DAGSTER_HOME=str(dagster_home), APCA_API_KEY_ID=key_id, APCA_API_SECRET_KEY=secret,
               PYTHONWARNINGS="ignore")
    return env


@contextmanager
def running_daemon(workspace: Path, env: dict[str, str], cwd: Path, log: Path | None = None) -> Iterator[subprocess.Popen]:
    """`dagster-daemon run` in its own process group, stopped with everything it started."""
    import signal

    err = log.open("w") if log else subprocess.DEVNULL
    daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env=env, cwd=cwd,
                              stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    try:
        yield daemon
    finally:
        os.killpg(daemon.pid, signal.SIGTERM)
        daemon.wait(timeout=60)


def launch_minute(workspace: Path, env: dict[str, str], key: str, trigger: str) -> None:
    """Queue one minute_job run of partition `key` (`dagster job launch`, as the sensor's
    requests are queued); the daemon starts it."""
    import json

    tags = json.dumps({"dagster/partition": key, "vol_pipeline/trigger": trigger})
    subprocess.run([str(BIN / "dagster"), "job", "launch", "-w", str(workspace), "-j", "minute_job", "--tags", tags],
                   env=env, check=True, capture_output=True, timeout=120)

"""The real dagster-webserver for tests: a fresh instance folder, a free port on 127.0.0.1 and
a client for the GraphQL API the UI's pages use."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
LOCATION = {"repositoryLocationName": "vol_pipeline", "repositoryName": "__repository__"}
START_TIMEOUT_S = 120  # the code location takes several seconds to load on 2 cores


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare_home(home: Path) -> Path:
    """`home` as VOL_PIPELINE_HOME with its Dagster instance in home/dagster, configured by the
    repo-root dagster.yaml (what the CLI and `dagster dev` use). Returns the DAGSTER_HOME."""
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    return dagster_home


@dataclass(frozen=True)
class Webserver:
    url: str  # http://127.0.0.1:<port>

    def graphql(self, text: str, variables: dict | None = None) -> dict:
        response = httpx.post(f"{self.url}/graphql", json={"query": text, "variables": variables or {}}, timeout=60)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


def instigator_state(graphql: Callable[..., dict], kind: str, name: str) -> dict:
    """{id, status, selectorId} of the sensor or schedule `name` (kind "sensor" / "schedule")."""
    field = "sensorOrError(sensorSelector: $selector)" if kind == "sensor" else "scheduleOrError(scheduleSelector: $selector)"
    selector_type = "SensorSelector" if kind == "sensor" else "ScheduleSelector"
    key = "sensorName" if kind == "sensor" else "scheduleName"
    text = f"query($selector: {selector_type}!) {{ {field} {{ ... on {kind.title()} {{ {kind}State {{ id status selectorId }} }} }} }}"
    data = graphql(text, {"selector": {**LOCATION, key: name}})
    return next(iter(data.values()))[f"{kind}State"]


@contextmanager
def running_webserver(home: Path, env: dict[str, str] | None = None) -> Iterator[Webserver]:
    """`dagster-webserver -w workspace.yaml` from the repo root on `home` (see prepare_home),
    serving once this yields; terminated on exit. The caller's VOL_PIPELINE_* variables are
    dropped so the code location sees only `env` (same data, same partitions as the test)."""
    with _serving(home, env, "dagster-webserver", [], "webserver.log") as (server, _process):
        yield server


@dataclass(frozen=True)
class DagsterDev:
    """`dagster dev`: its webserver, and the process that started it with the daemon."""

    server: Webserver
    pid: int  # the `dagster dev` process (leader of the process group of everything it started)


@contextmanager
def running_dagster_dev(home: Path, env: dict[str, str] | None = None) -> Iterator[DagsterDev]:
    """`dagster dev -w workspace.yaml` from the repo root on `home`, as README "The Dagster UI"
    starts it: the webserver AND the daemon (sensors, schedules, the run queue: runs launched
    from the UI start). Same environment as running_webserver; yields once the webserver has
    loaded the code location. On exit the whole process group goes (webserver, daemon, code
    servers and any run still going)."""
    with _serving(home, env, "dagster", ["dev"], "dagster_dev.log") as (server, process):
        yield DagsterDev(server, process.pid)


def server_env(home: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a server on `home`: DAGSTER_HOME = home/dagster, VOL_PIPELINE_HOME =
    home, none of the caller's VOL_PIPELINE_* variables, then `env`."""
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("VOL_PIPELINE_")}
    return {**base_env, "DAGSTER_HOME": str(home / "dagster"), "VOL_PIPELINE_HOME": str(home),
            "PYTHONWARNINGS": "ignore", **(env or {})}


@contextmanager
def _serving(home: Path, env: dict[str, str] | None, command: str, args: list[str], log_name: str
             ) -> Iterator[tuple[Webserver, subprocess.Popen]]:
    prepare_home(home)
    port = free_port()
    # Its log goes to a file: an unread pipe fills up and would block the server mid-test.
    log = home / log_name
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / command), *args, "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=ROOT, env=server_env(home, env), stdout=log_file, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: everything it starts goes with it
            preexec_fn=_default_interrupts,
        )
    server = Webserver(f"http://127.0.0.1:{port}")
    try:
        _wait_until_loaded(server, process, log)
        yield server, process
    finally:
        _stop_group(process)


def _default_interrupts() -> None:
    """In the child before exec: SIGINT/SIGTERM as by default even when the caller ignores them
    (a background job of a non-interactive shell): Dagster maps SIGTERM to SIGINT's handler, and
    Python installs its KeyboardInterrupt handler only for a SIGINT that is not ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _stop_group(process: subprocess.Popen) -> None:
    """SIGTERM to the process group (the server shuts its children down), SIGKILL to whatever
    of the group is still there after 30 s or once the leader has gone."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # children left behind (code servers, run workers)
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


def _wait_until_loaded(server: Webserver, process: subprocess.Popen, log: Path) -> None:
    """Until the server answers and the code location has loaded (pages of a location that
    is still loading show a spinner, not the assets)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            data = server.graphql("{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }")
            entries = data["workspaceOrError"].get("locationEntries") or []
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
        except httpx.HTTPError:
            pass  # not listening yet
        assert process.poll() is None, f"webserver exited: {log.read_text(errors='replace')[-2000:]}"
        assert time.monotonic() < deadline, f"webserver did not load the code location in {START_TIMEOUT_S} s"
        time.sleep(0.5)


# --- how busy a server process is ------------------------------------------------------------
IDLE_SAMPLE_S = 0.5  # one /proc sample every half second
IDLE_CPU_SHARE = 0.10  # "idle": under a tenth of one core in a sample ...
IDLE_SAMPLES = 2  # ... for this many samples in a row (the open page's own polling is brief bursts)


def child_pid(parent: int, marker: str, timeout: float = 30) -> int:
    """The pid of the child of `parent` whose command line contains `marker` (e.g. the
    `dagster_webserver` process that `dagster dev` starts)."""
    deadline = time.monotonic() + timeout
    while True:
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            if ppid == parent and marker in cmdline:
                return int(proc.name)
        assert time.monotonic() < deadline, f"no child of {parent} running {marker!r}"
        time.sleep(0.5)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Busy:
    seconds: float  # from the call until the first of IDLE_SAMPLES quiet samples (inf: never quiet)
    cpu_s: float  # CPU time the process used in those seconds
    samples: tuple[float, ...]  # CPU seconds per sample, in order


def busy_until_idle(pid: int, timeout: float = 60) -> Busy:
    """Sample the CPU time of `pid` every IDLE_SAMPLE_S until it has used less than
    IDLE_CPU_SHARE of a core in IDLE_SAMPLES samples in a row, or `timeout` passed. Busy for
    the time until the first of those quiet samples began."""
    started = time.monotonic()
    previous = cpu_seconds(pid)
    samples: list[tuple[float, float]] = []  # (seconds since started at the sample's start, CPU seconds used)
    while time.monotonic() - started < timeout:
        begun = time.monotonic()
        time.sleep(IDLE_SAMPLE_S)
        now = cpu_seconds(pid)
        quiet_limit = IDLE_CPU_SHARE * (time.monotonic() - begun)
        samples.append((begun - started, now - previous))
        previous = now
        tail = samples[-IDLE_SAMPLES:]
        if len(tail) == IDLE_SAMPLES and all(used < quiet_limit for _, used in tail):
            first_quiet = len(samples) - IDLE_SAMPLES
            return Busy(round(tail[0][0], 2), round(sum(used for _, used in samples[:first_quiet]), 3),
                        tuple(round(used, 3) for _, used in samples))
    return Busy(float("inf"), round(sum(used for _, used in samples), 3), tuple(round(used, 3) for _, used in samples))

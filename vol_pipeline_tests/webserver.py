"""The real dagster-webserver for tests: a fresh instance folder, a free port on 127.0.0.1 and
a client for the GraphQL API the UI's pages use."""

from __future__ import annotations

import os
import shutil
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
    dagster_home = prepare_home(home)
    port = free_port()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("VOL_PIPELINE_")}
    full_env = {**base_env, "DAGSTER_HOME": str(dagster_home), "VOL_PIPELINE_HOME": str(home),
                "PYTHONWARNINGS": "ignore", **(env or {})}
    # Its log goes to a file: an unread pipe fills up and would block the server mid-test.
    log = home / "webserver.log"
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "dagster-webserver"), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            cwd=ROOT, env=full_env, stdout=log_file, stderr=subprocess.STDOUT,
        )
    server = Webserver(f"http://127.0.0.1:{port}")
    try:
        _wait_until_loaded(server, process, log)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
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

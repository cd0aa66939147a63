"""The code location as the UI sees it: the real dagster-webserver on 127.0.0.1, queried
and driven through the same GraphQL API its pages use (asset graph, checks, partitions,
and the sensor/schedule toggles)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
LOCATION = {"repositoryLocationName": "vol_pipeline", "repositoryName": "__repository__"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def graphql(tmp_path_factory):
    home = tmp_path_factory.mktemp("ui")
    dagster_home = home / "dagster"
    dagster_home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", dagster_home / "dagster.yaml")
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(dagster_home), "VOL_PIPELINE_HOME": str(home), "PYTHONWARNINGS": "ignore"}
    webserver = Path(sys.executable).parent / "dagster-webserver"
    process = subprocess.Popen(
        [str(webserver), "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}/graphql"

    def query(text: str, variables: dict | None = None) -> dict:
        response = httpx.post(url, json={"query": text, "variables": variables or {}}, timeout=60)
        response.raise_for_status()
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]

    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/server_info", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, process.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "webserver did not start in 120 s"
            time.sleep(0.5)
        yield query
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_code_location_loads_without_errors(graphql):
    data = graphql("{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError { __typename } } } } }")
    entries = data["workspaceOrError"]["locationEntries"]
    assert [(e["name"], e["locationOrLoadError"]["__typename"]) for e in entries] == [("vol_pipeline", "RepositoryLocation")]


def test_asset_graph_shows_the_chain_with_checks(graphql):
    data = graphql("""{ assetNodes { assetKey { path } dependencyKeys { path }
        assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }""")
    nodes = {n["assetKey"]["path"][0]: n for n in data["assetNodes"]}
    assert {"bars", "lane_features", "signals", "recommendations", "bars_quarantine"} <= set(nodes)
    assert [d["path"][0] for d in nodes["signals"]["dependencyKeys"]] == ["lane_features"]
    checks = {c["name"]: c["blocking"] for c in nodes["recommendations"]["assetChecksOrError"]["checks"]}
    assert checks == {"pandera_contract": True, "confidence_formula": True}


def test_partition_page_lists_market_minutes(graphql):
    data = graphql("""{ assetNodeOrError(assetKey: {path: ["recommendations"]}) {
        ... on AssetNode { partitionKeysByDimension { partitionKeys } } } }""")
    keys = data["assetNodeOrError"]["partitionKeysByDimension"][0]["partitionKeys"]
    assert keys and all("09:30" <= key[-5:] <= "15:59" for key in keys)
    per_day: dict[str, int] = {}
    for key in keys:
        per_day[key[:10]] = per_day.get(key[:10], 0) + 1
    assert set(per_day.values()) <= {390, 210} | {per_day[max(per_day)]}  # today's session may be partial


def _instigator(graphql, kind: str, name: str) -> dict:
    field = "sensorOrError(sensorSelector: $selector)" if kind == "sensor" else "scheduleOrError(scheduleSelector: $selector)"
    selector_type = "SensorSelector" if kind == "sensor" else "ScheduleSelector"
    key = "sensorName" if kind == "sensor" else "scheduleName"
    text = f"query($selector: {selector_type}!) {{ {field} {{ ... on {kind.title()} {{ {kind}State {{ id status selectorId }} }} }} }}"
    data = graphql(text, {"selector": {**LOCATION, key: name}})
    return next(iter(data.values()))[f"{kind}State"]


def test_sensor_is_stopped_by_default_and_toggles(graphql):
    assert _instigator(graphql, "sensor", "minute_sensor")["status"] == "STOPPED"
    started = graphql(
        "mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) { ... on Sensor { sensorState { id status } } } }",
        {"s": {**LOCATION, "sensorName": "minute_sensor"}},
    )["startSensor"]["sensorState"]
    assert started["status"] == "RUNNING"
    assert _instigator(graphql, "sensor", "minute_sensor")["status"] == "RUNNING"
    state = _instigator(graphql, "sensor", "minute_sensor")
    stopped = graphql(
        "mutation($id: String) { stopSensor(id: $id) { ... on StopSensorMutationResult { instigationState { status } } } }",
        {"id": state["id"]},
    )["stopSensor"]["instigationState"]
    assert stopped["status"] == "STOPPED"
    assert _instigator(graphql, "sensor", "minute_sensor")["status"] == "STOPPED"


def test_session_close_schedule_is_stopped_by_default_and_toggles(graphql):
    assert _instigator(graphql, "schedule", "session_close_schedule")["status"] == "STOPPED"
    graphql(
        "mutation($s: ScheduleSelector!) { startSchedule(scheduleSelector: $s) { __typename } }",
        {"s": {**LOCATION, "scheduleName": "session_close_schedule"}},
    )
    assert _instigator(graphql, "schedule", "session_close_schedule")["status"] == "RUNNING"
    state = _instigator(graphql, "schedule", "session_close_schedule")
    graphql("mutation($id: String) { stopRunningSchedule(id: $id) { __typename } }", {"id": state["id"]})
    assert _instigator(graphql, "schedule", "session_close_schedule")["status"] == "STOPPED"

"""The code location as the UI sees it: the real dagster-webserver on 127.0.0.1, queried
and driven through the same GraphQL API its pages use (asset graph, checks, partitions,
and the sensor/schedule toggles)."""

from __future__ import annotations

from datetime import date, timezone

import pytest

from vol_pipeline.core.calendar import session_minutes_utc
from vol_pipeline.defs.partitions import register_minutes
from vol_pipeline.runs import cli_instance
from vol_pipeline.settings import Settings
from vol_pipeline_tests.webserver import LOCATION, instigator_state, running_webserver


# Minute keys registered before the server starts (the sensor and the CLI register them):
# a normal session and the half day after Thanksgiving.
SESSIONS = {"2025-11-26": 390, "2025-11-28": 210}


@pytest.fixture(scope="module")
def graphql(tmp_path_factory):
    home = tmp_path_factory.mktemp("ui")
    with cli_instance(Settings(home=home, partition_start=date(2025, 11, 3))) as instance:
        for day in SESSIONS:
            session = date.fromisoformat(day)
            register_minutes(instance, [m.replace(tzinfo=timezone.utc) for m in session_minutes_utc(session).tolist()])
    with running_webserver(home) as server:
        yield server.graphql


def test_code_location_loads_without_errors(graphql):
    data = graphql("{ workspaceOrError { ... on Workspace { locationEntries { name locationOrLoadError { __typename } } } } }")
    entries = data["workspaceOrError"]["locationEntries"]
    assert [(e["name"], e["locationOrLoadError"]["__typename"]) for e in entries] == [("vol_pipeline", "RepositoryLocation")]


def test_asset_graph_shows_the_chain_with_checks(graphql):
    data = graphql("""{ assetNodes { assetKey { path } dependencyKeys { path }
        assetChecksOrError { ... on AssetChecks { checks { name blocking } } } } }""")
    nodes = {n["assetKey"]["path"][0]: n for n in data["assetNodes"]}
    assert {"bars", "lane_features", "signals", "recommendations", "bars_quarantine"} <= set(nodes)
    assert [d["path"][0] for d in nodes["signals"]["dependencyKeys"]] == ["lane_features"]  # no news source here
    assert [d["path"][0] for d in nodes["news_sentiment"]["dependencyKeys"]] == ["news_items"]
    checks = {c["name"]: c["blocking"] for c in nodes["recommendations"]["assetChecksOrError"]["checks"]}
    assert checks == {"pandera_contract": True, "confidence_formula": True}


def test_partition_page_lists_market_minutes(graphql):
    data = graphql("""{ assetNodeOrError(assetKey: {path: ["recommendations"]}) {
        ... on AssetNode { partitionKeysByDimension { partitionKeys } } } }""")
    keys = data["assetNodeOrError"]["partitionKeysByDimension"][0]["partitionKeys"]
    assert keys == sorted(keys) and all("09:30" <= key[-5:] <= "15:59" for key in keys)
    per_day: dict[str, int] = {}
    for key in keys:
        per_day[key[:10]] = per_day.get(key[:10], 0) + 1
    assert per_day == SESSIONS


def test_sensor_is_stopped_by_default_and_toggles(graphql):
    assert instigator_state(graphql, "sensor", "minute_sensor")["status"] == "STOPPED"
    started = graphql(
        "mutation($s: SensorSelector!) { startSensor(sensorSelector: $s) { ... on Sensor { sensorState { id status } } } }",
        {"s": {**LOCATION, "sensorName": "minute_sensor"}},
    )["startSensor"]["sensorState"]
    assert started["status"] == "RUNNING"
    assert instigator_state(graphql, "sensor", "minute_sensor")["status"] == "RUNNING"
    state = instigator_state(graphql, "sensor", "minute_sensor")
    stopped = graphql(
        "mutation($id: String) { stopSensor(id: $id) { ... on StopSensorMutationResult { instigationState { status } } } }",
        {"id": state["id"]},
    )["stopSensor"]["instigationState"]
    assert stopped["status"] == "STOPPED"
    assert instigator_state(graphql, "sensor", "minute_sensor")["status"] == "STOPPED"


def test_session_close_schedule_is_stopped_by_default_and_toggles(graphql):
    assert instigator_state(graphql, "schedule", "session_close_schedule")["status"] == "STOPPED"
    graphql(
        "mutation($s: ScheduleSelector!) { startSchedule(scheduleSelector: $s) { __typename } }",
        {"s": {**LOCATION, "scheduleName": "session_close_schedule"}},
    )
    assert instigator_state(graphql, "schedule", "session_close_schedule")["status"] == "RUNNING"
    state = instigator_state(graphql, "schedule", "session_close_schedule")
    graphql("mutation($id: String) { stopRunningSchedule(id: $id) { __typename } }", {"id": state["id"]})
    assert instigator_state(graphql, "schedule", "session_close_schedule")["status"] == "STOPPED"

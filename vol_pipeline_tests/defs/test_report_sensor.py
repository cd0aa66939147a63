"""The session-report run status sensor: after a successful session-close re-run of the
minute job, request session_job (outcomes, session_report) for that session.

Two levels:
- the sensor function invoked with dg.build_run_status_sensor_context on real (trivial)
  runs of an ephemeral instance, one run per tag variant;
- whole ticks (`evaluate_tick`, as the daemon runs it) over an instance holding several
  runs, so that the sensor's own filters (monitored job, SUCCESS status, cursor) are used.

The monitored runs are runs of a one-op job named `minute_job`: the sensor matches
monitored jobs by name, and the real minute job would cost seconds per run.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from vol_pipeline.definitions import build_definitions
from vol_pipeline.defs.schedules import session_range_tags
from vol_pipeline.settings import Settings

NY = ZoneInfo("America/New_York")
TRIGGER = "vol_pipeline/trigger"
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"
SESSION = date(2026, 11, 23)


def session_close_tags(day: date = SESSION) -> dict[str, str]:
    """The tags the 16:10 schedule puts on its run, written out for 2026-11-23."""
    if day == SESSION:
        return {RANGE_START: "2026-11-23-09:30", RANGE_END: "2026-11-23-15:59", TRIGGER: "session_close"}
    return {**session_range_tags(day), TRIGGER: "session_close"}


def stand_in_job(name: str, fail: bool = False) -> dg.JobDefinition:
    @dg.op(name="work")
    def work():
        if fail:
            raise RuntimeError("boom")

    @dg.job(name=name)
    def job():
        work()

    return job


@pytest.fixture
def defs(tmp_path) -> dg.Definitions:
    return build_definitions(Settings(home=tmp_path, partition_start=date(2026, 1, 5)))


@pytest.fixture
def sensor(defs) -> dg.RunStatusSensorDefinition:
    return defs.resolve_sensor_def("session_report_sensor")


@pytest.fixture
def instance():
    with dg.instance_for_test() as instance:  # a real instance: the schedule registers minutes in it
        yield instance


def run(instance: dg.DagsterInstance, tags: dict[str, str], job_name: str = "minute_job",
        fail: bool = False) -> dg.ExecuteInProcessResult:
    return stand_in_job(job_name, fail).execute_in_process(instance=instance, tags=tags, raise_on_error=False)


def invoke(sensor, instance, result: dg.ExecuteInProcessResult):
    event = result.get_run_success_event() if result.success else result.get_run_failure_event()
    context = dg.build_run_status_sensor_context(
        sensor_name=sensor.name, dagster_event=event, dagster_instance=instance, dagster_run=result.dagster_run,
    )
    return sensor(context)


# --- definition ----------------------------------------------------------------------------------
def test_sensor_watches_minute_job_successes_and_requests_session_job(sensor):
    # (the monitored jobs and the status are read from the definition's attributes: Dagster
    # has no public accessor for them)
    assert isinstance(sensor, dg.RunStatusSensorDefinition)
    assert sensor.job_name == "session_job"
    assert [job.name for job in sensor._monitored_jobs] == ["minute_job"]
    assert sensor._run_status == dg.DagsterRunStatus.SUCCESS


@pytest.mark.parametrize("env, status", [("local", dg.DefaultSensorStatus.STOPPED), ("prod", dg.DefaultSensorStatus.RUNNING)])
def test_default_status_follows_the_environment(tmp_path, env, status):
    defs = build_definitions(Settings(home=tmp_path, partition_start=date(2026, 11, 16), env=env))
    assert defs.resolve_sensor_def("session_report_sensor").default_status == status


def test_default_settings_leave_the_sensor_stopped(tmp_path):
    assert Settings(home=tmp_path, partition_start=date(2026, 11, 16)).env == "local"
    defs = build_definitions(Settings(home=tmp_path, partition_start=date(2026, 11, 16)))
    assert defs.resolve_sensor_def("session_report_sensor").default_status == dg.DefaultSensorStatus.STOPPED


# --- the sensor function ---------------------------------------------------------------------------
def test_session_close_success_requests_the_sessions_report(sensor, instance, defs):
    result = run(instance, session_close_tags())
    assert result.success
    request = invoke(sensor, instance, result)
    assert isinstance(request, dg.RunRequest), request
    assert request.run_key == f"report-2026-11-23-{result.run_id[:8]}"  # a new report per session re-run
    assert request.partition_key == "2026-11-23"
    assert request.tags.get(TRIGGER) == "session_report"
    assert request.job_name in (None, "session_job")  # None: the sensor's request_job, session_job
    sessions = defs.resolve_job_def("session_job").partitions_def
    assert "2026-11-23" in sessions.get_partition_keys()


def test_the_schedules_own_run_request_leads_to_the_report(sensor, instance, defs):
    """Chained: the tags of the 16:10 schedule's RunRequest are what the sensor recognises."""
    schedule = defs.resolve_schedule_def("session_close_schedule")
    scheduled = schedule(dg.build_schedule_context(instance=instance, scheduled_execution_time=datetime(2026, 11, 23, 16, 10, tzinfo=NY)))
    assert isinstance(scheduled, dg.RunRequest)
    request = invoke(sensor, instance, run(instance, dict(scheduled.tags)))
    assert isinstance(request, dg.RunRequest), request
    assert request.run_key.startswith("report-2026-11-23-") and request.partition_key == "2026-11-23"


@pytest.mark.parametrize(
    "day",
    [date(2026, 11, 27), date(2026, 7, 15), date(2026, 3, 9), date(2026, 1, 5)],
    ids=["half-day", "summer-time", "first-day-of-summer-time", "first-partition"],
)
def test_the_requested_partition_is_the_session_of_the_run(sensor, instance, defs, day):
    request = invoke(sensor, instance, run(instance, session_close_tags(day)))
    assert isinstance(request, dg.RunRequest), request
    assert request.partition_key == day.isoformat()
    assert request.run_key.startswith(f"report-{day.isoformat()}-")
    sessions = defs.resolve_job_def("session_job").partitions_def
    after_close = datetime(day.year, day.month, day.day, 17, 0, tzinfo=NY)
    assert day.isoformat() in sessions.get_partition_keys(current_time=after_close)


@pytest.mark.parametrize(
    "tags",
    [
        {RANGE_START: "2026-11-23-09:30", RANGE_END: "2026-11-23-15:59", TRIGGER: "cli"},  # a CLI replay range
        {RANGE_START: "2026-11-23-09:30", RANGE_END: "2026-11-23-15:59"},  # a backfill without trigger
        {"dagster/partition": "2026-11-23-10:15", TRIGGER: "new_minute"},  # the minute sensor's run
        {"dagster/partition": "2026-11-23-15:59", TRIGGER: "session_close"},  # right trigger, no range
        {TRIGGER: "session_report"},
        {},
    ],
    ids=["cli-range", "untagged-range", "new-minute", "session-close-without-range", "other-trigger", "no-tags"],
)
def test_other_successful_runs_are_skipped(sensor, instance, tags):
    result = run(instance, tags)
    outcome = invoke(sensor, instance, result)
    assert isinstance(outcome, dg.SkipReason), outcome
    assert result.run_id in outcome.skip_message


# --- whole ticks ------------------------------------------------------------------------------------
def tick(sensor, defs, instance, cursor: str | None):
    # definitions: the requested partition is resolved against the real session_job. No
    # repository name: in-process runs carry no code location, and the sensor only matches
    # runs of its own location (None == None here, as Dagster allows for tests).
    return sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor, definitions=defs))


def drain(sensor, defs, instance, cursor: str | None, max_ticks: int = 20) -> tuple[list[dg.RunRequest], list[str], str]:
    """Tick until the cursor stops moving: all requests, all skip messages, the cursor."""
    requests: list[dg.RunRequest] = []
    skips: list[str] = []
    for _ in range(max_ticks):
        data = tick(sensor, defs, instance, cursor)
        requests += data.run_requests
        if data.cursor == cursor:
            assert not data.run_requests
            return requests, skips, cursor
        cursor = data.cursor
        if data.skip_message:
            skips.append(data.skip_message)
    pytest.fail("the sensor kept reporting")


def test_ticks_request_one_report_per_successful_session_close_run(sensor, defs, instance):
    # The first tick only sets the cursor: runs from before the sensor started are not replayed.
    before = run(instance, session_close_tags(date(2026, 11, 20)))
    first = tick(sensor, defs, instance, None)
    assert not first.run_requests and "Initiating" in (first.skip_message or "")
    assert before.success

    runs = {
        "cli": run(instance, {**session_close_tags(), TRIGGER: "cli"}),
        "failed_close": run(instance, session_close_tags(date(2026, 11, 24)), fail=True),
        "other_job": run(instance, session_close_tags(date(2026, 11, 25)), job_name="session_job"),
        "close": run(instance, session_close_tags()),
        "minute": run(instance, {"dagster/partition": "2026-11-23-15:59", TRIGGER: "new_minute"}),
    }
    assert [r.success for r in runs.values()] == [True, False, True, True, True]

    requests, skips, cursor = drain(sensor, defs, instance, first.cursor)
    assert [(r.run_key, r.partition_key) for r in requests] == [(f"report-2026-11-23-{runs['close'].run_id[:8]}", "2026-11-23")]
    assert requests[0].tags["dagster/partition"] == "2026-11-23"  # resolved against session_job
    assert requests[0].tags[TRIGGER] == "session_report"
    # the two other successful minute_job runs were looked at and skipped; the failed run and
    # the run of another job were not handed to the sensor function at all
    assert len(skips) == 2
    assert any(runs["cli"].run_id in s for s in skips) and any(runs["minute"].run_id in s for s in skips)
    assert not any(runs["failed_close"].run_id in s or runs["other_job"].run_id in s for s in skips)

    # nothing new: nothing more; a later session-close run: its own report
    assert drain(sensor, defs, instance, cursor)[:2] == ([], [])
    later = run(instance, session_close_tags(date(2026, 11, 24)))
    again = drain(sensor, defs, instance, cursor)[0]
    assert [(r.run_key, r.partition_key) for r in again] == [(f"report-2026-11-24-{later.run_id[:8]}", "2026-11-24")]

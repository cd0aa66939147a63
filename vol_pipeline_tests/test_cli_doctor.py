"""`vol-pipeline doctor`: what an operator reads first, and its exit code."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from vol_pipeline.cli import main
from vol_pipeline.core.calendar import market_minutes_between
from vol_pipeline.core.health import closed_minutes_after
from vol_pipeline.definitions import build_definitions
from vol_pipeline.runs import cli_instance, materialize_ranges
from vol_pipeline.settings import Settings

UTC = timezone.utc
FIRST = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)  # 10:00 New York
LAST = FIRST + timedelta(minutes=2)


@pytest.fixture
def env(tmp_path, monkeypatch):
    for name in ("DAGSTER_HOME", "VOL_PIPELINE_WAREHOUSE_URL", "VOL_PIPELINE_WAREHOUSE_URL_SECRET", "VOL_PIPELINE_ENV"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VOL_PIPELINE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VOL_PIPELINE_PARTITION_START", "2026-11-16")
    return tmp_path / "home"


def doctor(capsys) -> tuple[int, list[str], str]:
    code = main(["doctor"])
    out = capsys.readouterr()
    return code, out.out.splitlines(), out.err


def test_a_fresh_home_is_unhealthy_and_says_why(env, capsys):
    code, lines, err = doctor(capsys)
    assert code == 1 and "pipeline is behind or unhealthy" in err
    assert lines[0] == "behind: unknown (nothing materialized yet)"
    assert any(line.startswith("dagster instance: none at") for line in lines)
    assert any(line.startswith("warehouse: no file yet at") for line in lines)


def test_after_some_minutes_every_concern_has_its_line(env, capsys, monkeypatch):
    settings = Settings(home=env, partition_start=date(2026, 11, 16))
    with cli_instance(settings) as instance:
        assert materialize_ranges(build_definitions(settings), instance, [(FIRST, LAST)])[-1].success

    code, lines, _ = doctor(capsys)  # the real clock is days past 2026-11-23: far behind
    expected = len(market_minutes_between(LAST + timedelta(minutes=1), datetime.now(UTC).replace(second=0, microsecond=0)))
    assert code == 1
    assert lines[0].startswith(f"behind: {expected} closed market minute(s)") and "(limit 5," in lines[0]

    monkeypatch.setenv("VOL_PIPELINE_DOCTOR_MAX_BEHIND_MINUTES", str(expected + 10))
    code, lines, _ = doctor(capsys)
    assert code == 0, lines
    by_concern = {line.split(":")[0]: line for line in lines}
    assert by_concern["minute_sensor"] == "minute_sensor: off (default); no cursor yet (it has not ticked)"
    assert by_concern["last minute materialized"].startswith("last minute materialized: 2026-11-23 10:02 New York (executions, run ")
    # in-process CLI runs go through no launcher
    assert by_concern["runs"] == "runs: 0 queued, 0 running; last hour: 0 started in a loaded process, 0 in a new one"
    assert by_concern["retention"] == "retention: no instance_retention run recorded"
    assert by_concern["dagster instance"].startswith(f"dagster instance: {env / 'dagster'} (") and " MB in " in by_concern["dagster instance"]
    assert by_concern["warehouse"] == f"warehouse: reachable ({env / 'warehouse.duckdb'})"


def test_an_unreachable_warehouse_is_named_without_its_password(env, capsys, monkeypatch):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("VOL_PIPELINE_WAREHOUSE_URL", f"postgresql://ops:s3cret-pw@127.0.0.1:{port}/warehouse")
    monkeypatch.setattr("vol_pipeline.storage.postgres_warehouse.CONNECT_ATTEMPTS", 1)
    code, lines, err = doctor(capsys)
    assert code == 1
    (line,) = [line for line in lines if line.startswith("warehouse:")]
    assert line.startswith("warehouse: UNREACHABLE ") and f"127.0.0.1:{port}" in line and "unreachable after 1 attempts" in line
    assert "s3cret-pw" not in "\n".join(lines) + err


@pytest.mark.parametrize(("last_done", "now", "behind"), [
    (datetime(2026, 11, 23, 15, 0, tzinfo=UTC), datetime(2026, 11, 23, 15, 1, 59, tzinfo=UTC), 0),  # 10:01 not closed
    (datetime(2026, 11, 23, 15, 0, tzinfo=UTC), datetime(2026, 11, 23, 15, 2, tzinfo=UTC), 1),  # 10:01 closed at 10:02
    (datetime(2026, 11, 23, 20, 59, tzinfo=UTC), datetime(2026, 11, 24, 3, 0, tzinfo=UTC), 0),  # finished the session: 0 all night
    (datetime(2026, 11, 23, 20, 58, tzinfo=UTC), datetime(2026, 11, 24, 14, 35, tzinfo=UTC), 1 + 5),  # 15:59, then 09:30-09:34
    (datetime(2026, 11, 26, 20, 59, tzinfo=UTC), datetime(2026, 11, 27, 19, 0, tzinfo=UTC), 210),  # Thanksgiving, then the half day
])
def test_behind_counts_only_closed_market_minutes(last_done, now, behind):
    assert closed_minutes_after(last_done, now) == behind

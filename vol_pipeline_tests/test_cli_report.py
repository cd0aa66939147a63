"""`vol-pipeline report` and the export of the session tables, through the real console
script (a subprocess with its own VOL_PIPELINE_HOME).

Data, prepared once per test session through the CLI itself: `generate` META and NVDA,
keep Friday 2026-11-20 15:20-15:59 New York (history for the features) and Monday
2026-11-23 09:30-10:49 (120 market minutes, 4 runs), `replay` that CSV, then `report`.
Those two tickers and minutes give the Monday session a simulated execution; the whole
build takes well under a minute. The remaining commands only read, so they run at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from vol_pipeline.core.report_text import render
from vol_pipeline.storage.tables import TABLES
from vol_pipeline_tests.shared_fixtures import CliScenario, built_once, cli_home_instance

EXE = Path(sys.executable).parent / "vol-pipeline"
TIMEOUT = 240
UTC = timezone.utc
TICKERS = "META,NVDA"
FRIDAY_FROM = datetime(2026, 11, 20, 20, 20, tzinfo=UTC)  # 15:20 New York
FRIDAY_CLOSE = datetime(2026, 11, 20, 21, 0, tzinfo=UTC)
MONDAY_OPEN = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # 09:30 New York
MONDAY_UNTIL = datetime(2026, 11, 23, 15, 50, tzinfo=UTC)  # 10:50 New York, exclusive
MONDAY_CLOSE = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)

pytestmark = pytest.mark.skipif(not EXE.exists(), reason="vol-pipeline console script not installed next to python")


# --- running the command ----------------------------------------------------------------------
def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOL_PIPELINE_")}
    env["VOL_PIPELINE_HOME"] = str(home)
    return env


def run_all(commands: dict[str, list], env: dict[str, str], cwd: Path) -> dict[str, dict]:
    """Run the commands at once (each is argv after the executable); wait for all."""
    procs = {
        name: subprocess.Popen([str(EXE), *map(str, argv)], env=env, cwd=cwd, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for name, argv in commands.items()
    }
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=TIMEOUT)
        results[name] = {"code": proc.returncode, "stdout": out, "stderr": err}
    return results


def run(argv: list, env: dict[str, str], cwd: Path) -> dict:
    return run_all({"one": argv}, env, cwd)["one"]


# --- the scenario, built once -------------------------------------------------------------------
def _build(work: Path) -> None:
    env = clean_env(work / "home")
    results: dict[str, dict] = {}
    results["generate"] = run(["generate", "--tickers", TICKERS, "--start", "2026-11-20", "--days", 2,
                               "--out", work / "full.parquet"], env, work)
    full = pl.read_parquet(work / "full.parquet")
    keep = pl.col("ts").is_between(FRIDAY_FROM, FRIDAY_CLOSE, closed="left") | pl.col("ts").is_between(
        MONDAY_OPEN, MONDAY_UNTIL, closed="left")
    full.filter(keep).write_csv(work / "bars.csv")

    results["replay"] = run(["replay", "--bars", work / "bars.csv"], env, work)
    results["report"] = run(["report", "2026-11-23"], env, work)
    out = work / "out"
    results.update(run_all(
        {
            "stored": ["report", "2026-11-23", "--stored"],
            "holiday": ["report", "2026-11-26"],
            "sunday": ["report", "2026-11-22"],
            "no_bars": ["report", "2026-11-19"],
            "no_report": ["report", "2026-11-19", "--stored"],
            "export_outcomes": ["export", "outcomes", "--out", out / "outcomes.csv"],
            "export_outcomes_parquet": ["export", "outcomes", "--out", out / "outcomes.parquet"],
            "export_executions": ["export", "executions", "--out", out / "executions.parquet"],
            "export_recommendations": ["export", "recommendations", "--out", out / "recommendations.parquet"],
            "export_report": ["export", "session_report", "--out", out / "session_report.parquet"],
        },
        env, work,
    ))
    (work / "results.json").write_text(json.dumps(results))


class Scenario(CliScenario):
    def exported(self, name: str) -> pl.DataFrame:
        return pl.read_parquet(self.work / "out" / f"{name}.parquet")


@pytest.fixture(scope="module")
def cli(tmp_path_factory) -> Scenario:
    return Scenario(built_once(tmp_path_factory, "cli_report", _build))


@pytest.fixture(scope="module")
def monday_executions(cli) -> pl.DataFrame:
    executions = cli.exported("executions")
    return executions.filter(pl.col("ts").is_between(MONDAY_OPEN, MONDAY_CLOSE, closed="left"))


def assert_one_error_line(result: dict, *needles: str) -> str:
    assert result["code"] == 2, result
    assert result["stdout"] == ""
    lines = result["stderr"].strip().splitlines()
    assert len(lines) == 1, result["stderr"]
    assert lines[0].startswith("error: "), lines[0]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def line_with(text: str, needle: str) -> str:
    found = [line for line in text.splitlines() if needle in line]
    assert found, f"no line with {needle!r} in:\n{text}"
    return found[0]


# --- report -----------------------------------------------------------------------------------
def test_data_was_prepared_through_the_cli(cli, monday_executions):
    assert cli["generate"]["code"] == 0, cli["generate"]
    assert cli["replay"]["code"] == 0, cli["replay"]["stderr"]
    assert "Replayed 120 market minutes" in cli["replay"]["stdout"]
    assert (monday_executions["status"] == "SIMULATED").sum() >= 1


def test_report_exits_0_and_prints_the_session_report(cli):
    result = cli["report"]
    assert result["code"] == 0, result["stderr"]
    assert "Traceback" not in result["stderr"]
    out = result["stdout"]
    assert out.splitlines()[0] == "Session report 2026-11-23"
    for needle in ("execution rate", "win rate", "multiplier on", "multiplier off", "24-hour checklist"):
        line_with(out, needle)


def test_report_numbers_match_the_exported_tables(cli, monday_executions):
    out = cli["report"]["stdout"]
    simulated = monday_executions.filter(pl.col("status") == "SIMULATED")
    recs = cli.exported("recommendations").filter(pl.col("ts").is_between(MONDAY_OPEN, MONDAY_CLOSE, closed="left"))
    rate = simulated.height / recs.height
    assert f"execution rate: {rate:.1%} ({simulated.height} simulated, {monday_executions.height - simulated.height} skipped)" in out
    assert f"recommendations: {recs.height} (" in out
    outcomes = cli.exported("outcomes")
    wins, losses = int((outcomes["pnl"] > 0).sum()), int((outcomes["pnl"] < 0).sum())
    flat = outcomes.height - wins - losses
    assert f"trades: {outcomes.height} ({wins} won, {losses} lost, {flat} flat," in out
    assert f"win rate: {wins / (wins + losses):.1%} = wins / (wins + losses)" in out
    on = line_with(out, "multiplier on:")
    assert f"multiplier on: {recs.height} recommendations, {simulated.height} executions" in on
    assert "[ok] no_run_errors: none" in out


def test_report_stored_prints_the_same_report_without_a_run(cli):
    assert cli["stored"]["code"] == 0, cli["stored"]["stderr"]
    assert cli["stored"]["stdout"] == cli["report"]["stdout"]
    with cli_home_instance(cli.home) as instance:
        runs = instance.get_runs(dg.RunsFilter(job_name="session_job"))
        assert len(runs) == 1  # `report` ran the session job once; `--stored` did not
        assert runs[0].status == dg.DagsterRunStatus.SUCCESS
        assert runs[0].tags["dagster/partition"] == "2026-11-23"


def test_the_printed_report_is_the_stored_json_rendered(cli):
    assert cli["export_report"]["code"] == 0, cli["export_report"]
    table = cli.exported("session_report")
    assert table["session_date"].to_list() == ["2026-11-23"]
    assert cli["report"]["stdout"] == render(json.loads(table["report"][0])) + "\n"


def test_report_on_a_holiday_exits_2_naming_it(cli):
    line = assert_one_error_line(cli["holiday"], "2026-11-26")
    assert "not an NYSE session" in line
    assert_one_error_line(cli["sunday"], "2026-11-22", "not an NYSE session")


def test_report_on_a_session_without_bars_exits_2_with_a_hint(cli):
    line = assert_one_error_line(cli["no_bars"], "no bars stored for session 2026-11-19")
    assert "vol-pipeline demo --session 2026-11-19" in line and "vol-pipeline replay --bars" in line


def test_stored_report_that_was_never_built_exits_2_with_a_hint(cli):
    assert_one_error_line(cli["no_report"], "no report stored for session 2026-11-19", "vol-pipeline report 2026-11-19")


# --- export -----------------------------------------------------------------------------------
def test_export_outcomes_csv_writes_one_row_per_simulated_execution(cli, monday_executions):
    result = cli["export_outcomes"]
    assert result["code"] == 0, result["stderr"]
    csv = pl.read_csv(cli.work / "out" / "outcomes.csv", schema=TABLES["outcomes"].columns)
    assert result["stdout"].startswith(f"wrote {csv.height} rows of outcomes")
    simulated = monday_executions.filter(pl.col("status") == "SIMULATED")
    assert sorted(csv["recommendation_id"].to_list()) == sorted(simulated["recommendation_id"].to_list())
    assert_frame_equal(csv, cli.exported("outcomes"))


def test_export_executions_parquet_has_every_decision(cli):
    result = cli["export_executions"]
    assert result["code"] == 0, result["stderr"]
    executions = cli.exported("executions")
    assert executions.schema == pl.Schema(TABLES["executions"].columns)
    assert result["stdout"].startswith(f"wrote {executions.height} rows of executions")
    recs = cli.exported("recommendations")
    assert recs.height > 0
    assert sorted(executions["recommendation_id"].to_list()) == sorted(recs["id"].to_list())

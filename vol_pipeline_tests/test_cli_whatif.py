"""`vol-pipeline whatif` through the real console script, on sessions stored by the Dagster jobs.

Stored data: the scenario of test_cli_report.py (built once per test session and shared with
it): `generate` META and NVDA, `replay` Friday 2026-11-20 15:20-15:59 New York (40 bars per
ticker: too few for lane_features, so no recommendations) and Monday 2026-11-23 09:30-10:49
through the minute job, then `report 2026-11-23` (outcomes + session_report). This module
copies that VOL_PIPELINE_HOME and runs every whatif command at once on the copy.

The built-in default's rows must equal what the stored run holds, session by session.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date, datetime, timezone
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from vol_pipeline.core.rule_comparison import BUCKETS, COMPARISON_COLUMNS, COMPARISON_SCHEMA, comparison_markdown
from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse
from vol_pipeline_tests.shared_fixtures import CliScenario, built_once, cli_home_instance
from vol_pipeline_tests.test_cli_report import EXE, clean_env, run_all
from vol_pipeline_tests.test_cli_report import _build as build_stored_sessions

UTC = timezone.utc
FRIDAY, MONDAY = date(2026, 11, 20), date(2026, 11, 23)
WINDOWS = {  # first bar .. close (UTC) of each stored session
    FRIDAY: (datetime(2026, 11, 20, 14, 30, tzinfo=UTC), datetime(2026, 11, 20, 21, 0, tzinfo=UTC)),
    MONDAY: (datetime(2026, 11, 23, 14, 30, tzinfo=UTC), datetime(2026, 11, 23, 21, 0, tzinfo=UTC)),
}
RANGE = ["--from", "2026-11-19", "--to", "2026-11-23"]  # Thursday has no bars stored
RULES_FILE = """
[[rule_set]]
name = "any-confidence"
min_confidence = 0.0
"""

pytestmark = pytest.mark.skipif(not EXE.exists(), reason="vol-pipeline console script not installed next to python")

NO_DAGSTER_PROBE = """
import sys
from vol_pipeline.cli import main
code = main(sys.argv[1:])
print("dagster imported:", any(name == "dagster" or name.startswith("dagster.") for name in sys.modules))
sys.exit(code)
"""


def _build(work: Path, stored: Path) -> None:
    home = work / "home"
    shutil.copytree(stored / "home", home)
    env = clean_env(home)
    (work / "rules.toml").write_text(RULES_FILE)
    out = work / "out"
    commands = {
        "csv": ["whatif", *RANGE, "--out", out / "comparison.csv"],
        "parquet": ["whatif", *RANGE, "--out", out / "comparison.parquet", "--no-record"],
    }
    probe = subprocess.Popen(
        [sys.executable, "-c", NO_DAGSTER_PROBE, "whatif", *RANGE, "--out", str(out / "probe.csv"), "--no-record"],
        env=env, cwd=work, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    results = run_all(commands, env, work)
    # Recorded too, after the first recorded run (one writer of the instance at a time).
    results.update(run_all({"file": [
        "whatif", *RANGE, "--rules", "any-confidence,1.0-phase12,any-confidence+multiplier-off",
        "--rules-file", work / "rules.toml", "--out", out / "custom.parquet"]}, env, work))
    stdout, stderr = probe.communicate(timeout=240)
    results["probe"] = {"code": probe.returncode, "stdout": stdout, "stderr": stderr}
    (work / "results.json").write_text(json.dumps(results))


class Scenario(CliScenario):
    def out(self, name: str) -> Path:
        return self.work / "out" / name

    def stored(self, table: str, session: date) -> pl.DataFrame:
        return DuckDBWarehouse(self.home / "warehouse.duckdb").read(table, *WINDOWS[session])


@pytest.fixture(scope="module")
def cli(tmp_path_factory) -> Scenario:
    stored = built_once(tmp_path_factory, "cli_report", build_stored_sessions)
    return Scenario(built_once(tmp_path_factory, "cli_whatif", lambda work: _build(work, stored)))


@pytest.fixture(scope="module")
def table(cli) -> pl.DataFrame:
    assert cli["csv"]["code"] == 0, cli["csv"]["stderr"]
    return pl.read_csv(cli.out("comparison.csv"), schema=COMPARISON_SCHEMA)


def row(frame: pl.DataFrame, session: date | None, rules: str = "1.0-phase12") -> dict:
    match = pl.col("session").is_null() if session is None else pl.col("session") == session
    rows = frame.filter(match & (pl.col("rules") == rules))
    assert rows.height == 1, rows
    return rows.row(0, named=True)


def stored_numbers(cli: Scenario, session: date) -> dict:
    """What the stored run holds for the session, counted here from its tables."""
    recs = cli.stored("recommendations", session)
    simulated = cli.stored("executions", session).filter(pl.col("status") == "SIMULATED")
    outcomes = cli.stored("outcomes", session) if session == MONDAY else None  # `report` ran for Monday only
    directional = cli.stored("signals", session).filter(pl.col("direction").is_not_null())
    mult = pl.col("volume_mult")
    buckets = directional.select(
        kill=(mult == 0).sum(), reduced=((mult > 0) & (mult < 1)).sum(), normal=(mult == 1).sum(), boosted=(mult > 1).sum())
    return {
        "recommendations": recs.height,
        "executions": simulated.height,
        "trades": None if outcomes is None else outcomes.height,
        "wins": None if outcomes is None else int(outcomes["win"].sum()),
        "pnl": None if outcomes is None else float(outcomes["pnl"].sum()),
        **buckets.row(0, named=True),
    }


# --- equal to the stored run ----------------------------------------------------------------------
def test_the_stored_monday_has_something_to_compare(cli):
    monday = stored_numbers(cli, MONDAY)
    assert monday["recommendations"] > 0 and monday["executions"] >= 1 and monday["trades"] == monday["executions"]


@pytest.mark.parametrize("session", [FRIDAY, MONDAY], ids=["friday", "monday"])
def test_default_row_equals_the_stored_run(cli, table, session):
    stored = stored_numbers(cli, session)
    replayed = row(table, session)
    for column in ("recommendations", "executions", *BUCKETS):
        assert replayed[column] == stored[column], column
    if stored["trades"] is not None:
        assert (replayed["trades"], replayed["wins"]) == (stored["trades"], stored["wins"])
        assert replayed["pnl"] == pytest.approx(stored["pnl"], rel=1e-9, abs=1e-9)
    else:
        assert replayed["trades"] == replayed["executions"] == 0


def test_default_row_equals_the_stored_session_report(cli, table):
    report = json.loads(DuckDBWarehouse(cli.home / "warehouse.duckdb").read(
        "session_report", equals={"session_date": MONDAY.isoformat()})["report"][0])
    replayed = row(table, MONDAY)
    assert replayed["recommendations"] == report["recommendations"]["count"]
    assert replayed["executions"] == report["dispatch"]["simulated"]
    assert replayed["execution_rate"] == pytest.approx(report["dispatch"]["execution_rate"])
    assert replayed["win_rate"] == report["outcomes"]["win_rate"]
    assert {b["bucket"]: b["signals"] for b in report["multiplier_buckets"]} == {b: replayed[b] for b in BUCKETS}
    what_if = {r["variant"]: r for r in report["what_if"]}
    off = row(table, MONDAY, "1.0-phase12+multiplier-off")
    for column in ("recommendations", "executions", "trades", "wins"):
        assert off[column] == what_if["multiplier off"][column], column


def test_total_row_sums_the_stored_sessions(cli, table):
    friday, monday = stored_numbers(cli, FRIDAY), stored_numbers(cli, MONDAY)
    total = row(table, None)
    assert total["recommendations"] == friday["recommendations"] + monday["recommendations"]
    assert total["executions"] == friday["executions"] + monday["executions"]
    assert total["pnl"] == pytest.approx(monday["pnl"])


# --- output -------------------------------------------------------------------------------------------
def test_csv_and_parquet_hold_the_same_table(cli, table):
    assert cli["parquet"]["code"] == 0, cli["parquet"]["stderr"]
    parquet = pl.read_parquet(cli.out("comparison.parquet"))
    assert parquet.schema == pl.Schema(COMPARISON_SCHEMA) and tuple(parquet.columns) == COMPARISON_COLUMNS
    assert_frame_equal(table, parquet)
    assert table["session"].to_list() == [FRIDAY, FRIDAY, MONDAY, MONDAY, None, None]
    assert table["rules"].to_list() == ["1.0-phase12", "1.0-phase12+multiplier-off"] * 3


def test_stdout_prints_the_table_and_what_was_skipped(cli):
    out = cli["csv"]["stdout"]
    lines = out.splitlines()
    assert lines[0].startswith("What-if 2026-11-19..2026-11-23: 2 rule sets over 2 sessions with stored bars (")
    assert lines[1] == "sessions without stored bars (not in the table): 2026-11-19"
    assert sum(line.startswith("│ total ") for line in lines) == 2
    assert lines[-1].startswith(f"wrote 6 rows to {cli.out('comparison.csv')}; recorded in Dagster: asset rule_comparison, run ")
    assert cli["csv"]["stderr"] == ""
    assert cli["parquet"]["stdout"].splitlines()[-1].endswith("not recorded in Dagster (--no-record)")


def test_rules_file_adds_named_rule_sets(cli):
    assert cli["file"]["code"] == 0, cli["file"]["stderr"]
    custom = pl.read_parquet(cli.out("custom.parquet"))
    assert custom["rules"].unique(maintain_order=True).to_list() == [
        "any-confidence", "1.0-phase12", "any-confidence+multiplier-off"]
    default, anything = row(custom, MONDAY), row(custom, MONDAY, "any-confidence")
    assert anything["recommendations"] == default["recommendations"]
    assert anything["executions"] > default["executions"]  # a 0.0 gate dispatches whatever the other gates pass


# --- recorded in Dagster ----------------------------------------------------------------------------
def run_id_of(result: dict) -> str:
    return result["stdout"].splitlines()[-1].rsplit("run ", 1)[1].split(" ")[0]


def test_the_comparison_is_recorded_as_a_materialization(cli, table):
    run_ids = [run_id_of(cli["csv"]), run_id_of(cli["file"])]
    with cli_home_instance(cli.home) as instance:
        for run_id in run_ids:
            run = instance.get_run_by_id(run_id)
            assert run.status == dg.DagsterRunStatus.SUCCESS and run.tags["vol_pipeline/trigger"] == "cli"
        records = instance.fetch_materializations(dg.AssetKey("rule_comparison"), limit=10).records
        # Only the two successful commands started runs: bad input exits before any run starts.
        assert sorted(record.run_id for record in records) == sorted(run_ids)
        assert not instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
        metadata = next(r for r in records if r.run_id == run_ids[0]).asset_materialization.metadata
        config = instance.get_run_by_id(run_ids[0]).run_config["ops"]["rule_comparison"]["config"]
    assert config == {"from_date": "2026-11-19", "to_date": "2026-11-23",
                      "rules": ["1.0-phase12", "1.0-phase12+multiplier-off"], "rule_sets": []}
    assert metadata["comparison"].value == comparison_markdown(table)
    assert metadata["sessions"].value == 2 and metadata["sessions_without_bars"].value == ["2026-11-19"]
    assert metadata["chart"].value.startswith("![rule comparison](data:image/png;base64,")


def test_a_rules_files_definitions_travel_in_the_run_config(cli):
    with cli_home_instance(cli.home) as instance:
        run = instance.get_run_by_id(run_id_of(cli["file"]))
    config = run.run_config["ops"]["rule_comparison"]["config"]
    assert config["rules"] == ["any-confidence", "1.0-phase12", "any-confidence+multiplier-off"]
    assert config["rule_sets"] == [{"name": "any-confidence", "min_confidence": 0.0}]  # no path: the definition


def test_no_record_never_imports_dagster(cli):
    probe = cli["probe"]
    assert probe["code"] == 0, probe["stderr"]
    assert probe["stdout"].splitlines()[-1] == "dagster imported: False"


# --- bad input: exit 2, one line (in process: nothing here needs a fresh interpreter) -----------------
BAD_INPUT = {
    "bad_out": (["--out", "comparison.xlsx"], ["comparison.xlsx: unsupported file type '.xlsx'; use .csv or .parquet"]),
    "unknown_rule": (["--rules", "1.0-phase12,1.1-phase13"],
                     ["unknown rule set '1.1-phase13' (known: 1.0-phase12, each also as NAME+multiplier-off)",
                      "define it in a --rules-file"]),
    "bad_rules_file": (["--rules", "x", "--rules-file", "bad.toml"],
                       ["bad.toml: rule set 'x': 'min_confidence' must be between 0 and 1, got 2"]),
    "missing_rules_file": (["--rules-file", "nope.toml"], ["nope.toml: rules file not found"]),
    "from_after_to": (["--from", "2026-11-23", "--to", "2026-11-20"], ["--from 2026-11-23 is after --to 2026-11-20"]),
    "weekend": (["--from", "2026-11-21", "--to", "2026-11-22"], ["no NYSE session between 2026-11-21 and 2026-11-22"]),
    "no_bars": (["--from", "2026-11-24", "--to", "2026-11-25"],
                ["no bars stored for the sessions 2026-11-24..2026-11-25 in ", "warehouse.duckdb",
                 "vol-pipeline demo --session DATE", "vol-pipeline replay --bars FILE"]),
    "no_bars_unrecorded": (["--from", "2026-11-24", "--to", "2026-11-25", "--no-record"],
                           ["no bars stored for the sessions 2026-11-24..2026-11-25 in "]),
}


@pytest.mark.parametrize("name", BAD_INPUT)
def test_bad_input_exits_2_with_one_line(cli, name, tmp_path, monkeypatch, capsys):
    from vol_pipeline.cli import main

    (tmp_path / "bad.toml").write_text('[[rule_set]]\nname = "x"\nmin_confidence = 2\n')
    monkeypatch.chdir(tmp_path)
    for variable in [v for v in os.environ if v.startswith("VOL_PIPELINE_")]:
        monkeypatch.delenv(variable)
    monkeypatch.setenv("VOL_PIPELINE_HOME", str(cli.home))
    arguments, needles = BAD_INPUT[name]
    defaults = {"--from": "2026-11-19", "--to": "2026-11-23", "--out": "comparison.csv"}
    for flag, value in defaults.items():
        if flag not in arguments:
            arguments = [*arguments, flag, value]
    code = main(["whatif", *arguments])
    captured = capsys.readouterr()
    assert code == 2, captured
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), captured.err
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert list(tmp_path.iterdir()) == [tmp_path / "bad.toml"]  # no output file, no instance


# --- what the UI shows ------------------------------------------------------------------------------
def test_the_ui_shows_the_recorded_comparison_with_its_chart(cli, table):
    """The real dagster-webserver on the same home: the asset in its group, and its latest
    materialization's metadata as the asset page renders it (markdown table, PNG chart, totals)."""
    from vol_pipeline_tests.webserver import running_webserver

    query = """{ assetNodeOrError(assetKey: {path: ["rule_comparison"]}) { ... on AssetNode {
        groupName isPartitioned
        assetMaterializations(limit: 5) { runId metadataEntries { label __typename
            ... on MarkdownMetadataEntry { mdStr } ... on IntMetadataEntry { intValue }
            ... on TableMetadataEntry { table { records } } } } } } }"""
    with running_webserver(cli.home) as server:
        node = server.graphql(query)["assetNodeOrError"]
    assert (node["groupName"], node["isPartitioned"]) == ("rule_analysis", False)
    shown = next(m for m in node["assetMaterializations"] if m["runId"] == run_id_of(cli["csv"]))
    entries = {e["label"]: e for e in shown["metadataEntries"]}
    assert entries["comparison"]["mdStr"] == comparison_markdown(table)
    assert entries["chart"]["__typename"] == "MarkdownMetadataEntry"
    assert entries["chart"]["mdStr"].startswith("![rule comparison](data:image/png;base64,iVBORw0KGgo")  # a PNG
    assert entries["sessions"]["intValue"] == 2
    totals = [json.loads(record) for record in entries["totals"]["table"]["records"]]
    assert [(t["rules"], t["recommendations"], t["executions"]) for t in totals] == [
        (r["rules"], r["recommendations"], r["executions"]) for r in table.filter(pl.col("session").is_null()).to_dicts()]

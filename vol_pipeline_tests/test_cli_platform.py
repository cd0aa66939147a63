"""The platform commands of the real `vol-pipeline` console script: replay, export, status,
explain and demo's input checks, each run as a user runs it (a subprocess with its own
VOL_PIPELINE_HOME).

The replays are expensive, so the whole scenario runs once per test session into a shared
folder (also under pytest-xdist) and the tests read the recorded outputs and files.
The full `demo` (~2-3 min) is left to the README check; here only its input check runs.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from vol_pipeline.core.features import lane_features
from vol_pipeline.storage.tables import TABLES
from vol_pipeline_tests.shared_fixtures import CliScenario, built_once, cli_home_instance

EXE = Path(sys.executable).parent / "vol-pipeline"
TABLE_NAMES = tuple(TABLES)
CUT_MINUTES = 90
TIMEOUT = 240

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


def export_all(folder: Path, env: dict[str, str]) -> dict[str, dict]:
    folder.mkdir()
    return run_all({name: ["export", name, "--out", folder / f"{name}.parquet"] for name in TABLE_NAMES}, env, folder)


# --- the scenario, built once -------------------------------------------------------------------
def _build(work: Path) -> None:
    env = clean_env(work / "home")
    results: dict[str, dict] = {}
    results["generate"] = run(["generate", "--tickers", "AAPL,MSFT", "--start", "2026-11-20", "--days", 1,
                               "--out", work / "full.parquet"], env, work)
    full = pl.read_parquet(work / "full.parquet")
    first = full["ts"].min()
    full.filter(pl.col("ts") < first + timedelta(minutes=CUT_MINUTES)).write_parquet(work / "cut.parquet")

    results["replay1"] = run(["replay", "--bars", work / "cut.parquet"], env, work)
    results["export1"] = export_all(work / "before", env)
    results["replay2"] = run(["replay", "--bars", work / "cut.parquet"], env, work)
    results["export2"] = export_all(work / "after", env)

    recs = pl.read_parquet(work / "after" / "recommendations.parquet")
    explain_id = recs.sort("confidence", descending=True)["id"][0] if recs.height else "NONE"
    no_close = pl.read_parquet(work / "cut.parquet").drop("close")
    no_close.write_csv(work / "no_close.csv")
    results["explain_id"] = explain_id
    results.update(run_all(
        {
            "export_csv": ["export", "recommendations", "--out", work / "csv" / "recommendations.csv"],
            "export_lf_csv": ["export", "lane_features", "--out", work / "csv" / "lane_features.csv"],
            "status": ["status"],
            "explain": ["explain", explain_id],
            "explain_nope": ["explain", "NOPE"],
            "replay_missing": ["replay", "--bars", work / "missing.csv"],
            "replay_no_close": ["replay", "--bars", work / "no_close.csv"],
            "demo_holiday": ["demo", "--session", "2026-04-03"],
        },
        env, work,
    ))

    # The same small file replayed twice, spelled relative then absolute; one row has a
    # naive timestamp (no minute: an "unplaced" quarantine row).
    small_dir = work / "small"
    small_dir.mkdir()
    small = pl.read_parquet(work / "cut.parquet").filter(pl.col("ts") < first + timedelta(minutes=3))
    text = small.with_columns(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    naive = text.head(1).with_columns(ts=pl.lit("2026-11-20 14:31:00"))
    pl.concat([text, naive]).write_csv(small_dir / "small.csv")
    small_env = clean_env(small_dir / "home")
    results["small_relative"] = run(["replay", "--bars", "small.csv"], small_env, small_dir)
    results["small_absolute"] = run(["replay", "--bars", small_dir / "small.csv"], small_env, small_dir)
    results["small_quarantine"] = run(["export", "bars_quarantine", "--out", small_dir / "quarantine.parquet"],
                                      small_env, small_dir)
    (work / "results.json").write_text(json.dumps(results))


class Scenario(CliScenario):
    def table(self, name: str, when: str = "after") -> pl.DataFrame:
        return pl.read_parquet(self.work / when / f"{name}.parquet")


@pytest.fixture(scope="module")
def cli(tmp_path_factory) -> Scenario:
    return Scenario(built_once(tmp_path_factory, "cli_platform", _build))


@pytest.fixture(scope="module")
def cut(cli) -> pl.DataFrame:
    return pl.read_parquet(cli.work / "cut.parquet")


@pytest.fixture(scope="module")
def explained(cli) -> dict:
    recs = cli.table("recommendations")
    return recs.filter(pl.col("id") == cli["explain_id"]).row(0, named=True)


def assert_one_error_line(result: dict, *needles: str) -> str:
    assert result["code"] == 2, result
    lines = result["stderr"].strip().splitlines()
    assert len(lines) == 1, result["stderr"]
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result["stderr"]
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def section(text: str, start: str, end: str | None = None) -> str:
    tail = text[text.index(start):]
    return tail[: tail.index(end)] if end else tail


def table_row(text: str, first_cell: str) -> list[str]:
    """Cells of the printed polars table row whose first cell is `first_cell`."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("┆")]
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row for {first_cell!r} in:\n{text}")


# --- replay -----------------------------------------------------------------------------------
def test_replay_exits_0_and_reports_the_minutes(cli, cut):
    assert cli["generate"]["code"] == 0, cli["generate"]
    result = cli["replay1"]
    assert result["code"] == 0, result["stderr"]
    minutes = cut["ts"].n_unique()
    assert minutes == CUT_MINUTES
    assert f"Replayed {minutes} market minutes of {cli.work / 'cut.parquet'}" in result["stdout"]
    assert "1 run(s) of minute_job" in result["stdout"]  # whole sessions per run
    assert f"{minutes}/{minutes} minutes" in result["stderr"]  # the progress bar reached the end
    assert "Traceback" not in result["stderr"]
    for name in ("bars", "lane_features", "signals", "recommendations"):
        assert f"  {name}: {cli.table(name, 'before').height} rows" in result["stdout"], name


def test_replay_fills_the_tables(cli, cut):
    assert all(r["code"] == 0 for r in cli["export1"].values()), cli["export1"]
    bars = cli.table("bars", "before")
    assert_frame_equal(bars.select(cut.columns), cut.sort("ticker", "ts"))
    assert set(bars["feed"]) == {"replay"} and bars["fetched_at"].n_unique() == 1  # the file's time
    features = cli.table("lane_features", "before")
    assert features.height > 0
    assert_frame_equal(features, lane_features(cut))
    signals = cli.table("signals", "before")
    assert signals.select("ticker", "ts").rows() == features.select("ticker", "ts").rows()
    assert cli.table("recommendations", "before").height > 0
    assert cli.table("bars_quarantine", "before").is_empty()


def test_replaying_again_leaves_every_table_identical(cli):
    assert cli["replay2"]["code"] == 0, cli["replay2"]["stderr"]
    assert all(r["code"] == 0 for r in cli["export2"].values()), cli["export2"]
    for name in TABLE_NAMES:
        before, after = cli.table(name, "before"), cli.table(name, "after")
        try:
            assert_frame_equal(after, before)
        except AssertionError as error:
            raise AssertionError(f"{name} changed on the second replay: {error}") from None


def test_replaying_the_same_file_by_another_path_keeps_one_copy_of_its_rejected_rows(cli):
    for name in ("small_relative", "small_absolute"):  # exit 1: a row was rejected, the rest replayed
        assert cli[name]["code"] == 1, cli[name]
        assert "1 of 7 rows rejected" in cli[name]["stderr"] and "Replayed 3 market minutes" in cli[name]["stdout"]
    assert cli["small_quarantine"]["code"] == 0, cli["small_quarantine"]
    quarantine = pl.read_parquet(cli.work / "small" / "quarantine.parquet")
    assert quarantine["reason"].to_list() == ["ts failed 'has a UTC offset'"]
    assert quarantine["source"].to_list() == [str(cli.work / "small" / "small.csv")]


def test_replay_stderr_has_no_dagster_beta_warnings(cli):
    assert "BetaWarning" not in cli["replay1"]["stderr"]


def test_replay_of_a_missing_file_exits_2_naming_it(cli):
    assert_one_error_line(cli["replay_missing"], str(cli.work / "missing.csv"), "not found")


def test_replay_of_a_file_without_close_exits_2_naming_the_column(cli):
    assert_one_error_line(cli["replay_no_close"], str(cli.work / "no_close.csv"), "missing column 'close'")


# --- export -----------------------------------------------------------------------------------
def test_export_parquet_has_the_table_schema(cli):
    for name in TABLE_NAMES:
        assert cli["export2"][name]["stdout"].startswith(f"wrote {cli.table(name).height} rows of {name}")
        assert cli.table(name).schema == pl.Schema(TABLES[name].columns), name


def test_export_csv_matches_the_parquet_export(cli):
    for name, result in (("recommendations", cli["export_csv"]), ("lane_features", cli["export_lf_csv"])):
        assert result["code"] == 0, result
        csv = pl.read_csv(cli.work / "csv" / f"{name}.csv", schema=TABLES[name].columns)
        assert csv.height > 0
        assert_frame_equal(csv, cli.table(name))
    reasons = pl.read_csv(cli.work / "csv" / "recommendations.csv", infer_schema=False)["reason"]
    assert all("volume" in json.loads(r) for r in reasons)  # the JSON survives CSV quoting


# --- status and explain -----------------------------------------------------------------------
def test_status_shows_volume_rows_per_ticker(cli):
    result = cli["status"]
    assert result["code"] == 0, result["stderr"]
    coverage = section(result["stdout"], "lane_features rows with volume data", "newest 10 recommendations")
    features = cli.table("lane_features")
    for ticker in ("AAPL", "MSFT"):
        mine = features.filter(pl.col("ticker") == ticker)
        cells = table_row(coverage, ticker)
        assert int(cells[1]) == mine.height
        assert int(cells[2]) == mine["volume_ratio"].is_not_null().sum()
        assert int(cells[3]) == mine["volume_surge"].sum()


def test_status_shows_recent_recommendations_newest_first(cli):
    recent = section(cli["status"]["stdout"], "newest 10 recommendations")
    recs = cli.table("recommendations").sort("ts", "ticker", descending=[True, False]).head(10)
    positions = [recent.index(rec_id) for rec_id in recs["id"]]
    assert positions == sorted(positions)
    for row in recs.iter_rows(named=True):
        cells = table_row(recent, row["id"])
        assert cells[1] == row["action"] and float(cells[5]) == row["volume_mult"]
        assert cells[6] == json.loads(row["reason"])["volume"]["assessment"]


def test_explain_prints_the_derivation_from_bars_to_confidence(cli, explained):
    result = cli["explain"]
    assert result["code"] == 0, result["stderr"]
    out = result["stdout"]
    rec = explained
    assert f"recommendation {rec['id']}: {rec['action']} {rec['instrument_type']}" in out
    # the 20 bars behind the volume average
    bars = cli.table("bars").filter((pl.col("ticker") == rec["ticker"]) & (pl.col("ts") <= rec["ts"])).tail(20)
    printed = section(out, "bars used for the volume average", "volume features")
    rows = [line for line in printed.splitlines() if line.startswith("│ 20")]
    assert len(rows) == 20
    for line, bar in zip(rows, bars.iter_rows(named=True)):
        assert f"{bar['ts']:%Y-%m-%d %H:%M:%S} UTC" in line and str(bar["volume"]) in line
    # volume features, multiplier and assessment, base and final confidence
    features = cli.table("lane_features").filter((pl.col("ticker") == rec["ticker"]) & (pl.col("ts") == rec["ts"]))
    cells = table_row(section(out, "volume features", "volume multiplier"), str(features["volume_current"].item()))
    assert int(cells[1]) == features["volume_avg_20"].item()
    assert float(cells[2]) == rec["volume_ratio"]
    assessment = json.loads(rec["reason"])["volume"]["assessment"]
    assert f"volume_ratio {rec['volume_ratio']} -> x{rec['volume_mult']} ({assessment})" in out
    assert f"base confidence {rec['base_confidence']:.4f}" in out
    assert f"confidence = min(1, {rec['base_confidence']:.4f} x {rec['volume_mult']}) = {rec['confidence']:.4f}" in out


def test_explain_names_the_partition_and_a_dagster_run_of_the_cli_instance(cli, explained):
    out = cli["explain"]["stdout"]
    key = explained["ts"].astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%d-%H:%M")
    found = re.search(r"partition: (\S+) .*Dagster run: ([0-9a-f-]{36})", out)
    assert found, out
    assert found.group(1) == key
    run_id = found.group(2)
    with cli_home_instance(cli.home) as instance:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        assert run.status == dg.DagsterRunStatus.SUCCESS
        latest = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("recommendations"), asset_partitions=[key]), limit=1
        ).records
    assert latest and latest[0].run_id == run_id  # the run that last wrote this recommendation


def test_explain_of_an_unknown_id_exits_2_with_one_line(cli):
    assert_one_error_line(cli["explain_nope"], "'NOPE'")
    assert cli["explain_nope"]["stdout"] == ""


# --- demo -------------------------------------------------------------------------------------
def test_demo_on_a_holiday_exits_2_with_a_clear_message(cli):
    line = assert_one_error_line(cli["demo_holiday"], "2026-04-03")
    assert "not an NYSE session" in line
    assert cli["demo_holiday"]["stdout"] == ""

"""The `vol-pipeline` console script, run as a user runs it (a subprocess).

Subprocesses of one module fixture are started together and awaited together: each
process spends most of its time importing, so this keeps the file fast.
"""

from __future__ import annotations

import datetime
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from vol_pipeline.core.config import FeatureConfig
from vol_pipeline.core.features import lane_features
from vol_pipeline.sources.synthetic import SyntheticBarSource

EXE = shutil.which("vol-pipeline", path=str(Path(sys.executable).parent))
TICKERS = ("AAPL", "MSFT")
START = datetime.date(2026, 11, 23)
TIMEOUT = 60

pytestmark = pytest.mark.skipif(EXE is None, reason="vol-pipeline console script not installed next to python")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def run_all(commands: dict[str, list[str]], cwd: Path) -> dict[str, Result]:
    """Run the commands concurrently; each is a full argv."""
    procs = {
        name: subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name, argv in commands.items()
    }
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=TIMEOUT)
        results[name] = Result(proc.returncode, out, err)
    return results


def cli(*args: str) -> list[str]:
    return [EXE, *map(str, args)]


def expected_bars() -> pl.DataFrame:
    return SyntheticBarSource(tickers=TICKERS, seed=7).generate(START, 1)


def assert_one_error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


# --- generate, then features ------------------------------------------------------------------
@pytest.fixture(scope="module")
def good_runs(tmp_path_factory):
    work = tmp_path_factory.mktemp("cli_good")
    bars = expected_bars()
    bars.write_csv(work / "given.csv")  # a CSV bar file, as the CLI itself writes one
    # A stale sidecar from an earlier run must be removed by a clean run.
    (work / "features.rejected.parquet").write_text("stale")
    first = run_all(
        {
            "generate": cli("generate", "--tickers", ",".join(TICKERS), "--start", START, "--days", 1,
                            "--seed", 7, "--out", work / "bars.parquet"),
            "features_from_csv": cli("features", "--bars", work / "given.csv", "--out", work / "from_csv.parquet"),
        },
        work,
    )
    second = run_all(
        {
            "features_parquet": cli("features", "--bars", work / "bars.parquet", "--out", work / "features.parquet"),
            "features_csv": cli("features", "--bars", work / "bars.parquet", "--out", work / "out" / "features.csv"),
            "features_prior_20": cli("features", "--bars", work / "bars.parquet", "--out", work / "prior20.parquet",
                                     "--prior-20"),
        },
        work,
    )
    return work, bars, first | second


def test_generate_writes_the_synthetic_bars(good_runs):
    work, bars, results = good_runs
    result = results["generate"]
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    assert f"wrote {bars.height} bars for 2 tickers over 1 NYSE sessions" in result.stdout
    assert_frame_equal(pl.read_parquet(work / "bars.parquet"), bars)


def test_features_parquet_out_equals_lane_features(good_runs):
    work, bars, results = good_runs
    result = results["features_parquet"]
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    expected = lane_features(bars)
    assert f"wrote {expected.height} lane_features rows for 2 tickers from {bars.height} bars" in result.stdout
    assert_frame_equal(pl.read_parquet(work / "features.parquet"), expected)
    assert not (work / "features.rejected.parquet").exists()


def test_features_csv_out_equals_lane_features(good_runs):
    work, bars, results = good_runs
    result = results["features_csv"]
    assert result.code == 0, result.stderr
    written = (work / "out" / "features.csv").read_text()
    expected = lane_features(bars)
    assert written == expected.write_csv()  # byte for byte what polars writes for the same frame
    assert len(written.strip().splitlines()) == expected.height + 1


def test_features_from_a_csv_bar_file(good_runs):
    work, bars, results = good_runs
    result = results["features_from_csv"]
    assert result.code == 0, result.stderr
    assert_frame_equal(pl.read_parquet(work / "from_csv.parquet"), lane_features(bars))


def test_features_prior_20_flag(good_runs):
    work, bars, results = good_runs
    result = results["features_prior_20"]
    assert result.code == 0, result.stderr
    written = pl.read_parquet(work / "prior20.parquet")
    assert_frame_equal(written, lane_features(bars, FeatureConfig(volume_prior_bars=True)))
    assert not written.equals(pl.read_parquet(work / "features.parquet"))


# --- unusable input: exit 2 ---------------------------------------------------------------------
BAD_INPUT_CASES = {
    # name: (bars file name, expected fragments of the error line)
    "missing_file": ("absent.csv", ["absent.csv", "not found"]),
    "empty_file": ("empty.csv", ["empty.csv", "empty"]),
    "wrong_extension": ("bars.txt", ["bars.txt", "'.txt'", ".csv or .parquet"]),
    "no_extension": ("bars", ["unsupported file type", ".csv or .parquet"]),
    "garbage_parquet": ("garbage.parquet", ["garbage.parquet", "Parquet"]),
    "missing_column": ("no_close.csv", ["no_close.csv", "missing column 'close'"]),
}


@pytest.fixture(scope="module")
def bad_runs(tmp_path_factory):
    work = tmp_path_factory.mktemp("cli_bad")
    header = "ticker,ts,open,high,low,close,volume\n"
    (work / "empty.csv").write_bytes(b"")
    (work / "bars.txt").write_text(header + "AAPL,2026-11-23T14:30:00Z,1,1,1,1,1\n")
    (work / "bars").write_text(header + "AAPL,2026-11-23T14:30:00Z,1,1,1,1,1\n")
    (work / "garbage.parquet").write_bytes(b"PAR1 this is not parquet at all \x00\x01\x02 PAR1")
    (work / "no_close.csv").write_text("ticker,ts,open,high,low,volume\nAAPL,2026-11-23T14:30:00Z,1,1,1,1\n")
    (work / "good.csv").write_text(header + "AAPL,2026-11-23T14:30:00Z,1,1,1,1,1\n")
    commands = {
        name: cli("features", "--bars", work / file, "--out", work / f"{name}.parquet")
        for name, (file, _) in BAD_INPUT_CASES.items()
    }
    commands["bad_out_extension"] = cli("features", "--bars", work / "good.csv", "--out", work / "features.json")
    return work, run_all(commands, work)


@pytest.mark.parametrize("name", sorted(BAD_INPUT_CASES))
def test_unusable_input_exits_2_with_one_line(bad_runs, name):
    work, results = bad_runs
    result = results[name]
    assert result.code == 2, result.stderr
    line = assert_one_error_line(result)
    for fragment in BAD_INPUT_CASES[name][1]:
        assert fragment in line, line
    assert not (work / f"{name}.parquet").exists()  # nothing written for unusable input
    assert result.stdout == ""


def test_unsupported_output_extension_exits_2(bad_runs):
    work, results = bad_runs
    result = results["bad_out_extension"]
    assert result.code == 2
    line = assert_one_error_line(result)
    assert "features.json" in line and "'.json'" in line
    assert not (work / "features.json").exists()


# --- some bad rows: exit 1, valid rows processed, rejected rows kept -----------------------------
BAD_ROWS = {120: ("volume", "-5"), 300: ("close", "abc"), 700: ("volume", "-1")}  # 0-based data rows


@pytest.fixture(scope="module")
def partial_runs(tmp_path_factory):
    work = tmp_path_factory.mktemp("cli_partial")
    bars = expected_bars()
    text = bars.with_columns(pl.all().cast(pl.String))
    for index, (column, value) in BAD_ROWS.items():
        text = text.with_columns(
            pl.when(pl.int_range(pl.len()) == index).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
        )
    text.write_csv(work / "mixed.csv")
    results = run_all(
        {ext: cli("features", "--bars", work / "mixed.csv", "--out", work / f"features.{ext}") for ext in ("csv", "parquet")},
        work,
    )
    good = bars.with_row_index("i").filter(~pl.col("i").is_in(list(BAD_ROWS))).drop("i")
    return work, bars, good, results


def read(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False) if path.suffix == ".csv" else pl.read_parquet(path)


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_bad_rows_exit_1_and_lose_nothing(partial_runs, ext):
    work, bars, good, results = partial_runs
    result = results[ext]
    assert result.code == 1, result.stderr
    line = assert_one_error_line(result)
    # The first rejected row is named: its column, the failed check and the row itself.
    assert "mixed.csv" in line
    assert f"3 of {bars.height} rows rejected" in line
    assert "volume failed '>= 0'" in line
    assert "row 121:" in line  # data row 120 counted from 1
    assert "volume=-5" in line
    assert f"features.rejected.{ext}" in line

    # Valid rows' features are written: exactly lane_features of the good bars.
    expected = lane_features(good)
    features = read(work / f"features.{ext}")
    if ext == "parquet":
        assert_frame_equal(features, expected)
    else:
        assert (work / "features.csv").read_text() == expected.write_csv()

    # Rejected rows are written next to the output, with their reason.
    rejected = read(work / f"features.rejected.{ext}")
    assert "reason" in rejected.columns
    assert rejected.height == len(BAD_ROWS)
    by_row = {int(r["source_row"]): r for r in rejected.iter_rows(named=True)}
    assert sorted(by_row) == [i + 1 for i in sorted(BAD_ROWS)]
    for index, (column, value) in BAD_ROWS.items():
        row = by_row[index + 1]
        assert row[column] == value  # the raw value is kept
        assert column in row["reason"]
    assert "'>= 0'" in by_row[121]["reason"]
    assert "'is a number'" in by_row[301]["reason"]

    # Nothing lost: valid + rejected = input rows.
    valid_count = int(re.search(r"from the (\d+) valid bars", line).group(1))
    assert valid_count == good.height
    assert valid_count + rejected.height == bars.height


# --- light imports ---------------------------------------------------------------------------------
def test_features_command_imports_neither_dagster_nor_pandera(tmp_path):
    expected_bars().write_parquet(tmp_path / "bars.parquet")
    code = (
        "import sys; from vol_pipeline.cli import main; "
        f"rc = main(['features', '--bars', {str(tmp_path / 'bars.parquet')!r}, '--out', {str(tmp_path / 'f.parquet')!r}]); "
        "print(rc, 'dagster' in sys.modules, 'pandera' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "0 False False"
    assert (tmp_path / "f.parquet").exists()

"""The bad-input catalogue (bad_input_catalogue.py) through the three ways bars come in:
`vol-pipeline features`, `vol-pipeline replay` (both as a user runs them) and the bars asset
in a Dagster run. For every kind: a message naming what is wrong (or the documented
normalisation), the valid rows processed, the rejected rows kept with their reason, and
input rows = valid + rejected (nothing lost)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from vol_pipeline.core.features import lane_features
from vol_pipeline.definitions import build_definitions
from vol_pipeline.runs import failure_message, materialize_ranges
from vol_pipeline.settings import Settings
from vol_pipeline.storage.open import open_warehouse
from vol_pipeline_tests import bad_input_catalogue as cat

EXE = Path(sys.executable).parent / "vol-pipeline"
WATCHLIST = ",".join(cat.WATCHLIST)
KINDS = [row.kind for row in cat.BAD_ROWS]


def vol_pipeline(*argv, home: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOL_PIPELINE_")}
    env |= {"VOL_PIPELINE_HOME": str(home), "VOL_PIPELINE_TICKERS": WATCHLIST}
    return subprocess.run([str(EXE), *map(str, argv)], env=env, cwd=home.parent, text=True, capture_output=True,
                          timeout=600)


def error_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    return lines[-1]


def find(rejected: pl.DataFrame, row: cat.BadRow) -> dict:
    """The rejected row with this bad row's raw ticker and ts (exactly one)."""
    hits = rejected.filter((pl.col("ticker") == row.ticker) & (pl.col("ts") == row.ts))
    assert hits.height == 1, f"{row.kind}: {hits.height} rejected rows for {row.ticker} {row.ts}"
    return hits.row(0, named=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("catalogue")
    return folder, cat.write_catalogue(folder), cat.write_unusable(folder)


@pytest.fixture(scope="module")
def expected():
    valid = cat.expected_valid()
    return valid, lane_features(valid)


# --- vol-pipeline features -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def features_run(files):
    folder, catalogue, _ = files
    out = folder / "features.parquet"
    result = vol_pipeline("features", "--bars", catalogue, "--out", out, "--tickers", WATCHLIST, home=folder / "fhome")
    return result, pl.read_parquet(out), pl.read_parquet(folder / "features.rejected.parquet")


@pytest.mark.parametrize("kind", KINDS)
def test_features_rejects_each_kind_with_its_reason(features_run, kind):
    _, _, rejected = features_run
    row = next(r for r in cat.BAD_ROWS if r.kind == kind)
    found = find(rejected, row)
    assert row.reason in found["reason"]
    for column, raw in row.values.items():  # the raw value is kept as given
        assert found[column] == raw


def test_features_writes_the_features_of_every_valid_row_and_loses_nothing(features_run, expected):
    result, features, rejected = features_run
    valid, valid_features = expected
    assert result.returncode == 1, result.stderr
    line = error_line(result)
    rows = cat.catalogue_rows().height
    assert f"{rejected.height} of {rows} rows rejected" in line and "features.rejected.parquet" in line
    assert f"from the {valid.height} valid bars" in line
    assert valid.height + rejected.height == rows
    # Offsets normalised, order ignored, extra column ignored: the same features as clean input.
    assert_frame_equal(features, valid_features)


def test_features_duplicates(features_run):
    _, _, rejected = features_run
    reasons = rejected.filter(pl.col("ticker") == "BBB")["reason"].to_list()
    assert reasons.count(cat.CONFLICT_REASON) == 2 and reasons.count(cat.COPY_REASON) == 1


def test_awkward_valid_tickers_are_processed_without_errors(expected):
    _, features = expected
    by_ticker = {t: features.filter(pl.col("ticker") == t) for t in cat.WATCHLIST}
    zero = by_ticker[cat.ZERO]  # volume 0 is missing (the original stored NULL): null features, no division
    assert zero.height > 0
    assert zero.select(pl.col("volume_current", "volume_avg_20", "volume_ratio", "volume_surge").null_count()).row(0) == (
        zero.height,) * 4
    nullv = by_ticker[cat.NULLV]  # a null volume in the window: the volume features are null, not a crash
    assert nullv.height > 0 and nullv["volume_ratio"].null_count() == nullv.height
    big = by_ticker[cat.BIG]  # near the limits: exact, finite
    assert big.height > 0 and big["volume_avg_20"].to_list() == [10**11] * big.height
    assert big.select(pl.col("sma20", "sma50", "recent_vol").is_finite().all()).row(0) == (True, True, True)
    assert by_ticker[cat.FEW].is_empty()  # 10 bars < the 50-bar lookback: no feature row (documented)


@pytest.mark.parametrize("name", sorted(cat.UNUSABLE_FILES))
def test_features_refuses_an_unusable_file_in_one_line(files, name):
    folder, _, unusable = files
    out = folder / f"{name}.features.parquet"
    result = vol_pipeline("features", "--bars", unusable[name], "--out", out, home=folder / "fhome")
    assert result.returncode == 2
    line = error_line(result)
    for fragment in cat.UNUSABLE_FILES[name][2]:
        assert fragment in line
    assert not out.exists()


# --- vol-pipeline replay -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def replay_run(files):
    folder, catalogue, _ = files
    home = folder / "rhome"
    result = vol_pipeline("replay", "--bars", catalogue, home=home)
    tables = {}
    for name in ("bars", "bars_quarantine", "lane_features", "recommendations"):
        exported = vol_pipeline("export", name, "--out", folder / f"replay_{name}.parquet", home=home)
        assert exported.returncode == 0, exported.stderr
        tables[name] = pl.read_parquet(folder / f"replay_{name}.parquet")
    return result, tables


@pytest.mark.parametrize("kind", KINDS)
def test_replay_quarantines_each_kind_with_its_reason(replay_run, kind):
    _, tables = replay_run
    row = next(r for r in cat.BAD_ROWS if r.kind == kind)
    found = find(tables["bars_quarantine"], row)
    assert row.reason in found["reason"]
    # Rows with a market minute are stored in that minute's partition; the others per source.
    assert (found["minute_ts"] is not None) == row.placed, found


def test_replay_stores_every_valid_bar_and_loses_nothing(replay_run, expected):
    result, tables = replay_run
    valid, valid_features = expected
    assert result.returncode == 1, result.stderr
    line = error_line(result)
    assert "catalogue.csv" in line and "rows rejected" in line and "bars_quarantine" in line
    assert f"Replayed {valid['ts'].n_unique()} market minutes" in result.stdout
    assert_frame_equal(tables["bars"].select(valid.columns), valid)
    assert tables["bars"].height + tables["bars_quarantine"].height == cat.catalogue_rows().height
    # Features come from stored bars only, across the weekend and the DST change.
    assert_frame_equal(tables["lane_features"], valid_features)


def test_replay_dst_change_lands_each_bar_on_its_new_york_minute(replay_run):
    _, tables = replay_run
    bbb = tables["bars"].filter(pl.col("ticker") == "BBB")  # written with -04:00 / -05:00 offsets
    local = bbb["ts"].dt.convert_time_zone("America/New_York").dt.strftime("%H:%M")
    assert local.min() == "09:30" and local.max() == "15:59"
    assert bbb["ts"].min() == cat.FRIDAY_LAST_HOUR and cat.MONDAY_OPEN in bbb["ts"].to_list()


def test_replay_recommendations_of_awkward_tickers_are_sane(replay_run):
    _, tables = replay_run
    recs = tables["recommendations"]
    assert recs.height > 0
    assert recs.select(pl.col("confidence").is_between(0, 1).all()).item()
    # No features yet (FEW). Zero volumes are missing volume: the 0.5 multiplier, as for nulls.
    assert set(recs["ticker"]) <= set(cat.WATCHLIST) - {cat.FEW}
    no_volume = recs.filter(pl.col("ticker").is_in([cat.ZERO, cat.NULLV]))
    assert no_volume.filter(pl.col("ticker") == cat.ZERO).height == 0 or set(
        no_volume.filter(pl.col("ticker") == cat.ZERO)["volume_mult"]) == {0.5}
    assert set(no_volume.filter(pl.col("volume_ratio").is_null())["volume_assessment"]) <= {"NO_VOLUME_DATA"}


@pytest.mark.parametrize("name", sorted(cat.UNUSABLE_FILES))
def test_replay_refuses_an_unusable_file_in_one_line_and_stores_nothing(files, name):
    folder, _, unusable = files
    home = folder / f"unusable_{name}"
    result = vol_pipeline("replay", "--bars", unusable[name], home=home)
    assert result.returncode == 2
    line = error_line(result)
    for fragment in cat.UNUSABLE_FILES[name][2]:
        assert fragment in line
    assert not (home / "warehouse.duckdb").exists()


# --- the bars asset in a Dagster run ----------------------------------------------------------------
def bars_asset_run(home: Path, bars_file: Path) -> tuple[dg.ExecuteInProcessResult, Settings]:
    settings = Settings(home=home, partition_start=cat.FRIDAY, bars_file=bars_file, watchlist=cat.WATCHLIST)
    first = cat.MONDAY_OPEN
    result, = materialize_ranges(build_definitions(settings), dg.DagsterInstance.ephemeral(),
                                 [(first, first + timedelta(minutes=59))], selection=["bars", "bars_quarantine"])
    return result, settings


@pytest.fixture(scope="module")
def asset_run(files):
    folder, catalogue, _ = files
    result, settings = bars_asset_run(folder / "ahome", catalogue)
    assert result.success
    store = open_warehouse(settings.warehouse_path)
    return result, store.read("bars"), store.read("bars_quarantine")


def test_bars_asset_metadata_counts_rejections_by_reason(asset_run):
    result, _, _ = asset_run
    meta = result.asset_materializations_for_node("bars_from_source")
    quarantine = next(m for m in meta if m.asset_key == dg.AssetKey("bars_quarantine")).metadata
    reasons = quarantine["rejected_reasons"].value
    assert reasons["ticker failed 'in the watchlist'"] == 1 and reasons[cat.CONFLICT_REASON] == 2
    assert quarantine["unplaced_rejected_rows"].value == sum(not r.placed for r in cat.BAD_ROWS)


@pytest.mark.parametrize("kind", KINDS)
def test_bars_asset_keeps_each_kind_with_its_reason(asset_run, kind):
    _, _, quarantine = asset_run
    row = next(r for r in cat.BAD_ROWS if r.kind == kind)
    found = find(quarantine, row)  # Monday's hour was run: placed rows of that hour, and every unplaced row
    assert row.reason in found["reason"]


def test_bars_asset_stores_the_valid_bars_of_its_minutes(asset_run, expected):
    _, bars, _ = asset_run
    valid, _ = expected
    assert_frame_equal(bars.select(valid.columns), valid.filter(pl.col("ts") >= cat.MONDAY_OPEN))


@pytest.mark.parametrize("name", sorted(cat.UNUSABLE_FILES))
def test_bars_asset_run_fails_naming_the_file_and_the_problem(files, name):
    folder, _, unusable = files
    result, settings = bars_asset_run(folder / f"asset_{name}", unusable[name])
    assert not result.success
    message = failure_message(result)
    for fragment in cat.UNUSABLE_FILES[name][2]:
        assert fragment in message, message
    assert open_warehouse(settings.warehouse_path).read("bars").is_empty()

"""The minute job end to end: Definitions -> Dagster runs -> warehouse tables and the instance.

The runs are expensive (orchestration dominates), so every scenario is built once per test
session into a shared folder (even under pytest-xdist, where the workers would otherwise
each build their own copy) and the tests only read its tables, snapshots and instance.

Main scenario (synthetic bars, the default 7 tickers):
  1. warm-up: bars only for the 60 market minutes before 2026-11-23 09:30 New York;
  2. 2026-11-23 09:30-10:29 New York as ONE run (a single-run range);
  3. one minute of that range (one with a recommendation) re-run as a single partition;
  4. 10:30 run with `evaluate_signals` broken: its contract check must block.
Replay scenario: a CSV with two bad rows, 09:30-10:29 as one run.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl
import pytest
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from polars.testing import assert_frame_equal

from vol_pipeline.core.calendar import market_minutes_back
from vol_pipeline.core.config import DEFAULT_TICKERS
from vol_pipeline.core.features import lane_features as full_lane_features
from vol_pipeline.core.signals import evaluate_signals
from vol_pipeline.definitions import build_definitions
from vol_pipeline.defs.partitions import partition_key, register_minutes
from vol_pipeline.runs import QUIET_RUN_CONFIG, cli_instance, failure_message, materialize_ranges
from vol_pipeline.contracts import EXECUTIONS_SCHEMA, RECOMMENDATIONS_SCHEMA, check_contract
from vol_pipeline.settings import Settings
from vol_pipeline.sources.synthetic import SyntheticBarSource
from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse
from vol_pipeline.storage.tables import TABLES
from vol_pipeline_tests.shared_fixtures import built_once, load_tables, save_tables

UTC = timezone.utc
MINUTE = timedelta(minutes=1)
PARTITION_START = date(2026, 11, 16)
SESSION_OPEN = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # 09:30 New York
RANGE_END = SESSION_OPEN + 60 * MINUTE  # exclusive: the range is 09:30-10:29
FRESH_MINUTE = RANGE_END  # 10:30, first materialized by the failing run
WARM_UP_MINUTES = 60
CHECKS = [
    ("bars", "pandera_contract"),
    ("lane_features", "pandera_contract"),
    ("watchlist", "pandera_contract"),
    ("signals", "pandera_contract"),
    ("recommendations", "pandera_contract"),
    ("recommendations", "confidence_formula"),
    ("executions", "pandera_contract"),
]
REPLAY_TICKERS = ("AAPL", "MSFT")

# The volume multiplier table of DESIGN §4, written out independently of the code.
MULTIPLIER_TABLE = [(0.5, 0.0), (1.2, 0.3), (1.5, 0.6), (2.0, 1.0), (3.0, 1.2)]


def expected_multiplier(ratio: float | None) -> float:
    if ratio is None:
        return 0.5
    for below, mult in MULTIPLIER_TABLE:
        if ratio < below:
            return mult
    return 1.3


# --- building a scenario once per session -----------------------------------------------------
def read_all(settings: Settings) -> dict[str, pl.DataFrame]:
    store = DuckDBWarehouse(settings.warehouse_path)
    return {name: store.read(name) for name in TABLES}


def assert_same(left: pl.DataFrame, right: pl.DataFrame, name: str) -> None:
    try:
        assert_frame_equal(left, right)
    except AssertionError as error:
        raise AssertionError(f"{name}: {error}") from None


def in_window(frame: pl.DataFrame, start: datetime, end: datetime, column: str = "ts") -> pl.DataFrame:
    return frame.filter((pl.col(column) >= start) & (pl.col(column) < end))


def main_settings(folder: Path) -> Settings:
    return Settings(home=folder / "home", partition_start=PARTITION_START)


def _build_main(folder: Path) -> None:
    settings = main_settings(folder)
    defs = build_definitions(settings)
    job = defs.resolve_job_def("minute_job")
    info: dict = {}
    with cli_instance(settings) as instance:
        warm_first = market_minutes_back(SESSION_OPEN, WARM_UP_MINUTES)
        warm_last = market_minutes_back(SESSION_OPEN, 1)
        warm = materialize_ranges(defs, instance, [(warm_first, warm_last)], selection=["bars", "bars_quarantine"])
        info["warm"] = [r.run_id for r in warm], [r.success for r in warm]
        info["warm_first"] = warm_first.isoformat()

        ranged = materialize_ranges(defs, instance, [(SESSION_OPEN, RANGE_END - MINUTE)])
        info["range"] = [r.run_id for r in ranged], [r.success for r in ranged]
        after_range = read_all(settings)
        save_tables(folder, "range", after_range)

        # Re-run one minute that has a recommendation (the newest one, so the cooldown
        # reads earlier recommendations of the range run).
        recs = after_range["recommendations"]
        rerun_minute = recs["ts"].max() if recs.height else SESSION_OPEN + 30 * MINUTE
        info["rerun_minute"] = rerun_minute.isoformat()
        register_minutes(instance, [rerun_minute])
        rerun = job.execute_in_process(partition_key=partition_key(rerun_minute), instance=instance,
                                       run_config=QUIET_RUN_CONFIG, raise_on_error=False)
        info["rerun"] = rerun.run_id, rerun.success
        save_tables(folder, "rerun", read_all(settings))

        # A core function used by the signals asset returns rows that break the contract.
        def broken_signals(*args):
            return evaluate_signals(*args).with_columns(action=pl.lit("MAYBE"))

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("vol_pipeline.defs.assets.signals.evaluate_signals", broken_signals)
            register_minutes(instance, [FRESH_MINUTE])
            failed = job.execute_in_process(partition_key=partition_key(FRESH_MINUTE), instance=instance,
                                            run_config=QUIET_RUN_CONFIG, raise_on_error=False)
        info["failed"] = failed.run_id, failed.success
        info["failed_message"] = failure_message(failed)
        save_tables(folder, "failed", read_all(settings))
    (folder / "runs.json").write_text(json.dumps(info))


def _replay_file(folder: Path) -> tuple[Path, pl.DataFrame, list[dict]]:
    """09:30-10:29 of two tickers as CSV, with one negative volume and one high < low."""
    bars = SyntheticBarSource(tickers=REPLAY_TICKERS, seed=7).generate(SESSION_OPEN.date(), 1)
    bars = in_window(bars, SESSION_OPEN, RANGE_END).sort("ticker", "ts")
    # Bad rows at minutes where the other ticker has a good bar.
    both = bars.group_by("ts").len().filter(pl.col("len") == 2)["ts"].sort()
    neg_minute, inverted_minute = both[-8], both[-3]
    is_neg = (pl.col("ticker") == "AAPL") & (pl.col("ts") == neg_minute)
    is_inverted = (pl.col("ticker") == "MSFT") & (pl.col("ts") == inverted_minute)
    raw = bars.with_columns(
        volume=pl.when(is_neg).then(-5).otherwise(pl.col("volume")),
        high=pl.when(is_inverted).then(pl.col("low") - 0.5).otherwise(pl.col("high")),
    )
    path = folder / "replay.csv"
    raw.write_csv(path)
    numbered = raw.with_row_index("source_row", offset=1)
    bad = [
        {**numbered.filter(is_neg).row(0, named=True), "reason": "volume failed '>= 0'"},
        {**numbered.filter(is_inverted).row(0, named=True), "reason": "high failed 'high >= open, close'"},
    ]
    good = bars.filter(~(is_neg | is_inverted))
    return path, good, bad


def replay_settings(folder: Path) -> Settings:
    return Settings(home=folder / "home", partition_start=PARTITION_START, bars_file=folder / "replay.csv",
                    tickers=REPLAY_TICKERS)


def _build_replay(folder: Path) -> None:
    path, good, bad = _replay_file(folder)
    settings = replay_settings(folder)
    with cli_instance(settings) as instance:
        runs = materialize_ranges(build_definitions(settings), instance, [(SESSION_OPEN, RANGE_END - MINUTE)])
    good.write_parquet(folder / "good.parquet")
    info = {"run": [runs[-1].run_id, runs[-1].success],
            "bad": [{**row, "ts": row["ts"].isoformat()} for row in bad]}
    (folder / "runs.json").write_text(json.dumps(info))
    save_tables(folder, "replay", read_all(settings))


# --- fixtures ---------------------------------------------------------------------------------
class Scenario:
    def __init__(self, folder: Path, settings: Settings):
        self.folder = folder
        self.settings = settings
        self.info = json.loads((folder / "runs.json").read_text())
        self.instance = dg.DagsterInstance.from_config(str(settings.dagster_home))

    def snapshot(self, label: str) -> dict[str, pl.DataFrame]:
        return load_tables(self.folder, label, TABLES)

    def run_id(self, label: str) -> str:
        ids = self.info[label][0]
        return ids[-1] if isinstance(ids, list) else ids

    def succeeded(self, label: str) -> bool:
        ok = self.info[label][1]
        return all(ok) if isinstance(ok, list) else ok

    def events(self, label: str, event_type: dg.DagsterEventType) -> list[dg.EventLogEntry]:
        return list(self.instance.all_logs(self.run_id(label), of_type=event_type))

    def check_evaluations(self, label: str) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
        evaluations = {}
        for entry in self.events(label, dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            data = entry.dagster_event.event_specific_data
            evaluations[(data.asset_key.to_user_string(), data.check_name)] = data
        return evaluations

    def materializations(self, label: str) -> list[dg.AssetMaterialization]:
        return [e.asset_materialization for e in self.events(label, dg.DagsterEventType.ASSET_MATERIALIZATION)]


@pytest.fixture(scope="module")
def main(tmp_path_factory):
    folder = built_once(tmp_path_factory, "minute_job_main", _build_main)
    scenario = Scenario(folder, main_settings(folder))
    yield scenario
    scenario.instance.dispose()


@pytest.fixture(scope="module")
def replay(tmp_path_factory):
    folder = built_once(tmp_path_factory, "minute_job_replay", _build_replay)
    scenario = Scenario(folder, replay_settings(folder))
    yield scenario
    scenario.instance.dispose()


@pytest.fixture(scope="module")
def after_range(main):
    return main.snapshot("range")


@pytest.fixture(scope="module")
def range_bars(after_range):
    return in_window(after_range["bars"], SESSION_OPEN, RANGE_END)


@pytest.fixture(scope="module")
def rerun_minute(main):
    return datetime.fromisoformat(main.info["rerun_minute"])


# --- the range run ----------------------------------------------------------------------------
def test_warm_up_and_range_runs_succeed(main):
    assert main.succeeded("warm"), "warm-up run failed"
    assert main.succeeded("range"), "range run failed"
    assert len(main.info["range"][0]) == 1, "09:30-10:29 should be a single run"
    run = main.instance.get_run_by_id(main.run_id("range"))
    assert run.tags["dagster/asset_partition_range_start"] == "2026-11-23-09:30"
    assert run.tags["dagster/asset_partition_range_end"] == "2026-11-23-10:29"


def test_warm_up_materialized_bars_only(main, after_range):
    warm_first = datetime.fromisoformat(main.info["warm_first"])
    source = SyntheticBarSource(tickers=DEFAULT_TICKERS, seed=7)
    assert_frame_equal(in_window(after_range["bars"], warm_first, SESSION_OPEN), source.fetch(warm_first, SESSION_OPEN))
    assert after_range["lane_features"]["ts"].min() >= SESSION_OPEN
    keys = {m.asset_key.to_user_string() for m in main.materializations("warm")}
    assert keys == {"bars", "bars_quarantine"}


def test_bars_are_the_sources_bars_of_the_range(range_bars):
    expected = SyntheticBarSource(tickers=DEFAULT_TICKERS, seed=7).fetch(SESSION_OPEN, RANGE_END)
    assert expected.height > 50 * len(DEFAULT_TICKERS)
    assert_frame_equal(range_bars, expected)


def test_bars_schema_is_the_contract(after_range):
    assert after_range["bars"].schema == pl.Schema(TABLES["bars"].columns)
    assert after_range["bars"].schema["ts"] == pl.Datetime("us", "UTC")
    assert after_range["bars_quarantine"].is_empty()  # synthetic bars are valid


def test_lane_features_one_row_per_bar_equal_to_the_full_recompute(after_range, range_bars):
    features = in_window(after_range["lane_features"], SESSION_OPEN, RANGE_END)
    # every bar of the range has >= 50 bars of history thanks to the warm-up: one row per bar
    assert features.select("ticker", "ts").rows() == range_bars.select("ticker", "ts").rows()
    expected = in_window(full_lane_features(after_range["bars"]), SESSION_OPEN, RANGE_END)
    assert_frame_equal(features, expected)
    assert features["volume_ratio"].null_count() == 0


def test_signals_one_per_lane_features_row_with_a_rule(after_range):
    features, signals = after_range["lane_features"], after_range["signals"]
    assert signals.select("ticker", "ts").rows() == features.select("ticker", "ts").rows()
    assert signals["rule"].null_count() == 0
    assert "HOLD" in set(signals["action"])  # HOLD rows are kept, with their reason
    joined = signals.join(features, on=["ticker", "ts"], suffix="_f")
    for column in ("close", "sma20", "sma50", "distance_sma20", "trend_state", "volume_ratio"):
        assert (joined[column] == joined[f"{column}_f"]).all(), column
    for row in signals.iter_rows(named=True):
        assert row["volume_mult"] == expected_multiplier(row["volume_ratio"]), row


def test_recommendations_satisfy_the_schema_and_the_confidence_formula(after_range):
    recs = in_window(after_range["recommendations"], SESSION_OPEN, RANGE_END)
    assert recs.height > 0
    check_contract(recs, RECOMMENDATIONS_SCHEMA)
    for row in recs.iter_rows(named=True):
        mult = expected_multiplier(row["volume_ratio"])
        assert row["volume_mult"] == mult, row["id"]
        assert row["confidence"] == pytest.approx(min(1.0, row["base_confidence"] * mult), abs=1e-12), row["id"]
        assert row["id"] == f"{row['ticker']}-{row['ts']:%Y%m%dT%H%MZ}"
        volume = json.loads(row["reason"])["volume"]
        assert volume["volume_ratio"] == row["volume_ratio"] and volume["volume_mult"] == row["volume_mult"]
        assert volume["assessment"]


def test_recommendations_are_the_actionable_signals_after_the_cooldown(after_range):
    signals, recs = after_range["signals"], after_range["recommendations"]
    actionable = signals.filter(pl.col("action") != "HOLD")
    shared = ["ticker", "ts", "action", "instrument_type", "rule", "base_confidence", "volume_ratio", "volume_mult",
              "confidence"]
    # every recommendation is an actionable signal, values unchanged
    assert recs.select(shared).join(actionable.select(shared), on=shared, how="anti", nulls_equal=True).is_empty()
    # per ticker: accepted at least 15 minutes apart, and every skipped signal is inside a cooldown
    for (ticker,), frame in actionable.group_by("ticker"):
        accepted = sorted(recs.filter(pl.col("ticker") == ticker)["ts"].to_list())
        assert all(b - a >= timedelta(minutes=15) for a, b in zip(accepted, accepted[1:])), ticker
        for ts in frame["ts"]:
            if ts not in accepted:
                assert any(timedelta(0) < ts - a < timedelta(minutes=15) for a in accepted), (ticker, ts)


def test_every_recommendation_gets_exactly_one_decision_at_its_minute_end(after_range):
    recs, executions = after_range["recommendations"], after_range["executions"]
    assert sorted(executions["recommendation_id"].to_list()) == sorted(recs["id"].to_list())
    check_contract(executions, EXECUTIONS_SCHEMA)
    assert (executions["decided_at"] == executions["ts"] + timedelta(minutes=1)).all()
    gates = executions["gates"].map_elements(json.loads, return_dtype=pl.Object).to_list()
    assert all(set(g) == {"confidence", "action_allowed", "bar_freshness", "feature_freshness", "ticker_daily_limit"}
               for g in gates)
    # the confidence gate alone decides which of these fresh, allowed recommendations run
    by_id = dict(zip(recs["id"], recs["confidence"]))
    for row in executions.iter_rows(named=True):
        if row["status"] == "SIMULATED":
            assert by_id[row["recommendation_id"]] >= 0.70 and row["qty"] >= 1
        elif by_id[row["recommendation_id"]] >= 0.70:
            assert "confidence" not in row["failed_gates"]


def test_asset_checks_are_recorded_and_pass(main):
    for label in ("range", "rerun"):
        evaluations = main.check_evaluations(label)
        assert set(evaluations) == set(CHECKS), label
        failed = {key: e.metadata for key, e in evaluations.items() if not e.passed}
        assert not failed, (label, failed)
        assert all(e.blocking for e in evaluations.values())
    # the instance's check history has a passed execution from both runs for every check
    storage = main.instance.event_log_storage
    for asset, name in CHECKS:
        key = dg.AssetCheckKey(dg.AssetKey(asset), name)
        done = storage.get_asset_check_execution_history(key, limit=100, status={AssetCheckExecutionRecordStatus.SUCCEEDED})
        runs = {record.run_id for record in done if record.event.dagster_event.event_specific_data.passed}
        assert {main.run_id("range"), main.run_id("rerun")} <= runs, key


def test_a_single_minute_run_records_its_checks_as_passed_for_its_partition(main, rerun_minute):
    storage = main.instance.event_log_storage
    keys = [dg.AssetCheckKey(dg.AssetKey(asset), name) for asset, name in CHECKS]
    # no run touched the re-run minute afterwards: its latest check execution is the rerun's
    latest = storage.get_latest_asset_check_execution_by_key(
        keys, partition_filter=PartitionKeyFilter(key=partition_key(rerun_minute)))
    for key in keys:
        assert latest[key].run_id == main.run_id("rerun"), key
        assert latest[key].status == AssetCheckExecutionRecordStatus.SUCCEEDED, (key, latest[key].status)


def latest_materialization(main: Scenario, asset: str, key: str) -> dg.EventLogRecord:
    records = main.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[key]), limit=1
    ).records
    assert records, f"{asset} {key} was never materialized"
    return records[0]


def lineage(metadata: dict, column: str) -> set[tuple[str, str]]:
    deps = metadata["dagster/column_lineage"].value.deps_by_column[column]
    return {(dep.asset_key.to_user_string(), dep.column_name) for dep in deps}


def test_materialization_metadata_has_row_count_and_column_lineage(main, after_range):
    key = "2026-11-23-09:50"
    recs = latest_materialization(main, "recommendations", key).asset_materialization.metadata
    assert isinstance(recs["window_row_count"].value, int)  # materialized by the range run
    assert lineage(recs, "confidence") == {("signals", "base_confidence"), ("signals", "volume_mult")}
    features = latest_materialization(main, "lane_features", key).asset_materialization.metadata
    assert isinstance(features["window_row_count"].value, int)
    assert lineage(features, "volume_ratio") == {("bars", "volume")}
    # every minute of the range has its materializations, from the range run
    for asset in ("bars", "lane_features", "signals", "recommendations"):
        partitions = {m.partition for m in main.materializations("range") if m.asset_key == dg.AssetKey(asset)}
        assert len(partitions) == 60, asset


def test_single_minute_materialization_counts_that_minutes_rows(main, rerun_minute):
    rerun = main.snapshot("rerun")
    key = partition_key(rerun_minute)
    for asset in ("bars", "lane_features", "signals", "recommendations"):
        record = latest_materialization(main, asset, key)
        assert record.run_id == main.run_id("rerun")
        expected = in_window(rerun[asset], rerun_minute, rerun_minute + MINUTE).height
        assert record.asset_materialization.metadata["dagster/row_count"].value == expected, asset


def test_range_run_materializations_label_counts_as_the_windows(main, after_range):
    """Dagster copies a range run's output metadata onto every minute: the count must not
    pose as that minute's row count."""
    for asset in ("bars", "lane_features"):
        records = [m for m in main.materializations("range") if m.asset_key == dg.AssetKey(asset)]
        assert len(records) > 1, asset
        starts = [datetime.strptime(m.partition, "%Y-%m-%d-%H:%M").replace(tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)
                  for m in records]
        total = in_window(after_range[asset], min(starts), max(starts) + MINUTE).height
        for m in records:
            assert "dagster/row_count" not in m.metadata, (asset, m.partition)
            assert m.metadata["window_row_count"].value == total, (asset, m.partition)
            assert m.metadata["window_minutes"].value == len(records), (asset, m.partition)


# --- re-running one minute --------------------------------------------------------------------
def test_rematerializing_one_minute_leaves_every_table_identical(main, after_range):
    assert main.succeeded("rerun")
    after_rerun = main.snapshot("rerun")
    for name in TABLES:
        assert_same(after_rerun[name], after_range[name], name)


def test_one_minute_run_equals_the_range_run_for_that_minute(main, after_range, rerun_minute):
    """The per-minute path (lane_features_at, cooldown from stored recommendations) gives the
    same values as the range run's full recompute."""
    assert SESSION_OPEN < rerun_minute < RANGE_END
    after_rerun = main.snapshot("rerun")
    for name in ("bars", "lane_features", "signals", "recommendations"):
        one = in_window(after_rerun[name], rerun_minute, rerun_minute + MINUTE)
        assert one.height > 0, name
        assert_same(one, in_window(after_range[name], rerun_minute, rerun_minute + MINUTE), name)


# --- a contract failure blocks ----------------------------------------------------------------
def test_contract_failure_fails_the_run_with_a_message_naming_the_check(main):
    assert main.succeeded("failed") is False
    message = main.info["failed_message"]
    assert "signals" in message and "'action'" in message and "isin" in message, message


def test_contract_failure_is_recorded_as_a_failed_check(main):
    evaluations = main.check_evaluations("failed")
    failed = evaluations[("signals", "pandera_contract")]
    assert failed.passed is False
    text = failed.metadata["failure"].value
    assert "signals" in text and "column 'action'" in text and "isin" in text, text
    assert "MAYBE" in text  # an example row is shown
    assert evaluations[("bars", "pandera_contract")].passed
    assert evaluations[("lane_features", "pandera_contract")].passed
    assert not any(asset == "recommendations" for asset, _ in evaluations)

    key = dg.AssetCheckKey(dg.AssetKey("signals"), "pandera_contract")
    record = main.instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
    assert record.run_id == main.run_id("failed")
    assert record.status.value == "FAILED"
    assert "pandera_contract" in record.event.user_message


def test_contract_failure_writes_nothing_downstream(main):
    before, after = main.snapshot("rerun"), main.snapshot("failed")
    minute = (FRESH_MINUTE, FRESH_MINUTE + MINUTE)
    # upstream of the failing asset was written for 10:30 ...
    assert in_window(after["bars"], *minute).height > 0
    assert in_window(after["lane_features"], *minute).height > 0
    # ... but no signal and no recommendation for that minute
    assert in_window(after["signals"], *minute).is_empty()
    assert in_window(after["recommendations"], *minute).is_empty()
    # and nothing else changed
    for name in TABLES:
        assert_same(after[name].filter(pl.col(TABLES[name].partition_column) < FRESH_MINUTE), before[name], name)
    materialized = {m.asset_key.to_user_string() for m in main.materializations("failed")}
    assert materialized == {"bars", "bars_quarantine", "lane_features", "watchlist"}  # upstream of signals
    records = main.instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("recommendations"), asset_partitions=[partition_key(FRESH_MINUTE)]),
        limit=1,
    ).records
    assert records == []


def test_per_minute_lane_features_equal_the_full_recompute(main):
    """10:30 ran alone (per-minute kernel path): same values as a full recompute."""
    after = main.snapshot("failed")
    got = in_window(after["lane_features"], FRESH_MINUTE, FRESH_MINUTE + MINUTE)
    expected = in_window(full_lane_features(after["bars"]), FRESH_MINUTE, FRESH_MINUTE + MINUTE)
    assert got.height > 0
    assert_frame_equal(got, expected)


# --- replay with bad rows ---------------------------------------------------------------------
def test_replay_bad_rows_go_to_quarantine_with_their_reason(replay):
    assert replay.succeeded("run")
    quarantine = replay.snapshot("replay")["bars_quarantine"]
    bad = replay.info["bad"]
    assert quarantine.height == len(bad)
    source = str(replay.settings.bars_file)
    for expected in bad:
        ts = datetime.fromisoformat(expected["ts"])
        rows = quarantine.filter(pl.col("minute_ts") == ts).rows(named=True)
        assert len(rows) == 1, expected
        row = rows[0]
        assert row["ticker"] == expected["ticker"]
        assert row["source_row"] == expected["source_row"]
        assert row["source"] == source
        assert expected["reason"] in row["reason"], row["reason"]
        assert float(row["volume"]) == expected["volume"] and float(row["high"]) == expected["high"]


def test_replay_good_rows_flow_on(replay):
    tables = replay.snapshot("replay")
    good = pl.read_parquet(replay.folder / "good.parquet")
    assert_frame_equal(tables["bars"].select(good.columns), good)
    assert set(tables["bars"]["feed"]) == {"replay"}  # the file names no feed
    # features, signals for the good bars; none for a rejected bar's (ticker, minute)
    expected_features = full_lane_features(good)
    assert expected_features.height > 0
    assert_frame_equal(tables["lane_features"], expected_features)
    assert tables["signals"].select("ticker", "ts").rows() == expected_features.select("ticker", "ts").rows()
    for bad in replay.info["bad"]:
        ts = datetime.fromisoformat(bad["ts"])
        at_minute = tables["lane_features"].filter(pl.col("ts") == ts)
        assert bad["ticker"] not in at_minute["ticker"].to_list()
        assert at_minute.height == 1  # the other ticker's good bar of that minute went through
    evaluations = replay.check_evaluations("run")
    assert all(e.passed for e in evaluations.values())

"""The session job end to end: minute runs -> session_job (outcomes, session_report) ->
warehouse tables, asset checks and metadata in the instance; and run_errors.unrepaired_failures.

The runs are expensive, so the scenario is built once per test session (shared under
pytest-xdist) and the tests read its snapshots, recorded results and instance.

Scenario (synthetic bars, the default 7 tickers, partitions from 2026-11-16):
  1. warm-up: bars only for the 60 market minutes before 2026-11-23 09:30 New York
     (Friday 2026-11-20 15:00-15:59);
  2. 2026-11-23 09:30-11:29 New York as ONE run of the minute job;
  3. session_job for 2026-11-23 ("session1"), then again ("session2");
  4. a minute_job run over 11:28-11:29 with `evaluate_signals` broken: it fails after
     re-writing bars and lane_features with the same values ("failed");
  5. session_job again ("session3": the failed run must show in the checklist);
  6. 11:28 re-run alone ("partial": 11:29 still unrepaired), then 11:28-11:29 ("repair");
  7. session_job again ("session4": nothing unrepaired any more);
  8. session_job for Friday 2026-11-20, which has warm-up bars only ("friday").
unrepaired_failures is recorded after each of steps 2, 4, 6a and 6b.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._core.event_api import PartitionKeyFilter
from polars.testing import assert_frame_equal

from vol_pipeline.core.calendar import market_minutes_back
from vol_pipeline.core.config import DEFAULT_TICKERS
from vol_pipeline.core.signals import evaluate_signals
from vol_pipeline.definitions import build_definitions
from vol_pipeline.defs.partitions import partition_key, register_minutes
from vol_pipeline.defs.run_errors import unrepaired_failures
from vol_pipeline.runs import QUIET_RUN_CONFIG, cli_instance, materialize_ranges, materialize_session
from vol_pipeline.contracts import OUTCOMES_SCHEMA, check_contract
from vol_pipeline.settings import Settings
from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse
from vol_pipeline.storage.tables import TABLES
from vol_pipeline_tests.shared_fixtures import built_once, load_tables, save_tables

UTC = timezone.utc
MINUTE = timedelta(minutes=1)
PARTITION_START = date(2026, 11, 16)
SESSION = date(2026, 11, 23)
KEY = "2026-11-23"
FRIDAY = date(2026, 11, 20)
SESSION_OPEN = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # 09:30 New York
SESSION_CLOSE = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)  # 16:00 New York
SESSION_START = datetime(2026, 11, 23, 5, 0, tzinfo=UTC)  # midnight New York, where the report row is filed
RANGE_END = SESSION_OPEN + 120 * MINUTE  # exclusive: the range is 09:30-11:29
FAIL_FIRST, FAIL_LAST = RANGE_END - 2 * MINUTE, RANGE_END - MINUTE  # 11:28-11:29, inside the range
WARM_UP_MINUTES = 60

# The seed checklist and who has to act on each item, written out independently of the code.
CHECKLIST_SEVERITY = {
    "volume_features_present": dg.AssetCheckSeverity.ERROR,
    "reason_has_volume": dg.AssetCheckSeverity.ERROR,
    "no_run_errors": dg.AssetCheckSeverity.ERROR,
    "execution_rate_positive": dg.AssetCheckSeverity.WARN,
    "confidence_varies_in_range": dg.AssetCheckSeverity.WARN,
    "multiplier_distribution": dg.AssetCheckSeverity.WARN,
}
OUTCOMES_CONTRACT = ("outcomes", "pandera_contract")
SESSION_CHECKS = {OUTCOMES_CONTRACT, *(("session_report", name) for name in CHECKLIST_SEVERITY)}
EXIT_REASONS = {"STOP", "TARGET", "MAX_HOLD", "SESSION_CLOSE", "NO_BARS"}
SESSION_LABELS = ("session1", "session2", "session3", "session4")


# --- building the scenario once ---------------------------------------------------------------
def read_all(settings: Settings) -> dict[str, pl.DataFrame]:
    store = DuckDBWarehouse(settings.warehouse_path)
    return {name: store.read(name) for name in TABLES}


def in_window(frame: pl.DataFrame, start: datetime, end: datetime, column: str = "ts") -> pl.DataFrame:
    return frame.filter((pl.col(column) >= start) & (pl.col(column) < end))


def scenario_settings(folder: Path) -> Settings:
    return Settings(home=folder / "home", partition_start=PARTITION_START)


def _build(folder: Path) -> None:
    settings = scenario_settings(folder)
    defs = build_definitions(settings)
    job = defs.resolve_job_def("minute_job")
    info: dict = {"unrepaired": {}}

    def record(label: str, results) -> None:
        results = results if isinstance(results, list) else [results]
        info[label] = [[r.run_id for r in results], [r.success for r in results]]

    with cli_instance(settings) as instance:
        warm_first = market_minutes_back(SESSION_OPEN, WARM_UP_MINUTES)
        warm_last = market_minutes_back(SESSION_OPEN, 1)
        record("warm", materialize_ranges(defs, instance, [(warm_first, warm_last)], selection=["bars", "bars_quarantine"]))
        record("range", materialize_ranges(defs, instance, [(SESSION_OPEN, RANGE_END - MINUTE)]))
        info["unrepaired"]["range"] = unrepaired_failures(instance, SESSION)
        save_tables(folder, "minutes", read_all(settings))

        for label in ("session1", "session2"):
            record(label, materialize_session(defs, instance, SESSION))
            save_tables(folder, label, read_all(settings))

        def broken_signals(*args):
            return evaluate_signals(*args).with_columns(action=pl.lit("MAYBE"))

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("vol_pipeline.defs.assets.signals.evaluate_signals", broken_signals)
            record("failed", materialize_ranges(defs, instance, [(FAIL_FIRST, FAIL_LAST)]))
        info["unrepaired"]["failed"] = unrepaired_failures(instance, SESSION)
        info["unrepaired"]["failed_other_sessions"] = [unrepaired_failures(instance, day)
                                                       for day in (FRIDAY, date(2026, 11, 24))]
        save_tables(folder, "failed", read_all(settings))

        record("session3", materialize_session(defs, instance, SESSION))
        save_tables(folder, "session3", read_all(settings))

        register_minutes(instance, [FAIL_FIRST])
        record("partial", job.execute_in_process(partition_key=partition_key(FAIL_FIRST), instance=instance,
                                                 run_config=QUIET_RUN_CONFIG, raise_on_error=False))
        info["unrepaired"]["partial"] = unrepaired_failures(instance, SESSION)
        record("repair", materialize_ranges(defs, instance, [(FAIL_FIRST, FAIL_LAST)]))
        info["unrepaired"]["repair"] = unrepaired_failures(instance, SESSION)

        record("session4", materialize_session(defs, instance, SESSION))
        save_tables(folder, "session4", read_all(settings))
        record("friday", materialize_session(defs, instance, FRIDAY))
        save_tables(folder, "friday", read_all(settings))
    (folder / "runs.json").write_text(json.dumps(info))


class Scenario:
    def __init__(self, folder: Path):
        self.folder = folder
        self.settings = scenario_settings(folder)
        self.info = json.loads((folder / "runs.json").read_text())
        self.instance = dg.DagsterInstance.from_config(str(self.settings.dagster_home))

    def table(self, label: str, name: str) -> pl.DataFrame:
        return load_tables(self.folder, label, [name])[name]

    def run_id(self, label: str) -> str:
        return self.info[label][0][-1]

    def succeeded(self, label: str) -> bool:
        return all(self.info[label][1])

    def report_row(self, label: str, session: date = SESSION) -> dict:
        rows = self.table(label, "session_report").filter(pl.col("session_date") == session.isoformat())
        assert rows.height == 1, (label, rows)
        return rows.row(0, named=True)

    def report(self, label: str, session: date = SESSION) -> dict:
        return json.loads(self.report_row(label, session)["report"])

    def events(self, label: str, event_type: dg.DagsterEventType) -> list[dg.EventLogEntry]:
        return list(self.instance.all_logs(self.run_id(label), of_type=event_type))

    def check_evaluations(self, label: str) -> dict[tuple[str, str], dg.AssetCheckEvaluation]:
        evaluations = {}
        for entry in self.events(label, dg.DagsterEventType.ASSET_CHECK_EVALUATION):
            data = entry.dagster_event.event_specific_data
            key = (data.asset_key.to_user_string(), data.check_name)
            assert key not in evaluations, f"{key} evaluated twice in {label}"
            evaluations[key] = data
        return evaluations

    def materialization(self, label: str, asset: str) -> dg.AssetMaterialization:
        found = [e.asset_materialization for e in self.events(label, dg.DagsterEventType.ASSET_MATERIALIZATION)
                 if e.asset_materialization.asset_key == dg.AssetKey(asset)]
        assert len(found) == 1, (label, asset, found)
        return found[0]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    scenario = Scenario(built_once(tmp_path_factory, "session_job_main", _build))
    yield scenario
    scenario.instance.dispose()


@pytest.fixture(scope="module")
def minutes(scenario) -> dict[str, pl.DataFrame]:
    """The minute tables the first two session runs read (session bounds of 2026-11-23)."""
    return {name: in_window(scenario.table("minutes", name), SESSION_OPEN, SESSION_CLOSE)
            for name in ("bars", "lane_features", "signals", "recommendations", "executions")}


@pytest.fixture(scope="module")
def simulated(minutes) -> pl.DataFrame:
    return minutes["executions"].filter(pl.col("status") == "SIMULATED")


@pytest.fixture(scope="module")
def outcomes(scenario) -> pl.DataFrame:
    return scenario.table("session1", "outcomes")


@pytest.fixture(scope="module")
def report(scenario) -> dict:
    return scenario.report("session1")


def without_checklist(report: dict) -> dict:
    return {key: value for key, value in report.items() if key != "checklist"}


# --- the runs -----------------------------------------------------------------------------------
def test_minute_runs_and_session_runs_succeed(scenario):
    for label in ("warm", "range", *SESSION_LABELS, "partial", "repair", "friday"):
        assert scenario.succeeded(label), label
    assert not scenario.succeeded("failed")
    assert len(scenario.info["range"][0]) == 1, "09:30-11:29 should be a single run"
    for label in SESSION_LABELS:
        run = scenario.instance.get_run_by_id(scenario.run_id(label))
        assert run.job_name == "session_job"
        assert run.tags["dagster/partition"] == KEY
    assert scenario.instance.get_run_by_id(scenario.run_id("friday")).tags["dagster/partition"] == "2026-11-20"


def test_the_session_has_simulated_executions(minutes, simulated):
    assert minutes["recommendations"].height > simulated.height >= 1


def test_session_runs_materialize_outcomes_and_session_report_for_the_session(scenario):
    for label in SESSION_LABELS:
        materialized = {(e.asset_materialization.asset_key.to_user_string(), e.asset_materialization.partition)
                        for e in scenario.events(label, dg.DagsterEventType.ASSET_MATERIALIZATION)}
        # (session_job may hold further session assets, e.g. an archive: all of that session)
        assert {("outcomes", KEY), ("session_report", KEY)} <= materialized, label
        assert {partition for _, partition in materialized} == {KEY}, label


# --- outcomes -----------------------------------------------------------------------------------
def test_outcomes_one_row_per_simulated_execution(outcomes, simulated):
    assert sorted(outcomes["recommendation_id"].to_list()) == sorted(simulated["recommendation_id"].to_list())
    joined = outcomes.join(simulated, on="recommendation_id", suffix="_x")
    assert joined.height == outcomes.height
    assert (joined["ticker"] == joined["ticker_x"]).all()
    assert (joined["action"] == joined["action_x"]).all()
    assert (joined["entry_ts"] == joined["decided_at"]).all()
    assert (joined["entry_price"] == joined["entry_price_x"]).all()


def test_outcomes_satisfy_their_contract_and_table_schema(outcomes):
    check_contract(outcomes, OUTCOMES_SCHEMA)
    assert outcomes.schema == pl.Schema(TABLES["outcomes"].columns)


def _walk(trade: dict, bars: pl.DataFrame) -> dict:
    """The exit rules of core/exits.py's docstring, one bar at a time."""
    decided = trade["decided_at"]
    hold_end = decided + timedelta(minutes=trade["max_hold_minutes"])
    path = bars.filter((pl.col("ticker") == trade["ticker"]) & (pl.col("ts") >= decided)
                       & (pl.col("ts") < min(hold_end, SESSION_CLOSE))).sort("ts")
    long = trade["action"] in ("BUY_CALL", "BUY_STOCK")
    stop, target = trade["stop_loss_price"], trade["take_profit_price"]
    exit_ = None
    for held, bar in enumerate(path.iter_rows(named=True), start=1):
        if long:
            stop_hit, target_hit = bar["low"] <= stop, bar["high"] >= target
            stop_gap, target_gap = bar["open"] <= stop, bar["open"] >= target
        else:
            stop_hit, target_hit = bar["high"] >= stop, bar["low"] <= target
            stop_gap, target_gap = bar["open"] >= stop, bar["open"] <= target
        if stop_hit and (stop_gap or not target_hit or not target_gap):
            exit_ = ("STOP", bar["open"] if stop_gap else stop, bar["ts"] + MINUTE, held)
        elif target_hit:
            exit_ = ("TARGET", bar["open"] if target_gap else target, bar["ts"] + MINUTE, held)
        if exit_:
            break
    if exit_ is None and path.height:
        last = path.row(-1, named=True)
        exit_ = ("MAX_HOLD" if hold_end <= SESSION_CLOSE else "SESSION_CLOSE", last["close"], last["ts"] + MINUTE,
                 path.height)
    if exit_ is None:
        exit_ = ("NO_BARS", trade["entry_price"], decided, 0)
    reason, price, exit_ts, held = exit_
    sign = 1 if long else -1
    pnl = sign * (price - trade["entry_price"]) * trade["qty"]
    return {"exit_reason": reason, "exit_price": price, "exit_ts": exit_ts, "bars_held": held, "pnl": pnl,
            "r_multiple": pnl / (abs(trade["entry_price"] - stop) * trade["qty"]), "win": pnl > 0}


def test_exit_reasons_are_valid_and_follow_the_bars(outcomes, simulated, minutes):
    assert set(outcomes["exit_reason"]) <= EXIT_REASONS
    assert (outcomes["exit_ts"] <= SESSION_CLOSE).all()
    by_id = {row["recommendation_id"]: row for row in simulated.iter_rows(named=True)}
    for row in outcomes.iter_rows(named=True):
        expected = _walk(by_id[row["recommendation_id"]], minutes["bars"])
        for column in ("exit_reason", "exit_ts", "bars_held", "win"):
            assert row[column] == expected[column], (row["recommendation_id"], column, row[column], expected[column])
        for column in ("exit_price", "pnl", "r_multiple"):
            assert row[column] == pytest.approx(expected[column], rel=1e-9, abs=1e-9), (row["recommendation_id"], column)


# --- idempotence --------------------------------------------------------------------------------
def test_second_session_run_leaves_outcomes_and_report_identical(scenario):
    assert_frame_equal(scenario.table("session2", "outcomes"), scenario.table("session1", "outcomes"))
    first, second = scenario.table("session1", "session_report"), scenario.table("session2", "session_report")
    assert first.height == second.height == 1
    assert_frame_equal(second.drop("generated_at"), first.drop("generated_at"))
    assert second["generated_at"][0] > first["generated_at"][0]
    # the minute tables are untouched by the session job
    for name in ("bars", "bars_quarantine", "lane_features", "signals", "recommendations", "executions"):
        assert_frame_equal(scenario.table("session2", name), scenario.table("minutes", name))


# --- session_report -----------------------------------------------------------------------------
def test_session_report_is_one_row_filed_at_the_sessions_midnight(scenario, report):
    table = scenario.table("session1", "session_report")
    assert table.schema == pl.Schema(TABLES["session_report"].columns)
    row = scenario.report_row("session1")
    assert row["session_date"] == KEY
    assert row["session_start"] == SESSION_START
    assert report["session"] == KEY


def test_report_dispatch_numbers_come_from_the_stored_tables(report, minutes, simulated):
    recs, executions = minutes["recommendations"], minutes["executions"]
    dispatch = report["dispatch"]
    assert report["recommendations"]["count"] == recs.height
    assert dispatch["simulated"] == simulated.height
    assert dispatch["decisions"] == executions.height
    assert dispatch["skipped"] == executions.height - simulated.height
    assert dispatch["execution_rate"] == pytest.approx(simulated.height / recs.height, rel=1e-12)
    assert dispatch["undecided_recommendations"] == 0
    gates = executions["failed_gates"].drop_nulls().str.split(",").explode().value_counts()
    assert dispatch["skips_by_gate"] == {gate: n for gate, n in gates.iter_rows()}


def test_report_coverage_and_outcomes_match_the_tables(report, minutes, outcomes):
    coverage = report["coverage"]
    assert coverage["bars"] == minutes["bars"].height
    assert coverage["tickers_with_bars"] == coverage["tickers_with_volume_features"] == len(DEFAULT_TICKERS)
    assert coverage["tickers_missing_volume_features"] == []
    stats = report["outcomes"]
    wins = int(outcomes["win"].sum())
    assert (stats["trades"], stats["wins"], stats["losses"]) == (outcomes.height, wins, outcomes.height - wins)
    assert stats["win_rate"] == pytest.approx(wins / outcomes.height)
    assert stats["pnl"] == pytest.approx(outcomes["pnl"].sum())
    assert stats["by_exit_reason"] == dict(outcomes["exit_reason"].value_counts().iter_rows())
    by_bucket = report["win_rate_by_bucket"]
    assert [row["bucket"] for row in by_bucket] == ["kill", "reduced", "normal", "boosted"]
    assert sum(row["trades"] for row in by_bucket) == outcomes.height
    assert sum(row["wins"] for row in by_bucket) == wins


def test_what_if_multiplier_on_reproduces_the_stored_chain(report, minutes, simulated, outcomes):
    rows = {row["variant"]: row for row in report["what_if"]}
    assert set(rows) == {"multiplier on", "multiplier off"}
    on = rows["multiplier on"]
    assert on["recommendations"] == minutes["recommendations"].height
    assert on["executions"] == simulated.height
    assert on["execution_rate"] == pytest.approx(report["dispatch"]["execution_rate"], rel=1e-12)
    assert on["trades"] == outcomes.height
    assert on["wins"] == int(outcomes["win"].sum())
    assert on["pnl"] == pytest.approx(outcomes["pnl"].sum())
    off = rows["multiplier off"]
    assert off["trades"] == off["executions"]  # every simulated execution gets an outcome
    if off["recommendations"]:
        assert off["execution_rate"] == pytest.approx(off["executions"] / off["recommendations"])


def test_report_checklist_is_the_six_items_in_order(report):
    assert [item["name"] for item in report["checklist"]] == list(CHECKLIST_SEVERITY)
    for item in report["checklist"]:
        assert item["severity"] == CHECKLIST_SEVERITY[item["name"]].value, item
    items = {item["name"]: item for item in report["checklist"]}
    assert items["volume_features_present"]["passed"] and items["reason_has_volume"]["passed"]
    assert items["no_run_errors"] == {"name": "no_run_errors", "severity": "ERROR", "passed": True, "detail": "none"}
    assert items["execution_rate_positive"]["passed"]


# --- asset checks ---------------------------------------------------------------------------------
def test_check_specs_of_the_session_assets(scenario):
    defs = build_definitions(scenario.settings)
    report_def = defs.resolve_assets_def("session_report")
    specs = {spec.name: spec for spec in report_def.check_specs}
    assert set(specs) == set(CHECKLIST_SEVERITY)
    for name, severity in CHECKLIST_SEVERITY.items():
        assert specs[name].description.startswith(f"[{severity.value}] "), specs[name].description
        assert not specs[name].blocking, name  # a failed checklist item does not stop the report
    outcomes_specs = list(defs.resolve_assets_def("outcomes").check_specs)
    assert [(s.name, s.blocking) for s in outcomes_specs] == [("pandera_contract", True)]


def test_session_checks_are_recorded_with_their_severity(scenario, report):
    items = {item["name"]: item for item in report["checklist"]}
    for label in ("session1", "session2"):
        evaluations = scenario.check_evaluations(label)
        assert set(evaluations) == SESSION_CHECKS, label
        contract = evaluations[OUTCOMES_CONTRACT]
        assert contract.passed and contract.severity == dg.AssetCheckSeverity.ERROR and contract.partition == KEY
        for name, severity in CHECKLIST_SEVERITY.items():
            evaluation = evaluations[("session_report", name)]
            assert evaluation.severity == severity, (label, name)
            assert evaluation.partition == KEY, (label, name)
            assert evaluation.passed == items[name]["passed"], (label, name)
            assert evaluation.metadata["detail"].value == items[name]["detail"], (label, name)


def test_check_history_for_the_session_partition_has_every_session_run(scenario):
    storage = scenario.instance.event_log_storage
    session_runs = {scenario.run_id(label) for label in SESSION_LABELS}
    for asset, name in SESSION_CHECKS:
        key = dg.AssetCheckKey(dg.AssetKey(asset), name)
        history = storage.get_asset_check_execution_history(key, limit=50, partition_filter=PartitionKeyFilter(key=KEY))
        assert {record.run_id for record in history} == session_runs, key
        friday = storage.get_asset_check_execution_history(
            key, limit=50, partition_filter=PartitionKeyFilter(key="2026-11-20"))
        assert [record.run_id for record in friday] == [scenario.run_id("friday")], key


# --- metadata -------------------------------------------------------------------------------------
def test_session_report_metadata_has_the_numbers_tables_and_charts(scenario, report):
    metadata = scenario.materialization("session1", "session_report").metadata
    assert metadata["execution_rate"].value == pytest.approx(report["dispatch"]["execution_rate"])
    assert metadata["win_rate"].value == pytest.approx(report["outcomes"]["win_rate"])
    assert metadata["recommendations"].value == report["recommendations"]["count"]
    assert metadata["executions_simulated"].value == report["dispatch"]["simulated"]
    assert metadata["trades"].value == report["outcomes"]["trades"]
    assert metadata["pnl"].value == pytest.approx(report["outcomes"]["pnl"])

    tables = {"multiplier_buckets": 4, "what_if": 2, "win_rate_by_bucket": 4, "confidence": 4,
              "skips_by_gate": len(report["dispatch"]["skips_by_gate"])}
    for name, rows in tables.items():
        assert isinstance(metadata[name], dg.TableMetadataValue), name
        assert len(metadata[name].records) == rows, name
    what_if = {r.data["variant"]: r.data for r in metadata["what_if"].records}
    assert what_if["multiplier on"]["recommendations"] == report["recommendations"]["count"]
    assert what_if["multiplier on"]["executions"] == report["dispatch"]["simulated"]
    buckets = [r.data["bucket"] for r in metadata["multiplier_buckets"].records]
    assert buckets == ["kill", "reduced", "normal", "boosted"]

    charts = metadata["charts"]
    assert isinstance(charts, dg.MarkdownMetadataValue)
    images = re.findall(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", charts.value)
    assert len(images) == 3
    assert all(base64.b64decode(image).startswith(b"\x89PNG\r\n\x1a\n") for image in images)


def test_outcomes_metadata_counts_its_rows(scenario, outcomes):
    metadata = scenario.materialization("session1", "outcomes").metadata
    assert metadata["dagster/row_count"].value == outcomes.height


# --- failed runs and the checklist ------------------------------------------------------------------
def test_unrepaired_failures_follow_the_runs(scenario):
    unrepaired = scenario.info["unrepaired"]
    failed = scenario.run_id("failed")
    run = scenario.instance.get_run_by_id(failed)
    assert run.status == dg.DagsterRunStatus.FAILURE and run.job_name == "minute_job"
    assert run.tags["dagster/asset_partition_range_start"] == "2026-11-23-11:28"
    assert unrepaired["range"] == []
    # the failure is newer than the range run that covered 11:28-11:29: it counts
    assert unrepaired["failed"] == [failed]
    assert unrepaired["failed_other_sessions"] == [[], []]
    # re-running 11:28 alone leaves 11:29 unrepaired ...
    assert scenario.instance.get_run_by_id(scenario.run_id("partial")).tags["dagster/partition"] == "2026-11-23-11:28"
    assert unrepaired["partial"] == [failed]
    # ... a later successful run over both minutes repairs it
    assert unrepaired["repair"] == []


def test_the_failed_run_fails_the_no_run_errors_check_without_blocking_the_report(scenario):
    failed = scenario.run_id("failed")
    evaluations = scenario.check_evaluations("session3")
    check = evaluations[("session_report", "no_run_errors")]
    assert check.passed is False
    assert check.severity == dg.AssetCheckSeverity.ERROR
    assert failed in check.metadata["detail"].value
    # the failed run rewrote bars and lane_features with the same values: everything else agrees
    first = scenario.check_evaluations("session1")
    for key, evaluation in evaluations.items():
        if key != ("session_report", "no_run_errors"):
            assert evaluation.passed == first[key].passed, key
    report = scenario.report("session3")
    items = {item["name"]: item for item in report["checklist"]}
    assert items["no_run_errors"]["passed"] is False and failed in items["no_run_errors"]["detail"]
    assert without_checklist(report) == without_checklist(scenario.report("session1"))
    assert_frame_equal(scenario.table("session3", "outcomes"), scenario.table("session1", "outcomes"))


def test_after_the_repair_the_report_is_clean_again(scenario):
    evaluations = scenario.check_evaluations("session4")
    assert evaluations[("session_report", "no_run_errors")].passed
    assert scenario.report("session4") == scenario.report("session1")
    key = dg.AssetCheckKey(dg.AssetKey("session_report"), "no_run_errors")
    latest = scenario.instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [key], partition_filter=PartitionKeyFilter(key=KEY))[key]
    assert latest.run_id == scenario.run_id("session4")
    assert latest.status.value == "SUCCEEDED"


# --- a session with bars but no features -----------------------------------------------------------
def test_session_with_only_warm_up_bars_gets_an_honest_report(scenario):
    tables = {name: scenario.table("friday", name) for name in ("outcomes", "session_report")}
    assert tables["session_report"]["session_date"].sort().to_list() == ["2026-11-20", KEY]
    assert in_window(tables["outcomes"], datetime(2026, 11, 20, 5, tzinfo=UTC), SESSION_START, "entry_ts").is_empty()
    report = scenario.report("friday", FRIDAY)
    assert report["coverage"]["tickers_with_bars"] == len(DEFAULT_TICKERS)
    assert report["coverage"]["tickers_with_volume_features"] == 0
    assert report["recommendations"]["count"] == 0
    assert report["dispatch"]["execution_rate"] is None
    assert report["outcomes"]["trades"] == 0 and report["outcomes"]["win_rate"] is None
    assert [row["recommendations"] for row in report["what_if"]] == [0, 0]
    evaluations = scenario.check_evaluations("friday")
    assert set(evaluations) == SESSION_CHECKS
    missing = evaluations[("session_report", "volume_features_present")]
    assert missing.passed is False and missing.severity == dg.AssetCheckSeverity.ERROR
    assert all(ticker in missing.metadata["detail"].value for ticker in DEFAULT_TICKERS)
    assert evaluations[("session_report", "no_run_errors")].passed
    assert evaluations[("session_report", "execution_rate_positive")].passed is False
    metadata = scenario.materialization("friday", "session_report").metadata
    assert metadata["execution_rate"].value is None and metadata["win_rate"].value is None
    # the 2026-11-23 report and outcomes are left as they were
    assert_frame_equal(tables["outcomes"], scenario.table("session4", "outcomes"))
    assert scenario.report("friday") == scenario.report("session4")


# --- a failed run over two sessions ----------------------------------------------------------------
def test_a_failed_run_spanning_the_weekend_counts_for_both_sessions(tmp_path):
    from vol_pipeline.core.calendar import market_minutes_between
    from vol_pipeline.runs import contiguous_ranges
    from vol_pipeline.sources.synthetic import SyntheticBarSource

    settings = Settings(home=tmp_path, partition_start=PARTITION_START, tickers=("AAPL",))
    first, last = datetime(2026, 11, 20, 20, 50, tzinfo=UTC), datetime(2026, 11, 23, 14, 39, tzinfo=UTC)
    # `replay` splits a file's minutes with contiguous_ranges: Friday 15:50-15:59 and Monday
    # 09:30-09:39 are consecutive market minutes, so they make one run
    minutes = market_minutes_between(first, last + MINUTE)
    assert len(minutes) == 20
    assert contiguous_ranges(minutes, 30) == [(first, last)]

    def source_down(self, start, end):
        raise RuntimeError("source down")

    with cli_instance(settings) as instance, pytest.MonkeyPatch.context() as patch:
        patch.setattr(SyntheticBarSource, "fetch", source_down)
        results = materialize_ranges(build_definitions(settings), instance, [(first, last)])
        assert len(results) == 1 and not results[0].success
        failed = results[0].run_id
        assert unrepaired_failures(instance, FRIDAY) == [failed]
        assert unrepaired_failures(instance, SESSION) == [failed]  # Monday 09:30-09:39 failed too

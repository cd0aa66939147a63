"""The rule_comparison asset: the whatif table from the stored bars and lane_features, recorded
in Dagster with its totals, the markdown table and a PNG chart.

The stored data is written straight through the Warehouse interface (synthetic bars and the
pure lane_features kernel): the asset only reads those two tables, so no minute runs are needed.
"""

from __future__ import annotations

import base64
import re
from datetime import date, datetime, timedelta, timezone

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from vol_pipeline.core.features import lane_features
from vol_pipeline.core.rule_comparison import compare_rule_sets, comparison_markdown
from vol_pipeline.core.rule_sets import parse_rule_sets, resolve
from vol_pipeline.defs.assets.common import KINDS, OWNERS
from vol_pipeline.defs.rule_comparison import ASSET, GROUP, build_rule_comparison
from vol_pipeline.defs.resources import WarehouseResource
from vol_pipeline.settings import Settings
from vol_pipeline.sources.synthetic import SyntheticBarSource
from vol_pipeline.sources.base import with_provenance
from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse

SESSIONS = [date(2026, 11, 20), date(2026, 11, 23), date(2026, 11, 24)]
EVERYTHING = (datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2027, 1, 1, tzinfo=timezone.utc))
DEFINED = [{"name": "gate-0.6", "min_confidence": 0.6}, {"name": "two-tiers", "tiers": {"1.0": 0.0, "2.0": 1.1}}]
NAMES = ["1.0-phase12", "1.0-phase12+multiplier-off", "gate-0.6", "two-tiers"]


@pytest.fixture(scope="module")
def stored(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("rule_comparison_asset")
    bars = SyntheticBarSource(tickers=("AAPL", "MSFT", "TSLA")).generate(SESSIONS[0], len(SESSIONS))
    features = lane_features(bars)
    store = DuckDBWarehouse(folder / "warehouse.duckdb")
    store.replace("bars", with_provenance(bars, "synthetic", pl.col("ts") + timedelta(minutes=1)), *EVERYTHING)
    store.replace("lane_features", features, *EVERYTHING)
    return {"folder": folder, "bars": bars, "features": features}


def materialize(stored: dict, instance: dg.DagsterInstance, sink=None, **config) -> dg.ExecuteInProcessResult:
    resource = WarehouseResource(path=str(stored["folder"] / "warehouse.duckdb"))
    return dg.materialize([build_rule_comparison(sink)], instance=instance, resources={"warehouse": resource},
                          run_config={"ops": {ASSET: {"config": config}}}, raise_on_error=False)


def failure(result: dg.ExecuteInProcessResult) -> str:
    (event,) = [e for e in result.all_events if e.is_step_failure]
    return event.step_failure_data.error.message


@pytest.fixture(scope="module")
def run(stored) -> dict:
    """One run over Thursday 2026-11-19 (no bars stored) .. Tuesday 2026-11-24, handing its comparison to a sink."""
    computed = []
    with dg.instance_for_test() as instance:
        result = materialize(stored, instance, computed.append, from_date="2026-11-19", to_date="2026-11-24",
                             rules=NAMES, rule_sets=DEFINED)
        assert result.success, failure(result)
        materializations = result.asset_materializations_for_node(ASSET)
        run_config = instance.get_run_by_id(result.run_id).run_config
    return {"result": result, "materializations": materializations, "computed": computed, "run_config": run_config}


@pytest.fixture(scope="module")
def expected(stored) -> pl.DataFrame:
    rule_sets = resolve(NAMES, parse_rule_sets({"rule_set": DEFINED}))
    return compare_rule_sets(stored["features"], stored["bars"], rule_sets, SESSIONS)


def test_one_materialization_with_the_comparison_as_metadata(run, expected):
    (materialization,) = run["materializations"]
    metadata = materialization.metadata
    assert metadata["from"].value == "2026-11-19" and metadata["to"].value == "2026-11-24"
    assert metadata["sessions"].value == 3
    assert metadata["sessions_without_bars"].value == ["2026-11-19"]
    assert metadata["dagster/row_count"].value == expected.height == 4 * 3 + 4
    assert metadata["comparison"].value == comparison_markdown(expected)


def test_totals_table_holds_each_rule_sets_total_row(run, expected):
    metadata = run["materializations"][0].metadata
    records = [record.data for record in metadata["totals"].value.records]
    totals = expected.filter(pl.col("session").is_null()).drop("session")
    assert [r["rules"] for r in records] == NAMES
    assert records == totals.to_dicts()
    assert [c.name for c in metadata["totals"].value.schema.columns] == totals.columns


def test_rule_set_definitions_are_recorded_as_they_ran(run):
    definitions = run["materializations"][0].metadata["rule_sets"].value
    assert list(definitions) == NAMES
    assert definitions["1.0-phase12"] == {
        "min_confidence": 0.7, "tiers": {"0.5": 0.0, "1.2": 0.3, "1.5": 0.6, "2.0": 1.0, "3.0": 1.2},
        "surge_multiplier": 1.3, "null_volume_multiplier": 0.5}
    assert set(definitions["1.0-phase12+multiplier-off"]["tiers"].values()) == {1.0}
    assert definitions["gate-0.6"]["min_confidence"] == 0.6
    assert definitions["two-tiers"]["tiers"] == {"1.0": 0.0, "2.0": 1.1}
    # the run config holds the names and the definitions the run was given: nothing refers to a file
    config = run["run_config"]["ops"][ASSET]["config"]
    assert config["rules"] == NAMES and config["rule_sets"] == DEFINED


def test_the_chart_is_a_png(run):
    markdown = run["materializations"][0].metadata["chart"].value
    found = re.fullmatch(r"!\[rule comparison\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert found, markdown[:200]
    png = base64.b64decode(found.group(1))
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000


def test_the_sink_gets_the_comparison_the_metadata_shows(run, expected):
    (computed,) = run["computed"]
    assert_frame_equal(computed.table, expected)
    assert computed.sessions == SESSIONS and computed.without_bars == [date(2026, 11, 19)]


@pytest.mark.parametrize("config, message", [
    ({"rules": ["1.0-phase12", "nope"]}, "unknown rule set 'nope'"),
    ({"from_date": "2026-12-01", "to_date": "2026-12-02"}, "no bars stored for the sessions 2026-12-01..2026-12-02"),
    ({"from_date": "2026-11-21", "to_date": "2026-11-22"}, "no NYSE session between 2026-11-21 and 2026-11-22"),
    ({"from_date": "yesterday"}, "from_date: not a date (YYYY-MM-DD): 'yesterday'"),
    ({"rules": ["x"], "rule_sets": [{"name": "x", "min_confidence": 2.0}]},
     "rule_sets: rule set 'x': 'min_confidence' must be between 0 and 1, got 2.0"),
    ({"rules": ["x", "y"], "rule_sets": [{"name": "x"}]}, "unknown rule set 'y' (known: 1.0-phase12, x, each also"),
    ({"rules": []}, "give comma-separated rule set names"),
])
def test_bad_config_fails_the_run_with_one_line(stored, config, message):
    with dg.instance_for_test() as instance:
        result = materialize(stored, instance, **{"from_date": "2026-11-20", "to_date": "2026-11-24", **config})
        assert not result.success
        text = failure(result)
        assert message in text and "\n" not in text.strip(), text
        assert not result.asset_materializations_for_node(ASSET)


def test_the_code_location_has_it_in_its_own_group_outside_the_session_job(tmp_path):
    from vol_pipeline.definitions import build_definitions

    defs = build_definitions(Settings(home=tmp_path, partition_start=date(2026, 11, 16)))
    graph = defs.resolve_asset_graph()
    node = graph.get(dg.AssetKey(ASSET))
    assert node.group_name == GROUP == "rule_analysis"
    assert list(node.owners) == OWNERS and set(node.kinds) == KINDS  # the same as every other asset
    assert node.partitions_def is None
    assert node.parent_keys == {dg.AssetKey("bars"), dg.AssetKey("lane_features")}
    session_job = defs.resolve_job_def("session_job")
    assert dg.AssetKey(ASSET) not in session_job.asset_layer.selected_asset_keys
    assert dg.AssetKey("session_report") in session_job.asset_layer.selected_asset_keys
    assert dg.AssetKey(ASSET) not in defs.resolve_job_def("minute_job").asset_layer.selected_asset_keys


def test_it_materializes_from_the_code_location_with_its_resources(stored, tmp_path):
    """What the UI's Materialize button runs: the asset job of the code location's definitions."""
    from vol_pipeline.definitions import build_definitions

    home = tmp_path / "home"
    home.mkdir()
    (home / "warehouse.duckdb").write_bytes((stored["folder"] / "warehouse.duckdb").read_bytes())
    defs = build_definitions(Settings(home=home, partition_start=date(2026, 11, 16)))
    job = defs.resolve_implicit_job_def_def_for_assets([dg.AssetKey(ASSET)])
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey(ASSET)], raise_on_error=False,
            run_config={"ops": {ASSET: {"config": {"from_date": "2026-11-23", "to_date": "2026-11-23"}}}})
        assert result.success, failure(result)
        (materialization,) = result.asset_materializations_for_node(ASSET)
    assert materialization.metadata["sessions"].value == 1
    assert [r.data["rules"] for r in materialization.metadata["totals"].value.records] == [
        "1.0-phase12", "1.0-phase12+multiplier-off"]  # the default rules




def test_its_run_config_takes_names_dates_and_numbers_only():
    """What a UI user can type into the launchpad for this asset: no path, nothing SQL-shaped."""
    asset = build_rule_comparison()
    config_type = asset.op.config_schema.config_type

    def fields(config_type, path=""):
        for name, field in (getattr(config_type, "fields", None) or {}).items():
            yield f"{path}.{name}".lstrip(".")
            yield from fields(field.config_type, f"{path}.{name}")
        for attr in ("inner_type", "scalar_type", "non_scalar_type", "value_type"):
            if getattr(config_type, attr, None) is not None:
                yield from fields(getattr(config_type, attr), path)

    # (`<field>.env` is Dagster's own way to give any string field as an environment variable's name)
    assert {name for name in fields(config_type) if not name.endswith(".env")} == {
        "from_date", "to_date", "rules", "rule_sets", "rule_sets.name", "rule_sets.tiers",
        "rule_sets.surge_multiplier", "rule_sets.null_volume_multiplier", "rule_sets.min_confidence",
    }

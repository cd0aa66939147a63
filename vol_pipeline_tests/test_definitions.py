"""The code location that workspace.yaml points at loads, with the platform's shape."""

import re
from datetime import date
from pathlib import Path

import dagster as dg
import yaml

from vol_pipeline.definitions import defs

ROOT = Path(__file__).resolve().parents[1]
MINUTE_ASSETS = {"bars", "bars_quarantine", "lane_features", "signals", "recommendations", "executions"}


def test_workspace_points_at_the_definitions_module():
    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    modules = [entry["python_module"]["module_name"] for entry in workspace["load_from"]]
    assert modules == ["vol_pipeline.definitions"]


def test_definitions_load():
    assert isinstance(defs, dg.Definitions)
    dg.Definitions.validate_loadable(defs)


def test_repo_root_instance_needs_no_server():
    """SQLite storage under DAGSTER_HOME: Dagster's default, its event log with pooled connections."""
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text()) or {}
    assert not {"storage", "run_storage", "schedule_storage"} & set(config)
    assert config["event_log_storage"] == {"module": "vol_pipeline.dagster_storage", "class": "PooledSqliteEventLogStorage"}


def test_minute_assets_are_partitioned_described_and_typed():
    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    assert MINUTE_ASSETS <= set(specs)
    for name in MINUTE_ASSETS:
        spec = specs[name]
        assert spec.partitions_def == dg.DynamicPartitionsDefinition(name="market_minutes"), name
        assert spec.description and spec.group_name == "minute_pipeline" and spec.owners == ["team:quant-ops"]
        assert {"polars", "duckdb"} <= set(spec.kinds)
        columns = [c.name for c in spec.metadata["dagster/column_schema"].columns]
        assert "ticker" in columns, name
    assert "volume_ratio" in [c.name for c in specs["lane_features"].metadata["dagster/column_schema"].columns]


def test_graph_edges_follow_the_chain():
    graph = defs.resolve_asset_graph()
    parents = {key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys} for key in graph.get_all_asset_keys()}
    assert parents["lane_features"] == {"bars"}
    assert parents["news_sentiment"] == {"news_items"}
    # news_sentiment and the watchlist feed signals only when configured (next tests)
    assert parents["watchlist"] == {"lane_features"} and parents["signals"] == {"lane_features"}
    assert parents["recommendations"] == {"signals"}
    assert parents["executions"] == {"recommendations", "lane_features", "bars"}


def test_every_asset_has_a_blocking_contract_check_and_recommendations_the_formula_check():
    checks = {(k.asset_key.to_user_string(), k.name) for k in defs.resolve_asset_graph().asset_check_keys}
    for name in ("bars", "lane_features", "signals", "recommendations", "executions", "news_items", "news_sentiment",
                 "watchlist"):
        assert (name, "pandera_contract") in checks
    assert ("recommendations", "confidence_formula") in checks


def test_the_rule_set_follows_the_news_setting(tmp_path):
    from vol_pipeline.definitions import build_definitions
    from vol_pipeline.settings import Settings

    for news, version in (("off", "1.0-phase12"), ("synthetic", "1.0-phase12-sentiment")):
        built = build_definitions(Settings(home=tmp_path, partition_start=date(2026, 11, 2), news=news))
        description = built.resolve_asset_graph().get(dg.AssetKey("signals")).description
        assert description.startswith(f"Rule set {version}:"), (news, description)


def test_signals_depend_on_news_and_the_watchlist_only_when_configured(tmp_path):
    from vol_pipeline.definitions import build_definitions
    from vol_pipeline.settings import Settings

    def parents(asset: str, **changes) -> set[str]:
        built = build_definitions(Settings(home=tmp_path, partition_start=date(2026, 11, 2), **changes))
        return {key.to_user_string() for key in built.resolve_asset_graph().get(dg.AssetKey(asset)).parent_keys}

    assert parents("signals", watchlist_on=True) == {"lane_features", "watchlist"}
    assert parents("signals", news="synthetic") == {"lane_features", "news_sentiment"}
    assert parents("signals", news="synthetic", watchlist_on=True) == {"lane_features", "news_sentiment", "watchlist"}
    assert parents("watchlist", news="synthetic") == {"lane_features", "news_sentiment"}


def test_thousands_of_tickers_are_one_string_of_resource_config_and_reach_the_sources_whole(tmp_path):
    """Dagster checks a list's config element by element on every run (1.5-2.0 s a run for
    5,000 tickers, bench in benchmarks/README): the tickers travel as one string."""
    from vol_pipeline.definitions import build_definitions
    from vol_pipeline.settings import Settings

    tickers = tuple(f"T{i:04d}" for i in range(5000))
    built = build_definitions(Settings(home=tmp_path, partition_start=date(2026, 11, 2), tickers=tickers,
                                       watchlist=tickers, news="synthetic"))
    bar_source, news_source = built.resources["bar_source"], built.resources["news_source"]
    assert isinstance(bar_source.tickers, str) and isinstance(bar_source.watchlist, str)
    assert isinstance(news_source.tickers, str)
    assert bar_source.source.tickers == tickers
    assert news_source.universe == tickers
    bars_file = tmp_path / "bars.csv"
    bars_file.write_text("ticker,ts,open,high,low,close,volume\n"
                         "AAPL,2026-11-23T14:30:00Z,1,1,1,1,10\nZZZ,2026-11-23T14:30:00Z,1,1,1,1,10\n")
    replay = build_definitions(Settings(home=tmp_path, partition_start=date(2026, 11, 2), watchlist=("AAPL", "MSFT"),
                                        bars_file=bars_file, source="replay"))
    validation = replay.resources["bar_source"].source.validation
    assert validation.valid["ticker"].to_list() == ["AAPL"]
    assert validation.rejected["reason"].to_list() == ["ticker failed 'in the watchlist'"]


def test_ticker_config_text_round_trips():
    from vol_pipeline.core.config import parse_tickers, ticker_text

    assert parse_tickers(ticker_text(("AAPL", "BRK.B"))) == ("AAPL", "BRK.B")
    assert parse_tickers(" aapl, ,MSFT,") == ("AAPL", "MSFT")
    assert parse_tickers("") == ()


def test_news_poll_is_stopped_unless_prod_reads_live_feeds(tmp_path):
    from vol_pipeline.definitions import build_definitions
    from vol_pipeline.settings import Settings

    def status(**changes) -> dg.DefaultScheduleStatus:
        settings = Settings(home=tmp_path, partition_start=date(2026, 11, 2), **changes)
        return build_definitions(settings).resolve_schedule_def("news_poll").default_status

    assert status() == dg.DefaultScheduleStatus.STOPPED
    assert status(news="feeds", news_feeds=("http://127.0.0.1:1/rss",)) == dg.DefaultScheduleStatus.STOPPED
    assert status(env="prod", news="feeds", news_feeds=("http://127.0.0.1:1/rss",)) == dg.DefaultScheduleStatus.RUNNING
    assert status(env="prod", news="synthetic") == dg.DefaultScheduleStatus.STOPPED


def test_minute_job_runs_in_process():
    job = defs.resolve_job_def("minute_job")
    assert job.executor_def.name == dg.in_process_executor.name


def test_core_layer_has_no_dagster_import():
    import_line = re.compile(r"^\s*(import|from)\s+dagster", re.MULTILINE)
    core = ROOT / "vol_pipeline" / "core"
    offenders = [p.name for p in core.glob("*.py") if import_line.search(p.read_text())]
    assert offenders == []

"""The watchlist asset in the minute job, and signals limited to it when it is on.

One hour of a synthetic session with generated headlines, watchlist on with 3 places:
every 5-minute mark ranks the tickers with a bar there, 3 on the list; signals evaluate
those (for the minutes up to the next mark) and hold the rest as OFF_WATCHLIST; nothing
else is recommended. A re-run of one minute inside the hour gives the same rows.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from vol_pipeline.core.calendar import market_minutes_back
from vol_pipeline.definitions import build_definitions
from vol_pipeline.defs.partitions import partition_key, register_minutes
from vol_pipeline.runs import QUIET_RUN_CONFIG, cli_instance, failure_message, materialize_news, materialize_ranges
from vol_pipeline.settings import Settings
from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse
from vol_pipeline_tests.shared_fixtures import built_once, load_tables, save_tables

SESSION = date(2026, 11, 23)
OPEN = datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc)
MINUTE = timedelta(minutes=1)
HOUR_END = OPEN + 60 * MINUTE
RERUN = OPEN + 37 * MINUTE  # between two marks: its list is the 10:05 mark's
TABLES = ("watchlist", "signals", "recommendations")


def _build(folder: Path) -> None:
    settings = Settings(home=folder / "home", partition_start=date(2026, 11, 2), news="synthetic",
                        watchlist_on=True, watchlist_size=3)
    defs = build_definitions(settings)
    store = DuckDBWarehouse(settings.warehouse_path)
    info = {}
    with cli_instance(settings) as instance:
        assert materialize_news(defs, instance, SESSION, SESSION).success
        materialize_ranges(defs, instance, [(market_minutes_back(OPEN, 120), market_minutes_back(OPEN, 1))],
                           selection=["bars", "bars_quarantine"])
        hour = materialize_ranges(defs, instance, [(OPEN, HOUR_END - MINUTE)])
        info["hour"] = [r.success for r in hour], [failure_message(r) for r in hour if not r.success]
        save_tables(folder, "hour", {name: store.read(name) for name in TABLES})
        register_minutes(instance, [RERUN])
        rerun = defs.resolve_job_def("minute_job").execute_in_process(
            partition_key=partition_key(RERUN), instance=instance, run_config=QUIET_RUN_CONFIG, raise_on_error=False)
        info["rerun"] = rerun.success
        save_tables(folder, "rerun", {name: store.read(name) for name in TABLES})
    (folder / "info.json").write_text(json.dumps(info))


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> dict:
    folder = built_once(tmp_path_factory, "watchlist_asset", _build)
    return {"info": json.loads((folder / "info.json").read_text()),
            **load_tables(folder, "hour", TABLES),
            **{f"{name}.rerun": frame for name, frame in load_tables(folder, "rerun", TABLES).items()}}


def test_each_mark_ranks_the_tickers_with_a_bar_and_lists_three(scenario):
    assert scenario["info"]["hour"][0] == [True], scenario["info"]["hour"][1]
    ranked = scenario["watchlist"]
    marks = ranked["ts"].unique().sort().to_list()
    assert marks == [OPEN + 5 * k * MINUTE for k in range(12)]
    per_mark = ranked.group_by("ts").agg(listed=pl.col("in_watchlist").sum(), scored=pl.len(),
                                         best=pl.col("watch_score").max(),
                                         worst_listed=pl.col("watch_score").filter(pl.col("in_watchlist")).min(),
                                         best_off=pl.col("watch_score").filter(~pl.col("in_watchlist")).max())
    assert (per_mark["listed"] == per_mark["scored"].clip(upper_bound=3)).all()
    assert (per_mark["worst_listed"] >= per_mark["best_off"].fill_null(0.0)).all()
    assert ranked.filter(pl.col("in_watchlist"))["rank"].is_in([1, 2, 3]).all()


def test_signals_evaluate_only_the_tickers_on_their_marks_list(scenario):
    signals = scenario["signals"].with_columns(mark=pl.col("ts").dt.truncate("5m"))
    listed = scenario["watchlist"].filter(pl.col("in_watchlist")).select("ticker", mark="ts", listed=pl.lit(True))
    joined = signals.join(listed, on=["ticker", "mark"], how="left").with_columns(pl.col("listed").fill_null(False))
    assert ((joined["rule"] == "OFF_WATCHLIST") == ~joined["listed"]).all()
    assert joined.filter(~pl.col("listed"))["action"].eq("HOLD").all()
    assert joined.filter(pl.col("listed")).height > 0 and joined.filter(~pl.col("listed")).height > 0
    recs = scenario["recommendations"].with_columns(mark=pl.col("ts").dt.truncate("5m"))
    assert recs.join(listed, on=["ticker", "mark"], how="anti").is_empty()


def test_rerunning_one_minute_between_marks_changes_nothing(scenario):
    assert scenario["info"]["rerun"]
    for name in TABLES:
        assert_frame_equal(scenario[f"{name}.rerun"], scenario[name])

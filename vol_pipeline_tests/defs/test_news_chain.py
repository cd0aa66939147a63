"""News -> recommendation in Dagster runs: generated headlines for one session, the news job,
the minute job over the whole session, the session job.

Checked against computations written here, independently of the assets: each signal's
sentiment is the mean directional score of the labelled headlines naming its ticker known
in the 30 minutes to its bar's close (a direct count, not the cumulative sums the asset
uses); the gate holds; recommendations carry that sentiment in their reason; the report's
what-if replays the stored chain with sentiment and adds the same session without it.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest

from vol_pipeline.classifiers.labelling import label_items
from vol_pipeline.classifiers.loughran_mcdonald import LoughranMcDonaldClassifier
from vol_pipeline.core.calendar import market_minutes_back, session_minutes_utc
from vol_pipeline.core.config import DEFAULT_TICKERS
from vol_pipeline.definitions import build_definitions
from vol_pipeline.runs import cli_instance, failure_message, materialize_news, materialize_ranges, materialize_session
from vol_pipeline.settings import Settings
from vol_pipeline.sources.synthetic_news import SyntheticNewsSource
from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse
from vol_pipeline_tests.shared_fixtures import built_once, load_tables, save_tables

SESSION = date(2026, 11, 23)
MINUTE = timedelta(minutes=1)
TABLES = ("news_items", "news_sentiment", "signals", "recommendations", "executions", "session_report")


def scenario_settings(folder: Path) -> Settings:
    return Settings(home=folder / "home", partition_start=date(2026, 11, 2), news="synthetic")


def _build(folder: Path) -> None:
    settings = scenario_settings(folder)
    defs = build_definitions(settings)
    store = DuckDBWarehouse(settings.warehouse_path)
    minutes = [m.replace(tzinfo=timezone.utc) for m in session_minutes_utc(SESSION).tolist()]
    info = {}
    with cli_instance(settings) as instance:
        news = materialize_news(defs, instance, SESSION, SESSION)
        assert news.success, failure_message(news)
        warm = materialize_ranges(defs, instance, [(market_minutes_back(minutes[0], 60), market_minutes_back(minutes[0], 1))],
                                  selection=["bars", "bars_quarantine"])
        session_runs = materialize_ranges(defs, instance, [(minutes[0], minutes[-1])])
        report = materialize_session(defs, instance, SESSION)
        info["ok"] = [warm[-1].success, session_runs[-1].success, report.success]
        info["errors"] = [failure_message(r) for r in (*session_runs, report) if not r.success]
        before = {name: store.read(name).height for name in ("news_items", "news_sentiment")}
        again = materialize_news(defs, instance, SESSION, SESSION)
        info["again"] = again.success
        info["news_rows_before_after"] = [before, {name: store.read(name).height for name in before}]
    save_tables(folder, "after", {name: store.read(name) for name in TABLES})
    (folder / "info.json").write_text(json.dumps(info))


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> dict:
    folder = built_once(tmp_path_factory, "news_chain", _build)
    return {**load_tables(folder, "after", TABLES), "info": json.loads((folder / "info.json").read_text())}


def test_every_run_succeeds_and_a_second_news_run_stores_nothing_new(scenario):
    assert scenario["info"]["ok"] == [True, True, True], scenario["info"]["errors"]
    assert scenario["info"]["again"]
    before, after = scenario["info"]["news_rows_before_after"]
    assert before == after == {"news_items": 42, "news_sentiment": 42}  # 6 headlines x 7 tickers


def expected_sentiment(signals: pl.DataFrame) -> dict[tuple[str, datetime], tuple[float, int]]:
    """(score, count) per (ticker, ts) by a direct count over the headlines labelled here."""
    items = SyntheticNewsSource(DEFAULT_TICKERS, 7).session_items(SESSION)
    labelled = label_items(items, LoughranMcDonaldClassifier(), DEFAULT_TICKERS).to_dicts()
    expected = {}
    for ticker, ts in signals.select("ticker", "ts").iter_rows():
        close = ts + MINUTE
        values = [(+1 if item["label"] == "positive" else -1 if item["label"] == "negative" else 0) * item["score"]
                  for item in labelled
                  if ticker in item["tickers"] and close - timedelta(minutes=30) < item["published_at"] <= close
                  and item["score"] > 0.65]
        expected[(ticker, ts)] = (sum(values) / len(values) if values else 0.0, len(values))
    return expected


def test_each_signal_has_the_news_of_its_window(scenario):
    signals = scenario["signals"]
    assert signals.height > 0.9 * 390 * len(DEFAULT_TICKERS)  # synthetic bars skip a few quiet minutes
    expected = expected_sentiment(signals)
    for row in signals.iter_rows(named=True):
        score, count = expected[(row["ticker"], row["ts"])]
        assert row["news_count"] == count, row
        assert row["sentiment_score"] == pytest.approx(score, abs=1e-12), row
    assert signals.filter(pl.col("news_count") > 0).height > 300  # the window covers much of the session


def test_the_sentiment_gate_decides_direction_and_its_strength_lifts_confidence(scenario):
    signals = scenario["signals"]
    assert set(signals["rule_version"]) == {"1.0-phase12-sentiment"}
    directional = signals.filter(pl.col("direction").is_not_null())
    assert directional.height > 0
    assert (directional.filter(pl.col("direction") == "LONG")["sentiment_score"] > 0.5).all()
    assert (directional.filter(pl.col("direction") == "SHORT")["sentiment_score"] < -0.5).all()
    # Without news no direction: a quiet minute is HOLD/NO_SETUP whatever its technicals.
    assert (signals.filter(pl.col("news_count") == 0)["rule"] == "NO_SETUP").all()
    strength = directional["sentiment_strength"]
    assert (strength == directional["sentiment_score"].abs()).all() and strength.min() > 0.5


def test_recommendations_carry_the_sentiment_that_made_them(scenario):
    recs = scenario["recommendations"]
    assert recs.height > 0
    signals = scenario["signals"].select("ticker", "ts", "sentiment_score", "news_count")
    joined = recs.join(signals, on=["ticker", "ts"], suffix="_signal")
    assert joined.height == recs.height
    for row in joined.iter_rows(named=True):
        reason = json.loads(row["reason"])["sentiment"]
        assert reason["score"] == pytest.approx(row["sentiment_score"])
        assert reason["news_count"] == row["news_count"] > 0
        assert reason["label"] == ("positive" if row["sentiment_score"] > 0 else "negative")


def test_the_report_replays_the_session_with_and_without_sentiment(scenario):
    report = json.loads(scenario["session_report"]["report"][0])
    rows = {row["variant"]: row for row in report["what_if"]}
    assert set(rows) == {"multiplier on", "multiplier off", "sentiment off", "sentiment and multiplier off"}
    executions = scenario["executions"]
    assert rows["multiplier on"]["recommendations"] == scenario["recommendations"].height
    assert rows["multiplier on"]["executions"] == executions.filter(pl.col("status") == "SIMULATED").height
    # Without news every minute can take a direction: more, weaker recommendations.
    assert rows["sentiment off"]["recommendations"] > rows["multiplier on"]["recommendations"]
    assert rows["sentiment off"]["confidence_median"] < rows["multiplier on"]["confidence_median"]
    assert report["sentiment"]["on"]


def test_signals_column_lineage_reaches_the_news_labels(tmp_path_factory):
    """The signals materialization of the news run: sentiment and confidence trace to news_sentiment."""
    import dagster as dg

    folder = built_once(tmp_path_factory, "news_chain", _build)
    with cli_instance(scenario_settings(folder)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("signals"))
    lineage = event.asset_materialization.metadata["dagster/column_lineage"].value
    deps = {column: {(d.asset_key.to_user_string(), d.column_name) for d in found}
            for column, found in lineage.deps_by_column.items()}
    assert ("news_sentiment", "score") in deps["sentiment_score"]
    assert ("news_sentiment", "score") in deps["confidence"] and ("lane_features", "volume_ratio") in deps["confidence"]

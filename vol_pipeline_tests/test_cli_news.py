"""`vol-pipeline replay --bars FILE --news FILE` as a user runs it: the recorded headlines are
stored and labelled, signals run with the sentiment gate, `explain` names the headlines;
an unusable news file stops before any run with one line naming the problem."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from vol_pipeline_tests.shared_fixtures import built_once
from vol_pipeline_tests.test_cli_platform import EXE, clean_env, run

pytestmark = pytest.mark.skipif(not EXE.exists(), reason="vol-pipeline console script not installed next to python")
MINUTES = 120


def _build(work: Path) -> None:
    env = clean_env(work / "home")
    results = {"generate": run(["generate", "--tickers", "AAPL,MSFT", "--start", "2026-11-20", "--days", 1,
                                "--out", work / "full.parquet"], env, work)}
    bars = pl.read_parquet(work / "full.parquet")
    first = bars["ts"].min()
    bars.filter(pl.col("ts") < first + timedelta(minutes=MINUTES)).write_parquet(work / "bars.parquet")
    # A headline for each ticker every 10 minutes, alternating tone, from 30 minutes before the first bar.
    rows = []
    for k in range(MINUTES // 10 + 3):
        at = first + timedelta(minutes=10 * k - 30, seconds=20)
        stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append({"published": stamp, "title": f"Apple shares surge on record demand ({k})", "summary": ""})
        rows.append({"published": stamp, "title": f"Microsoft plunges after weak guidance ({k})",
                     "summary": "<b>Shares</b> fell &amp; analysts cut targets"})
    rows.append(rows[0])  # a repeat: stored once
    (work / "news.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (work / "no_title.csv").write_text("published,headline\n2026-11-20T15:00:00Z,Apple rallies\n")
    results["replay"] = run(["replay", "--bars", work / "bars.parquet", "--news", work / "news.jsonl"], env, work)
    for table in ("news_items", "news_sentiment", "signals", "recommendations"):
        results[f"export_{table}"] = run(["export", table, "--out", work / f"{table}.parquet"], env, work)
    recs = pl.read_parquet(work / "recommendations.parquet")
    explain_id = recs.sort("confidence", descending=True)["id"][0] if recs.height else "NONE"
    results["explain"] = run(["explain", explain_id], env, work)
    results["bad_news"] = run(["replay", "--bars", work / "bars.parquet", "--news", work / "no_title.csv"],
                              clean_env(work / "bad_home"), work)
    (work / "results.json").write_text(json.dumps(results))


@pytest.fixture(scope="module")
def cli(tmp_path_factory):
    work = built_once(tmp_path_factory, "cli_news", _build)
    return work, json.loads((work / "results.json").read_text())


def test_replay_with_news_stores_each_headline_once_and_runs_the_sentiment_rules(cli):
    work, results = cli
    assert results["replay"]["code"] == 0, results["replay"]
    assert "after 1 run of news_job" in results["replay"]["stdout"]
    assert "rule set 1.0-phase12-sentiment" in results["replay"]["stdout"]
    items, labels = pl.read_parquet(work / "news_items.parquet"), pl.read_parquet(work / "news_sentiment.parquet")
    assert items.height == labels.height == 2 * (MINUTES // 10 + 3)  # the repeat stored once
    assert set(labels["tickers"]) == {"AAPL", "MSFT"}
    assert dict(zip(labels["tickers"], labels["label"])) == {"AAPL": "positive", "MSFT": "negative"}
    assert (labels["known_at"] == labels["published_at"]).all()  # recorded news: known when published
    signals = pl.read_parquet(work / "signals.parquet")
    assert set(signals["rule_version"]) == {"1.0-phase12-sentiment"}
    assert signals.filter(pl.col("direction").is_not_null()).height > 0
    assert (signals.filter(pl.col("direction") == "LONG")["ticker"] == "AAPL").all()
    assert (signals.filter(pl.col("direction") == "SHORT")["ticker"] == "MSFT").all()


def test_explain_names_the_headlines_behind_the_sentiment(cli):
    work, results = cli
    explain = results["explain"]
    assert explain["code"] == 0, explain
    assert "news items behind it" in explain["stdout"]
    assert "news.jsonl" in explain["stdout"]  # the feed column: the file's name
    assert "Apple shares surge" in explain["stdout"] or "Microsoft plunges" in explain["stdout"]


def test_an_unusable_news_file_stops_before_any_run(cli):
    work, results = cli
    bad = results["bad_news"]
    assert bad["code"] == 2, bad
    assert "missing column 'title'" in bad["stderr"] and "no_title.csv" in bad["stderr"]
    assert not (work / "bad_home" / "warehouse.duckdb").exists()

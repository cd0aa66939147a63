"""The news assets through Dagster against RSS/Atom feeds on a loopback server: each item
stored once however often feeds repeat it, conditional GET across runs, labels and tickers,
rejected items named, a failing feed tolerated, every feed failing a failed run."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import dagster as dg
import polars as pl
import pytest

from vol_pipeline.definitions import build_definitions
from vol_pipeline.runs import cli_instance, failure_message, materialize_news
from vol_pipeline.settings import Settings
from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse
from vol_pipeline_tests.fake_feeds import Document, FakeFeeds, atom, rss

NOW = datetime.now(timezone.utc).replace(microsecond=0)
MARKETS = [
    {"title": "Apple shares surge after record iPhone sales", "guid": "m-1", "pubDate": NOW - timedelta(minutes=9)},
    {"title": "Microsoft ($MSFT) plunges as cloud growth slows", "guid": "m-2", "pubDate": NOW - timedelta(minutes=5),
     "description": "<p>Shares fell &amp; analysts cut targets</p>"},
    {"title": "Clock skew: this item is dated tomorrow", "guid": "m-3", "pubDate": NOW + timedelta(days=1)},
]
TECH = [  # m-1 again (another feed carrying the same story) and one of its own
    {"id": "m-1", "title": "Apple shares surge after record iPhone sales", "updated": NOW - timedelta(minutes=9)},
    {"id": "t-1", "title": "Nvidia unveils a new chip", "updated": NOW - timedelta(minutes=2)},
]


def settings_for(tmp_path, *urls: str) -> Settings:
    return Settings(home=tmp_path / "home", partition_start=date(2026, 11, 2), news="feeds", news_feeds=urls)


def materialization(instance: dg.DagsterInstance, asset: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    return {key: value.value for key, value in event.asset_materialization.metadata.items()}


@pytest.fixture
def feeds():
    with FakeFeeds() as server:
        yield server


def test_items_are_stored_once_labelled_and_polled_conditionally(tmp_path, feeds):
    markets = feeds.serve("/markets.rss", rss(*MARKETS))
    tech = feeds.serve("/tech.atom", Document(atom(*TECH), content_type="application/atom+xml"))
    settings = settings_for(tmp_path, markets, tech)
    defs = build_definitions(settings)
    store = DuckDBWarehouse(settings.warehouse_path)
    with cli_instance(settings) as instance:
        first = materialize_news(defs, instance)
        assert first.success, failure_message(first)
        items, labels = store.read("news_items"), store.read("news_sentiment")
        assert sorted(items["title"]) == sorted([MARKETS[0]["title"], MARKETS[1]["title"], TECH[1]["title"]])
        meta = materialization(instance, "news_items")
        assert (meta["items_read"], meta["new_items"], meta["repeats_in_batch"], meta["rejected_items"]) == (3, 3, 1, 1)
        assert "dated tomorrow" in meta["rejected_examples"] and "not later than fetched_at" in meta["rejected_examples"]

        by_title = {row["title"]: row for row in labels.iter_rows(named=True)}
        apple, microsoft = by_title[MARKETS[0]["title"]], by_title[MARKETS[1]["title"]]
        assert (apple["tickers"], apple["label"]) == ("AAPL", "positive")
        assert (microsoft["tickers"], microsoft["label"]) == ("MSFT", "negative")
        assert by_title[TECH[1]["title"]]["tickers"] == "NVDA"
        assert items.filter(pl.col("title") == MARKETS[1]["title"])["summary"][0] == "Shares fell & analysts cut targets"
        # A live item is known when it was fetched (not before it was published).
        joined = labels.join(items.select("event_uid", "fetched_at"), on="event_uid")
        assert (joined["known_at"] == joined["fetched_at"]).all()

        # Nothing changed: both feeds answer 304 to the validators of the last poll.
        feeds.requests.clear()
        second = materialize_news(defs, instance)
        assert second.success
        assert all(("If-None-Match" in headers) for _, headers in feeds.requests)
        assert materialization(instance, "news_items")["new_items"] == 0
        assert materialization(instance, "news_items")["feed_state"][markets]["etag"]

        # One new item in one feed: only it is stored.
        feeds.serve("/markets.rss", rss(*MARKETS, {"title": "Tesla recalls vehicles", "guid": "m-4",
                                                   "pubDate": NOW - timedelta(minutes=1)}))
        third = materialize_news(defs, instance)
        assert third.success
        assert materialization(instance, "news_items")["new_items"] == 1
        assert store.read("news_items").height == store.read("news_sentiment").height == 4
        assert store.read("news_items")["event_uid"].n_unique() == 4


def test_a_failing_feed_is_a_warning_and_the_others_are_read(tmp_path, feeds):
    good = feeds.serve("/good.rss", rss(MARKETS[0]))
    missing = feeds.url("/missing.rss")  # 404
    settings = settings_for(tmp_path, missing, good)
    with cli_instance(settings) as instance:
        result = materialize_news(build_definitions(settings), instance)
        assert result.success
        meta = materialization(instance, "news_items")
        assert (meta["feeds_polled"], meta["feeds_failed"], meta["new_items"]) == (2, 1, 1)
        logs = [entry.user_message or "" for entry in instance.all_logs(result.run_id)]
        assert any("missing.rss: HTTP 404" in line for line in logs)


def test_every_feed_failing_fails_the_run_with_each_reason(tmp_path, feeds):
    html = feeds.serve("/page", Document(b"<html><body>Not a feed</body></html>", content_type="text/html"))
    settings = settings_for(tmp_path, html, feeds.url("/gone.rss"))
    with cli_instance(settings) as instance:
        result = materialize_news(build_definitions(settings), instance)
        assert not result.success
        message = failure_message(result)
        assert "every news feed failed" in message and "not an RSS or Atom feed (text/html" in message
        assert "gone.rss: HTTP 404" in message
    assert DuckDBWarehouse(settings.warehouse_path).read("news_items").is_empty()


def test_without_a_news_source_the_job_says_how_to_configure_one(tmp_path):
    settings = Settings(home=tmp_path / "home", partition_start=date(2026, 11, 2))
    with cli_instance(settings) as instance:
        result = materialize_news(build_definitions(settings), instance)
    assert not result.success
    assert "no news source is configured: set VOL_PIPELINE_NEWS" in failure_message(result)

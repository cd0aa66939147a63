"""The news sources behind the news assets, and the settings that choose one."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest

from vol_pipeline.settings import Settings
from vol_pipeline.sources.news import FeedNews, FileNews, GeneratedNews
from vol_pipeline_tests.fake_feeds import FakeFeeds, rss

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def test_a_live_item_is_known_when_fetched_and_a_failed_feed_is_one_line():
    with FakeFeeds() as feeds:
        url = feeds.serve("/a.rss", rss({"title": "Apple rallies", "guid": "1", "pubDate": NOW - timedelta(minutes=3)}))
        batch = FeedNews((url, feeds.url("/missing.rss"))).collect({})
    (item,) = batch.items.rows(named=True)
    assert item["published_at"] == NOW - timedelta(minutes=3)
    assert item["known_at"] == item["fetched_at"] > item["published_at"]
    assert batch.polled == {url: "new", feeds.url("/missing.rss"): "failed"}
    assert batch.problems == [f"feed {feeds.url('/missing.rss')}: HTTP 404 Not Found"]
    assert batch.feed_states[url]["etag"]


def test_recorded_news_is_known_when_published(tmp_path):
    path = tmp_path / "news.jsonl"
    path.write_text(json.dumps({"published": "2026-04-20T14:00:30Z", "title": "Apple rallies", "tickers": ["AAPL"]}) + "\n"
                    + json.dumps({"published": "2026-04-20 14:01", "title": "No zone"}) + "\n")
    batch = FileNews(path).collect()
    assert batch.items["known_at"].to_list() == [datetime(2026, 4, 20, 14, 0, 30, tzinfo=timezone.utc)]
    assert batch.items["tickers"].to_list() == [["AAPL"]]
    assert batch.rejected.height == 1 and "UTC offset" in batch.rejected["reason"][0]


def test_generated_news_covers_the_sessions_asked_for():
    news = GeneratedNews(("AAPL", "MSFT"), seed=7)
    two = news.collect([date(2026, 11, 20), date(2026, 11, 23)]).items
    assert two.height == 2 * 2 * 6 and (two["known_at"] == two["published_at"]).all()
    assert news.collect([]).items.is_empty()
    one = news.collect([date(2026, 11, 23)]).items
    assert set(one["event_uid"]) < set(two["event_uid"])  # the same items whatever else is asked for


def settings(**env) -> Settings:
    return Settings.from_env({key: str(value) for key, value in env.items()})


def test_news_is_off_by_default_and_a_feed_list_or_a_file_switches_it_on(tmp_path):
    assert settings().news == "off" and not settings().news_on
    listed = settings(VOL_PIPELINE_NEWS_FEEDS="http://127.0.0.1:9/a.rss, http://127.0.0.1:9/b.rss,http://127.0.0.1:9/a.rss")
    assert (listed.news, listed.news_feeds) == ("feeds", ("http://127.0.0.1:9/a.rss", "http://127.0.0.1:9/b.rss"))
    feed_file = tmp_path / "feeds.txt"
    feed_file.write_text("# markets\nhttps://127.0.0.1/markets.rss\n\nhttps://127.0.0.1/AAPL.rss  # per ticker\n")
    assert settings(VOL_PIPELINE_NEWS_FEEDS=feed_file).news_feeds == ("https://127.0.0.1/markets.rss",
                                                                      "https://127.0.0.1/AAPL.rss")
    from_file = settings(VOL_PIPELINE_NEWS_FILE=tmp_path / "n.jsonl")
    assert (from_file.news, from_file.news_file) == ("file", (tmp_path / "n.jsonl").resolve())
    assert settings(VOL_PIPELINE_NEWS="synthetic").news_on


@pytest.mark.parametrize("env, message", [
    ({"VOL_PIPELINE_NEWS": "rss"}, "VOL_PIPELINE_NEWS must be one of off, feeds, file, synthetic, got 'rss'"),
    ({"VOL_PIPELINE_NEWS": "feeds"}, "VOL_PIPELINE_NEWS=feeds needs VOL_PIPELINE_NEWS_FEEDS"),
    ({"VOL_PIPELINE_NEWS": "file"}, "VOL_PIPELINE_NEWS=file needs VOL_PIPELINE_NEWS_FILE"),
    ({"VOL_PIPELINE_NEWS_FEEDS": "ftp://x/feed"}, "'ftp://x/feed' is not an http(s) URL"),
])
def test_a_wrong_news_setting_names_the_variable(env, message):
    with pytest.raises(ValueError) as error:
        settings(**env)
    assert message in str(error.value)

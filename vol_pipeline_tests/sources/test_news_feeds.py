"""RSS/Atom polling against a loopback feed server: conditional GET, and every kind of bad
feed giving a one-line problem or items with their reasons, never a traceback."""

from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from vol_pipeline.core.news_items import check_items
from vol_pipeline.sources.news_feeds import FeedState, NewsFeedClient
from vol_pipeline_tests.fake_feeds import Document, FakeFeeds, atom, rss

UTC = timezone.utc
T0 = datetime(2026, 4, 20, 14, 0, tzinfo=UTC)


@pytest.fixture
def feeds():
    with FakeFeeds() as server:
        yield server


@pytest.fixture
def client():
    news = NewsFeedClient(timeout_s=1.0)
    yield news
    news.close()


def test_rss_items_come_with_identity_clean_text_and_utc_times(feeds, client):
    url = feeds.serve("/rss", rss(
        {"title": "Apple &amp; Nvidia rally", "guid": "g-1", "link": "http://127.0.0.1/a",
         "pubDate": "Mon, 20 Apr 2026 10:00:00 -0400", "description": "<p>Shares <b>jump</b> &amp; more&nbsp;</p>"},
        {"title": "No guid", "link": "http://127.0.0.1/b", "pubDate": T0},
    ))
    poll = client.poll(FeedState(url))
    assert poll.status == "new" and poll.problem is None
    first, second = poll.items.rows(named=True)
    assert first["title"] == "Apple & Nvidia rally" and first["summary"] == "Shares jump & more"
    assert first["published_at"] == T0 and first["dated_by"] == "published" and first["feed"] == url
    assert first["event_uid"] != second["event_uid"] and len(first["event_uid"]) == 64


def test_a_second_poll_is_conditional_and_304_means_nothing_new(feeds, client):
    url = feeds.serve("/rss", rss({"title": "One", "guid": "1", "pubDate": T0}))
    first = client.poll(FeedState(url))
    assert first.state.etag and first.state.last_modified
    again = client.poll(first.state)
    assert again.status == "not-modified" and again.items.is_empty() and again.state == first.state
    assert feeds.requests[-1][1]["If-None-Match"] == first.state.etag
    feeds.serve("/rss", rss({"title": "One", "guid": "1", "pubDate": T0}, {"title": "Two", "guid": "2", "pubDate": T0}))
    changed = client.poll(first.state)
    assert changed.status == "new" and changed.items.height == 2 and changed.state.etag != first.state.etag


def test_atom_entries_use_updated_when_there_is_no_published_date(feeds, client):
    url = feeds.serve("/atom", Document(atom({"id": "urn:1", "title": "Tesla recalls cars", "updated": T0,
                                              "summary": "Defect"}), "application/atom+xml"))
    (row,) = client.poll(FeedState(url)).items.rows(named=True)
    assert (row["published_at"], row["dated_by"], row["summary"]) == (T0, "updated", "Defect")


@pytest.mark.parametrize("document, problem", [
    (Document(b"<html><body>Sign in</body></html>", "text/html"), "not an RSS or Atom feed (text/html"),
    (Document(b"<<<not xml", "application/rss+xml"), "not an RSS or Atom feed"),
    (Document(b"", "application/rss+xml", status=500), "HTTP 500"),
    (Document(b"", "application/rss+xml", status=403), "HTTP 403"),
])
def test_a_feed_that_is_not_usable_is_one_line_and_no_items(feeds, client, document, problem):
    url = feeds.serve("/bad", document)
    poll = client.poll(FeedState(url))
    assert poll.status == "failed" and poll.items.is_empty() and poll.state == FeedState(url)
    assert poll.problem.startswith(f"feed {url}: ") and problem in poll.problem and "\n" not in poll.problem


def test_a_feed_that_times_out_or_refuses_fails_alone(feeds, client):
    slow = feeds.serve("/slow", Document(rss({"title": "late", "guid": "1"}), delay_s=2.0))
    assert "no answer within 1 s" in client.poll(FeedState(slow)).problem
    refused = client.poll(FeedState("http://127.0.0.1:9/feed"))  # discard port: nothing listens
    assert refused.status == "failed" and "could not connect" in refused.problem


def test_malformed_xml_keeps_what_was_readable_with_a_warning(feeds, client):
    body = rss({"title": "Complete", "guid": "1", "pubDate": T0}, {"title": "Also complete", "guid": "2", "pubDate": T0})
    url = feeds.serve("/cut", body[:-len("</channel></rss>")] + b"<item><title>cut off")
    poll = client.poll(FeedState(url))
    assert poll.status == "new" and {"Complete", "Also complete"} <= set(poll.items["title"])
    assert len(poll.warnings) == 1 and "items read" in poll.warnings[0]


def test_bytes_that_are_not_utf8_are_read_with_a_warning(feeds, client):
    body = rss({"title": "Caf\u00e9 earnings", "guid": "1", "pubDate": T0}).replace("Caf\u00e9".encode(), b"Caf\xe9")
    poll = client.poll(FeedState(feeds.serve("/latin", body)))
    assert poll.status == "new" and poll.items["title"].str.starts_with("Caf").all() and poll.warnings


def test_ten_thousand_items_are_all_read(feeds, client):
    items = [{"title": f"Headline {i}", "guid": f"g{i}", "pubDate": T0 - timedelta(seconds=i)} for i in range(10_000)]
    poll = client.poll(FeedState(feeds.serve("/big", rss(*items))))
    assert poll.items.height == 10_000 and poll.items["event_uid"].n_unique() == 10_000


def test_repeats_within_and_across_feeds_are_kept_once_and_bad_items_have_reasons(feeds, client):
    fetched = datetime.now(UTC)
    one = feeds.serve("/one", rss(
        {"title": "Shared story", "guid": "shared", "pubDate": T0},
        {"title": "Shared story", "guid": "shared", "pubDate": T0},
        {"title": "Undated", "guid": "undated"},
        {"title": "From the future", "guid": "future", "pubDate": fetched + timedelta(days=1)},
        {"guid": "empty", "pubDate": T0},
    ))
    two = feeds.serve("/two", rss({"title": "Shared story", "guid": "shared", "pubDate": T0}))
    raw = pl.concat([client.poll(FeedState(one)).items, client.poll(FeedState(two)).items])
    valid, rejected, repeats = check_items(raw)
    assert sorted(valid["title"]) == ["Shared story", "Undated"] and repeats == 2
    undated = valid.filter(pl.col("title") == "Undated").row(0, named=True)
    assert undated["dated_by"] == "fetched" and undated["published_at"] == undated["fetched_at"]
    reasons = dict(zip(rejected["guid"], rejected["reason"]))
    assert reasons == {"future": "published_at failed 'not later than fetched_at + 0:05:00'",
                       "empty": "title failed 'an item has a title or a summary'"}

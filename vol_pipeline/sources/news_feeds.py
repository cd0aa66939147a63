"""RSS and Atom news feeds over HTTP with conditional GET (reference §6).

Each poll sends the feed's last ETag (If-None-Match) and Last-Modified (If-Modified-Since);
a 304 is "nothing new" and costs no parsing. A feed that fails (timeout, refused, an HTTP
error, an HTML page, XML nothing can be read from) gives a FeedPoll with a one-line
`problem` and no items: one bad feed never stops the others, and the next poll tries
again. XML that is malformed but readable in part keeps the items recovered, with a
warning. feedparser hands back one dict per entry, so entries become rows in a plain loop
(feeds hold tens of items; the scoring downstream is vectorised).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Iterable

import httpx
import polars as pl

from vol_pipeline.core.news_items import RAW_ITEM_SCHEMA, clean_text, event_uid

USER_AGENT = "vol-pipeline-news/0.1"
FEED_TYPES = ("rss", "atom", "cdf")  # feedparser's version prefixes of a real feed


@dataclass(frozen=True)
class FeedState:
    """What the next conditional GET of a feed sends."""

    url: str
    etag: str | None = None
    last_modified: str | None = None


@dataclass
class FeedPoll:
    url: str
    state: FeedState
    items: pl.DataFrame  # RAW_ITEM_SCHEMA plus event_uid
    status: str  # "new", "not-modified" or "failed"
    problem: str | None = None
    warnings: list[str] = field(default_factory=list)


def _when(struct) -> datetime | None:
    return datetime.fromtimestamp(calendar.timegm(struct), timezone.utc) if struct else None


def _rows(entries: Iterable, feed: str, fetched_at: datetime) -> pl.DataFrame:
    rows = []
    for entry in entries:
        published, dated_by = _when(entry.get("published_parsed")), "published"
        if published is None:
            published, dated_by = _when(entry.get("updated_parsed")), "updated"
        title, summary = clean_text(entry.get("title")), clean_text(entry.get("summary"))
        raw_date = entry.get("published") or entry.get("updated")
        rows.append({
            "event_uid": event_uid(entry.get("id"), entry.get("link"), title, raw_date),
            "feed": feed, "guid": entry.get("id"), "link": entry.get("link"), "title": title, "summary": summary,
            "published_at": published, "dated_by": dated_by if published else None, "fetched_at": fetched_at,
        })
    return pl.DataFrame(rows, schema={"event_uid": pl.String, **RAW_ITEM_SCHEMA})


def empty_items() -> pl.DataFrame:
    return pl.DataFrame(schema={"event_uid": pl.String, **RAW_ITEM_SCHEMA})


class NewsFeedClient:
    def __init__(self, timeout_s: float = 10.0, transport: httpx.BaseTransport | None = None):
        self.timeout_s = timeout_s
        self._http = httpx.Client(timeout=httpx.Timeout(timeout_s), follow_redirects=True,
                                  headers={"User-Agent": USER_AGENT}, transport=transport)

    def close(self) -> None:
        self._http.close()

    def poll(self, state: FeedState) -> FeedPoll:
        import feedparser

        headers = {}
        if state.etag:
            headers["If-None-Match"] = state.etag
        if state.last_modified:
            headers["If-Modified-Since"] = state.last_modified

        def failed(problem: str) -> FeedPoll:
            return FeedPoll(state.url, state, empty_items(), "failed", f"feed {state.url}: {problem}")

        try:
            response = self._http.get(state.url, headers=headers)
        except httpx.TimeoutException:
            return failed(f"no answer within {self.timeout_s:g} s")
        except httpx.TransportError as error:
            return failed(f"could not connect ({type(error).__name__})")
        if response.status_code == 304:
            return FeedPoll(state.url, state, empty_items(), "not-modified")
        if response.status_code != 200:
            return failed(f"HTTP {response.status_code} {response.reason_phrase}")
        fetched_at = datetime.now(timezone.utc)
        content_type = response.headers.get("content-type", "")
        parsed = feedparser.parse(response.content, response_headers={"content-type": content_type})
        if not parsed.version.startswith(FEED_TYPES):
            what = content_type.split(";")[0] or "no content type"
            reason = f": {parsed.get('bozo_exception')}" if parsed.bozo and not parsed.entries else ""
            return failed(f"not an RSS or Atom feed ({what}{reason})")
        warnings = []
        if parsed.bozo:
            warnings.append(f"feed {state.url}: {type(parsed.bozo_exception).__name__}: {parsed.bozo_exception}; "
                            f"{len(parsed.entries)} items read")
        next_state = replace(state, etag=response.headers.get("etag") or state.etag,
                             last_modified=response.headers.get("last-modified") or state.last_modified)
        return FeedPoll(state.url, next_state, _rows(parsed.entries, state.url, fetched_at), "new", None, warnings)

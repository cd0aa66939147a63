"""Where news comes from: live RSS/Atom feeds, a recorded news file, or generated headlines.

Each source hands back one `NewsBatch`: checked items with `known_at`, rejected items with
their reason, and one line per feed that failed. `known_at` is when the pipeline could
first have used an item, which is what the signal engine's window reads: for live feeds the
later of its publication and its fetch (an item fetched late cannot have informed an
earlier minute, so a later re-run decides as the live run did); for recorded and generated
news its publication time (they replay history).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl

from vol_pipeline.core.news_items import ITEM_SCHEMA, REJECTED_ITEM_SCHEMA, check_items

NEWS_KINDS = ("off", "feeds", "file", "synthetic")
KNOWN_AT_LIVE = pl.max_horizontal("published_at", "fetched_at")
KNOWN_AT_RECORDED = pl.col("published_at")


@dataclass
class NewsBatch:
    items: pl.DataFrame  # ITEM_SCHEMA + known_at (+ tickers from a file)
    rejected: pl.DataFrame  # REJECTED_ITEM_SCHEMA
    repeats: int = 0  # items repeated within the batch, kept once
    problems: list[str] = field(default_factory=list)  # one line per feed that failed
    warnings: list[str] = field(default_factory=list)
    feed_states: dict[str, dict] = field(default_factory=dict)  # url -> {etag, last_modified}
    polled: dict[str, str] = field(default_factory=dict)  # url -> new / not-modified / failed


def _batch(raw: pl.DataFrame, known_at: pl.Expr) -> NewsBatch:
    valid, rejected, repeats = check_items(raw)
    return NewsBatch(valid.with_columns(known_at=known_at), rejected, repeats)


@dataclass(frozen=True)
class FeedNews:
    """Live RSS/Atom feeds, polled with conditional GET from the states of the last poll."""

    urls: tuple[str, ...]
    timeout_s: float = 10.0

    def collect(self, states: dict[str, dict]) -> NewsBatch:
        from vol_pipeline.sources.news_feeds import FeedState, NewsFeedClient

        client = NewsFeedClient(self.timeout_s)
        try:
            polls = [client.poll(FeedState(url, **states.get(url, {}))) for url in self.urls]
        finally:
            client.close()
        raw = pl.concat([poll.items.select(ITEM_SCHEMA.keys()) for poll in polls]) if polls else pl.DataFrame(schema=ITEM_SCHEMA)
        batch = _batch(raw, KNOWN_AT_LIVE)
        batch.problems = [poll.problem for poll in polls if poll.problem]
        batch.warnings = [warning for poll in polls for warning in poll.warnings]
        batch.feed_states = {poll.url: {"etag": poll.state.etag, "last_modified": poll.state.last_modified} for poll in polls}
        batch.polled = {poll.url: poll.status for poll in polls}
        return batch


@dataclass(frozen=True)
class FileNews:
    """A recorded news file (JSONL, CSV or Parquet); the whole file each time (storing is idempotent)."""

    path: Path

    def collect(self) -> NewsBatch:
        from vol_pipeline.sources.news_file import read_news_file

        valid, rejected, repeats = read_news_file(self.path)  # BadInputError for an unusable file
        return NewsBatch(valid.with_columns(known_at=KNOWN_AT_RECORDED), rejected.cast(REJECTED_ITEM_SCHEMA), repeats)


@dataclass(frozen=True)
class GeneratedNews:
    """The synthetic headline stream of the given sessions."""

    tickers: tuple[str, ...]
    seed: int = 7

    def collect(self, sessions: list[date]) -> NewsBatch:
        from vol_pipeline.sources.synthetic_news import SyntheticNewsSource

        stream = SyntheticNewsSource(self.tickers, self.seed)
        frames = [stream.session_items(session) for session in sessions]
        raw = pl.concat(frames) if frames else pl.DataFrame(schema=ITEM_SCHEMA)
        return _batch(raw, KNOWN_AT_RECORDED)

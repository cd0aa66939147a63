"""A deterministic synthetic headline stream for demos, tests and benchmarks.

Per ticker and NYSE session, HEADLINES_PER_SESSION items at seeded times between 08:00 New
York and the close, each a company's name in a headline template of a seeded tone
(positive, negative or neutral). The tone is independent of the synthetic prices: the demo
shows the sentiment path working, it does not pretend the news predicts returns. Like the
synthetic bars, an item is a pure function of (seed, ticker, session, index), so any
subset of tickers or sessions gives the same items.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from vol_pipeline.core.calendar import MARKET_TZ, session_hours
from vol_pipeline.core.config import DEFAULT_TICKERS
from vol_pipeline.core.news_items import RAW_ITEM_SCHEMA, event_uid
from vol_pipeline.core.tickers import COMPANY_NAMES
from vol_pipeline.sources.counter_rng import splitmix64, ticker_ids, uniform

HEADLINES_PER_SESSION = 6
FEED = "synthetic"
EARLIEST = time(8, 0)  # pre-market news counts for the first minutes' 30-minute window
TEMPLATES = {
    "positive": ("{name} shares climb after earnings beat estimates", "{name} rallies as analysts upgrade the stock",
                 "{name} gains on strong demand for its new products", "{name} surges after a record quarter"),
    "negative": ("{name} shares slide after revenue misses estimates", "{name} tumbles as regulators open a probe",
                 "{name} falls on weak guidance and a recall", "{name} plunges after a costly lawsuit loss"),
    "neutral": ("{name} to present at an industry conference", "{name} schedules its quarterly call",
                "{name} names a new head of its research unit", "{name} opens a new office"),
}
TONES = ("positive", "negative", "neutral")
TONE_WEIGHTS = (0.4, 0.3, 0.3)


def _names(tickers: tuple[str, ...]) -> list[str]:
    first_name = {}
    for name, ticker in COMPANY_NAMES.items():
        first_name.setdefault(ticker, name)
    return [first_name.get(t, f"${t}") for t in tickers]  # a cashtag when the company has no name here


@dataclass(frozen=True)
class SyntheticNewsSource:
    tickers: tuple[str, ...] = DEFAULT_TICKERS
    seed: int = 7
    per_session: int = HEADLINES_PER_SESSION

    def session_items(self, session: date) -> pl.DataFrame:
        """The session's items (RAW_ITEM_SCHEMA plus event_uid), oldest first."""
        hours = session_hours(session, session)
        if hours.is_empty():
            return pl.DataFrame(schema={"event_uid": pl.String, **RAW_ITEM_SCHEMA})
        close = hours["close"][0]
        earliest = datetime.combine(session, EARLIEST, ZoneInfo(MARKET_TZ)).astimezone(timezone.utc)
        n_tickers, per = len(self.tickers), self.per_session
        day_key = np.uint64(session.toordinal() * 1_000_003 + self.seed)
        base = splitmix64(ticker_ids(list(self.tickers)) ^ splitmix64(np.array([day_key], dtype=np.uint64)))
        keys = (base[:, None] + np.arange(per, dtype=np.uint64)[None, :]).ravel()
        span_s = (close - earliest).total_seconds()
        offsets_s = np.floor(uniform(keys, 1) * span_s / 60.0) * 60.0 + 30.0  # half past a minute
        tone = np.searchsorted(np.cumsum(TONE_WEIGHTS), uniform(keys, 2), side="right")
        template = np.floor(uniform(keys, 3) * 4).astype(np.int64)
        frame = pl.DataFrame({
            "ticker": np.repeat(np.array(self.tickers, dtype=object), per),
            "name": np.repeat(np.array(_names(self.tickers), dtype=object), per),
            "tone": np.array(TONES)[tone],
            "template": template,
            "offset_us": (offsets_s * 1e6).astype(np.int64),
            "index": np.tile(np.arange(per), n_tickers),
        })
        table = pl.DataFrame([(tone, i, text) for tone, texts in TEMPLATES.items() for i, text in enumerate(texts)],
                             schema={"tone": pl.String, "template": pl.Int64, "text": pl.String}, orient="row")
        items = frame.join(table, on=["tone", "template"], how="left").with_columns(
            title=pl.col("text").str.replace("{name}", pl.col("name"), literal=True),
            published_at=pl.lit(earliest).dt.cast_time_unit("us") + pl.duration(microseconds=pl.col("offset_us")),
            guid=pl.format("synthetic:{}:{}:{}", pl.col("ticker"), pl.lit(session.isoformat()), pl.col("index")),
        )
        return items.sort("published_at", "ticker").select(
            event_uid=pl.col("guid").map_elements(lambda g: event_uid(g, None, None, None), return_dtype=pl.String),
            feed=pl.lit(FEED), guid="guid", link=pl.lit(None, pl.String), title="title", summary=pl.lit(""),
            published_at="published_at", dated_by=pl.lit("published"),
            fetched_at=pl.col("published_at"),  # known the moment it is published
        ).cast({"event_uid": pl.String, **RAW_ITEM_SCHEMA})

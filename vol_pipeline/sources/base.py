"""The interface every bar source implements."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

import polars as pl

from vol_pipeline.core.bars import REJECTED_SCHEMA, STORED_BAR_SCHEMA, parse_utc_text
from vol_pipeline.core.calendar import with_session_hours

# Rejected rows as the quarantine keeps them: the minute they belong to and their source.
QUARANTINE_SCHEMA = {"minute_ts": pl.Datetime("us", "UTC"), "source": pl.String, **REJECTED_SCHEMA}


@runtime_checkable
class BarSource(Protocol):
    """Supplies valid bars (STORED_BAR_SCHEMA: the bar columns, UTC bar-start `ts`, and
    the provenance columns `feed` and `fetched_at`)."""

    name: str

    def fetch(self, start: datetime, end: datetime) -> pl.DataFrame:
        """Valid bars with start <= ts < end, sorted by ticker, ts."""
        ...

    def rejected(self, start: datetime, end: datetime) -> pl.DataFrame:
        """Rows the source could not accept whose timestamp falls in [start, end), with
        `minute_ts` (their minute), `source` and `reason` (QUARANTINE_SCHEMA)."""
        ...

    def unplaced(self) -> pl.DataFrame:
        """Rejected rows that belong to no market minute (QUARANTINE_SCHEMA, null minute_ts)."""
        ...

    @property
    def key(self) -> str:
        """Names this source in bars_quarantine's `source` column."""
        ...


def with_provenance(bars: pl.DataFrame, feed: str, fetched_at: datetime | pl.Expr) -> pl.DataFrame:
    """Fill the provenance a row did not bring with the source's own: its feed, and when
    it was read (a datetime, or an expression such as the bar's close)."""
    fetched = fetched_at if isinstance(fetched_at, pl.Expr) else pl.lit(fetched_at, STORED_BAR_SCHEMA["fetched_at"])
    missing = {c: pl.lit(None, STORED_BAR_SCHEMA[c]) for c in ("feed", "fetched_at") if c not in bars.columns}
    bars = bars.with_columns(**missing)
    return bars.with_columns(
        pl.col("feed").fill_null(feed), pl.col("fetched_at").fill_null(fetched)
    ).select(STORED_BAR_SCHEMA.keys()).cast(STORED_BAR_SCHEMA)


def placed_rejects(rejected: pl.DataFrame, source_key: str) -> pl.DataFrame:
    """Rejected rows (REJECTED_SCHEMA) with the market minute their timestamp falls in:
    null when it has none (missing, naive or unreadable, or outside every regular
    session), since only market minutes have partitions that would store them."""
    rejected = rejected.with_columns(minute_ts=parse_utc_text(pl.col("ts")).dt.truncate("1m"))
    minute = pl.col("minute_ts")
    in_session = (minute >= pl.col("session_open")) & (minute < pl.col("session_close"))
    placed = with_session_hours(rejected, "minute_ts").with_columns(minute_ts=pl.when(in_session).then(minute))
    return placed.with_columns(source=pl.lit(source_key)).select(QUARANTINE_SCHEMA.keys())

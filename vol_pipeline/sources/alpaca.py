"""Live bars from Alpaca's Market Data API v2, behind the BarSource interface.

A fetch asks for every ticker's 1-minute bars of the window (several symbols per
request, all pages) and validates them as bars; rows that fail go to the quarantine
with their reason. A minute in which a thinly traded ticker had no trade simply has no
IEX bar: a sparse minute, not an error. Each bar carries its feed and when it was read.
"""

from __future__ import annotations

from datetime import datetime, timezone

import polars as pl

from vol_pipeline.core.bars import BAR_COLUMNS, BarValidation, failure, validate_bars
from vol_pipeline.sources.alpaca_client import DEFAULT_DATA_URL, AlpacaBarsClient, FetchStats, RetryPolicy
from vol_pipeline.sources.alpaca_credentials import AlpacaCredentials, load_credentials
from vol_pipeline.sources.base import QUARANTINE_SCHEMA, placed_rejects, with_provenance


class AlpacaBarSource:
    name = "alpaca"

    def __init__(
        self,
        tickers: tuple[str, ...],
        feed: str = "iex",
        data_url: str = DEFAULT_DATA_URL,
        credentials: AlpacaCredentials | None = None,
        retry: RetryPolicy = RetryPolicy(),
        timeout_s: float = 10.0,
    ):
        self.tickers, self.feed = tuple(tickers), feed
        self.client = AlpacaBarsClient(credentials or load_credentials(), data_url, feed, timeout_s, retry)
        self.stats = FetchStats()  # of the latest fetch
        self._window: tuple[datetime, datetime] | None = None
        self._validation: BarValidation | None = None

    def fetch(self, start: datetime, end: datetime) -> pl.DataFrame:
        validation = self._validated(start, end)
        return with_provenance(validation.valid, self.feed, datetime.now(timezone.utc))

    def rejected(self, start: datetime, end: datetime) -> pl.DataFrame:
        """From the same answer as the fetch of this window (the API is asked once). A row
        whose time is unreadable or outside the window is kept in the window's first minute:
        the request that returned it, and a re-run of it, replace it there."""
        rejects = placed_rejects(self._validated(start, end).rejected, self.key)
        minute = pl.col("minute_ts")
        inside = (minute >= start) & (minute < end)
        return rejects.with_columns(minute_ts=pl.when(inside).then(minute).otherwise(pl.lit(start, minute_type())))

    def unplaced(self) -> pl.DataFrame:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)  # every reject has its window (see rejected)

    @property
    def key(self) -> str:
        return f"alpaca:{self.feed}"

    def _validated(self, start: datetime, end: datetime) -> BarValidation:
        if self._window != (start, end) or self._validation is None:
            self.stats = FetchStats()
            raw = self.client.bars(self.tickers, start, end, self.stats)
            checked = validate_bars(raw.with_columns(feed=pl.lit(self.feed)), allowed_tickers=frozenset(self.tickers))
            self._validation = _inside_window(checked, start, end)
            self._window = (start, end)
        return self._validation


def _inside_window(checked: BarValidation, start: datetime, end: datetime) -> BarValidation:
    """A valid bar the API returned outside the requested window is rejected, not dropped."""
    ts = pl.col("ts")
    inside = (ts >= start) & (ts < end)
    outside = checked.valid.filter(~inside)
    if outside.is_empty():
        return checked
    as_text = outside.select(
        pl.lit(None, pl.Int64).alias("source_row"),
        *(pl.col(c).dt.to_string("%Y-%m-%dT%H:%M:%SZ") if c == "ts" else pl.col(c).cast(pl.String) for c in BAR_COLUMNS),
        reason=pl.lit(failure("ts", "inside the requested window")),
    )
    return BarValidation(checked.valid.filter(inside), pl.concat([checked.rejected, as_text]), checked.ignored_columns)

def minute_type() -> pl.DataType:
    return QUARANTINE_SCHEMA["minute_ts"]

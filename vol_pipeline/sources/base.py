"""The interface every bar source implements."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

import polars as pl

from vol_pipeline.core.bars import REJECTED_SCHEMA

# Rejected rows as the quarantine keeps them: the minute they belong to and their source.
QUARANTINE_SCHEMA = {"minute_ts": pl.Datetime("us", "UTC"), "source": pl.String, **REJECTED_SCHEMA}


@runtime_checkable
class BarSource(Protocol):
    """Supplies valid bars (the BARS_SCHEMA columns, UTC bar-start `ts`)."""

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

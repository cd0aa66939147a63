"""The interface every bar source implements."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

import polars as pl


@runtime_checkable
class BarSource(Protocol):
    """Supplies valid bars (the BARS_SCHEMA columns, UTC bar-start `ts`)."""

    name: str

    def fetch(self, start: datetime, end: datetime) -> pl.DataFrame:
        """Bars with start <= ts < end, sorted by ticker, ts."""
        ...

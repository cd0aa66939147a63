"""Replay source: bars from a CSV or Parquet file, validated and normalised to UTC."""

from __future__ import annotations

from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Iterable

import polars as pl

from vol_pipeline.core.bars import BarValidation, parse_utc_text, validate_bars
from vol_pipeline.core.calendar import with_session_hours
from vol_pipeline.core.errors import BadInputError
from vol_pipeline.sources.base import QUARANTINE_SCHEMA
from vol_pipeline.sources.files import read_bar_file


class ReplayBarSource:
    """Serves the valid bars of one file; its rejected rows stay available with reasons."""

    name = "replay"

    def __init__(self, path: str | Path, watchlist: Iterable[str] = ()):
        self.path = Path(path).resolve()  # one file, one quarantine source key, however it is spelled
        allowed = frozenset(watchlist) or None  # empty: any ticker
        try:
            self.validation: BarValidation = validate_bars(read_bar_file(self.path), allowed_tickers=allowed)
        except BadInputError as error:
            message = str(error)
            raise BadInputError(message if message.startswith(str(self.path)) else f"{self.path}: {message}") from None

    def fetch(self, start: datetime, end: datetime) -> pl.DataFrame:
        ts = pl.col("ts")
        return self.validation.valid.filter((ts >= start) & (ts < end))

    @cached_property
    def _placed_rejects(self) -> pl.DataFrame:
        """Rejected rows with the market minute their timestamp falls in: null when it has
        none (missing, naive or unreadable, or outside every regular session), since only
        market minutes have partitions that would store them."""
        rejected = self.validation.rejected.with_columns(minute_ts=parse_utc_text(pl.col("ts")).dt.truncate("1m"))
        minute = pl.col("minute_ts")
        in_session = (minute >= pl.col("session_open")) & (minute < pl.col("session_close"))
        placed = with_session_hours(rejected, "minute_ts").with_columns(minute_ts=pl.when(in_session).then(minute))
        return placed.with_columns(source=pl.lit(self.key)).select(QUARANTINE_SCHEMA.keys())

    def rejected(self, start: datetime, end: datetime) -> pl.DataFrame:
        minute = pl.col("minute_ts")
        return self._placed_rejects.filter((minute >= start) & (minute < end))

    @property
    def key(self) -> str:
        return str(self.path)

    def unplaced(self) -> pl.DataFrame:
        """Rejected rows whose timestamp is missing, naive or unreadable: in no minute."""
        return self._placed_rejects.filter(pl.col("minute_ts").is_null())

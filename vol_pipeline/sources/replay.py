"""Replay source: bars from a CSV or Parquet file, validated and normalised to UTC."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Iterable

import polars as pl

from vol_pipeline.core.bars import BarValidation, validate_bars
from vol_pipeline.core.errors import BadInputError
from vol_pipeline.sources.base import placed_rejects, with_provenance
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
        return self._valid.filter((ts >= start) & (ts < end))

    @cached_property
    def _valid(self) -> pl.DataFrame:
        """Rows keep the feed and fetch time a file from `vol-pipeline fetch` carries;
        others are feed 'replay', read when the file was last written."""
        written = datetime.fromtimestamp(self.path.stat().st_mtime, timezone.utc)
        return with_provenance(self.validation.valid, "replay", written)

    @cached_property
    def _placed_rejects(self) -> pl.DataFrame:
        return placed_rejects(self.validation.rejected, self.key)

    def rejected(self, start: datetime, end: datetime) -> pl.DataFrame:
        minute = pl.col("minute_ts")
        return self._placed_rejects.filter((minute >= start) & (minute < end))

    @property
    def key(self) -> str:
        return str(self.path)

    def unplaced(self) -> pl.DataFrame:
        """Rejected rows whose timestamp is missing, naive or unreadable: in no minute."""
        return self._placed_rejects.filter(pl.col("minute_ts").is_null())

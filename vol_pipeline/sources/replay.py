"""Replay source: bars from a CSV or Parquet file, validated and normalised to UTC."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl

from vol_pipeline.core.bars import BarValidation, validate_bars
from vol_pipeline.core.errors import BadInputError
from vol_pipeline.sources.files import read_bar_file


class ReplayBarSource:
    """Serves the valid bars of one file; its rejected rows stay available with reasons."""

    name = "replay"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.validation: BarValidation = validate_bars(read_bar_file(self.path))
        except BadInputError as error:
            message = str(error)
            raise BadInputError(message if message.startswith(str(self.path)) else f"{self.path}: {message}") from None

    @property
    def rejected(self) -> pl.DataFrame:
        return self.validation.rejected

    def fetch(self, start: datetime, end: datetime) -> pl.DataFrame:
        ts = pl.col("ts")
        return self.validation.valid.filter((ts >= start) & (ts < end))

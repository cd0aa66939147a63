"""Resources: the bar source and the warehouse, configured from Settings."""

from __future__ import annotations

from datetime import timedelta, timezone
from functools import cached_property

import dagster as dg

from vol_pipeline.core.config import DEFAULT_TICKERS, parse_tickers, ticker_text
from vol_pipeline.settings import ALPACA_DATA_URL, DEFAULT_GRACE_SECONDS
from vol_pipeline.sources.base import BarSource
from vol_pipeline.storage.open import open_warehouse
from vol_pipeline.storage.warehouse import Warehouse


class BarSourceResource(dg.ConfigurableResource):
    """Where bars come from: `kind` synthetic (the default, offline), replay (`bars_file`)
    or alpaca (live). Alpaca's credentials are read from the environment or Secrets
    Manager when bars are fetched: they are never part of this config or the UI."""

    kind: str = "synthetic"
    bars_file: str | None = None
    tickers: str = ticker_text(DEFAULT_TICKERS)  # comma-separated (see ticker_text)
    watchlist: str = ""  # comma-separated; a replay file's other tickers are rejected; empty: any ticker
    seed: int = 7
    alpaca_feed: str = "iex"
    alpaca_data_url: str = ALPACA_DATA_URL
    alpaca_secret_id: str | None = None  # the secret's name, not its value
    # Live only: a minute is requested this many seconds after its bar closed.
    grace_seconds: float = DEFAULT_GRACE_SECONDS

    @cached_property
    def source(self) -> BarSource:
        if self.kind == "alpaca":
            import os

            from vol_pipeline.sources.alpaca import AlpacaBarSource
            from vol_pipeline.sources.alpaca_credentials import SECRET_ID_VAR, load_credentials

            environ = {**os.environ, **({SECRET_ID_VAR: self.alpaca_secret_id} if self.alpaca_secret_id else {})}
            return AlpacaBarSource(parse_tickers(self.tickers), self.alpaca_feed, self.alpaca_data_url, load_credentials(environ))
        if self.bars_file:
            from vol_pipeline.sources.replay import ReplayBarSource

            return ReplayBarSource(self.bars_file, watchlist=parse_tickers(self.watchlist))
        from vol_pipeline.sources.synthetic import SyntheticBarSource

        return SyntheticBarSource(tickers=parse_tickers(self.tickers), seed=self.seed)

    @property
    def publish_delay(self) -> timedelta:
        """How long after its close a minute's bars are asked for: the grace for a live
        feed; none for files and generated bars, which are complete at once."""
        return timedelta(seconds=self.grace_seconds if self.kind == "alpaca" else 0)


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse: PostgreSQL when `url` or `url_secret_id` is set, else the DuckDB file
    at `path`. Pass `url` as dg.EnvVar so the UI shows the variable's name, never the value."""

    path: str
    url: str | None = None
    url_secret_id: str | None = None  # AWS Secrets Manager secret holding the URL

    def get(self) -> Warehouse:
        return open_warehouse(self.path, self.url, self.url_secret_id)


def utc_window(window: dg.TimeWindow) -> tuple:
    return window.start.astimezone(timezone.utc), window.end.astimezone(timezone.utc)

"""Resources: the bar source and the warehouse, configured from Settings."""

from __future__ import annotations

from datetime import timezone
from functools import cached_property

import dagster as dg

from vol_pipeline.core.config import DEFAULT_TICKERS
from vol_pipeline.sources.base import BarSource
from vol_pipeline.storage.open import open_warehouse
from vol_pipeline.storage.warehouse import Warehouse


class BarSourceResource(dg.ConfigurableResource):
    """Where bars come from: a replay file when `bars_file` is set, else synthetic bars
    (the default, so everything works offline). A live feed comes later."""

    bars_file: str | None = None
    tickers: list[str] = list(DEFAULT_TICKERS)
    watchlist: list[str] = []  # a replay file's other tickers are rejected; empty: any ticker
    seed: int = 7

    @cached_property
    def source(self) -> BarSource:
        if self.bars_file:
            from vol_pipeline.sources.replay import ReplayBarSource

            return ReplayBarSource(self.bars_file, watchlist=self.watchlist)
        from vol_pipeline.sources.synthetic import SyntheticBarSource

        return SyntheticBarSource(tickers=tuple(self.tickers), seed=self.seed)


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

"""IO manager: each asset is a warehouse table written one partition window at a time.

An output replaces exactly the rows of its partition window (one minute, or the whole
range of a single-run backfill) in one transaction, so re-running never duplicates or
loses rows. An input reads the rows of the upstream window that the partition mapping
selected, e.g. the trailing bars that lane_features needs.
"""

from __future__ import annotations

import dagster as dg
import polars as pl

from vol_pipeline.defs.resources import WarehouseResource, utc_window


class WarehouseIOManager(dg.ConfigurableIOManager):
    warehouse: WarehouseResource

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame) -> None:
        start, end = utc_window(context.asset_partitions_time_window)
        self.warehouse.get().replace(context.asset_key.path[-1], obj, start, end)

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        start, end = utc_window(context.asset_partitions_time_window)
        return self.warehouse.get().read(context.asset_key.path[-1], start, end)

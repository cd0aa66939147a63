"""IO manager: each asset is a warehouse table written one partition window at a time.

An output replaces exactly the rows of its partition window (one minute, or the whole
range of a single-run backfill) in one transaction, so re-running never duplicates or
loses rows. An input reads the rows of the upstream window that the partition mapping
selected, e.g. the trailing bars that lane_features needs.
"""

from __future__ import annotations

import dagster as dg
import polars as pl

from vol_pipeline.defs.partitions import key_range_window, run_minute_window
from vol_pipeline.defs.resources import WarehouseResource, utc_window


class WarehouseIOManager(dg.ConfigurableIOManager):
    warehouse: WarehouseResource

    def handle_output(self, context: dg.OutputContext, obj: pl.DataFrame) -> None:
        window = _minute_window(context) or _partition_window(context)
        revised = self.warehouse.get().replace(context.asset_key.path[-1], obj, *window)
        if revised:  # a later fetch changed stored bars: bar_revisions holds old and new values
            context.add_output_metadata({"revised_bars": revised})

    def load_input(self, context: dg.InputContext) -> pl.DataFrame:
        # Every minute input here maps minute to the same minute (identity), so the upstream
        # window is the run's own.
        window = _minute_window(context) or _partition_window(context)
        return self.warehouse.get().read(context.asset_key.path[-1], *window)


def _minute_window(context: dg.OutputContext | dg.InputContext):
    """The run's minute window from its tags; None outside a run (e.g. a test's bare context)."""
    try:
        tags = context.step_context.run_tags
    except dg.DagsterInvariantViolationError:
        return None
    return run_minute_window(tags)


def _partition_window(context: dg.OutputContext | dg.InputContext):
    """Session partitions are time windows; minute keys (dynamic) name their own minutes."""
    if isinstance(context.asset_partitions_def, dg.TimeWindowPartitionsDefinition):
        return utc_window(context.asset_partitions_time_window)
    key_range = context.asset_partition_key_range
    return key_range_window(key_range.start, key_range.end)

"""bars: the closed 1-minute bars of a minute from the bar source, validated.

Rows that fail validation are not dropped: they go to bars_quarantine with their reason,
in the partition of their minute; rows that have no market minute (a naive or unreadable
timestamp, a time outside every session) are kept per source with a null minute_ts.
"""

import dagster as dg

from vol_pipeline.defs.assets.common import SINGLE_RUN, minutes_in, spec_kwargs, window
from vol_pipeline.defs.checks import contract_result, contract_spec, checked_outputs
from vol_pipeline.defs.metadata import summary
from vol_pipeline.defs.resources import BarSourceResource, WarehouseResource
from vol_pipeline.schemas import BARS_SCHEMA


def build_bars(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.multi_asset(
        outs={
            "bars": dg.AssetOut(**spec_kwargs("bars", "Closed 1-minute OHLCV bars, UTC bar start; one partition per market minute.")),
            "bars_quarantine": dg.AssetOut(**spec_kwargs(
                "bars_quarantine", "Source rows rejected by bar validation, kept with the reason (column and check).")),
        },
        check_specs=[contract_spec("bars", partitions)],
        partitions_def=partitions,
        backfill_policy=SINGLE_RUN,
        name="bars_from_source",
    )
    def bars_from_source(context: dg.AssetExecutionContext, bar_source: BarSourceResource, warehouse: WarehouseResource):
        source = bar_source.source
        start, end = window(context)
        valid, quarantine = source.fetch(start, end), source.rejected(start, end)
        minutes = minutes_in(context)

        def outputs():  # runs only once the contract check passed
            unplaced = source.unplaced()
            if unplaced.height:  # replaced per source on every run: idempotent, and never lost
                warehouse.get().replace_unplaced(source.key, unplaced.drop("minute_ts", "source"))
            yield dg.Output(valid, "bars", metadata=summary("bars", valid, minutes))
            yield dg.Output(quarantine, "bars_quarantine", metadata={
                **summary("bars_quarantine", quarantine, minutes), "unplaced_rejected_rows": unplaced.height})

        yield from checked_outputs(context, [contract_result("bars", valid, BARS_SCHEMA)], outputs())

    return bars_from_source

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
from vol_pipeline.contracts import BARS_SCHEMA
from vol_pipeline.sources.errors import SOURCE_ERRORS


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
        start, end = window(context)
        try:
            source = bar_source.source
            valid, quarantine = source.fetch(start, end), source.rejected(start, end)
        except SOURCE_ERRORS as error:  # the API's answer or the credentials, said in one line
            raise dg.Failure(description=f"bars of {start:%Y-%m-%d %H:%M}Z..{end:%H:%M}Z not read: {error}") from None
        minutes = minutes_in(context)
        fetch_stats = getattr(source, "stats", None)  # a live source's requests, pages and retries

        def outputs():  # runs only once the contract check passed
            unplaced = source.unplaced()
            if unplaced.height:  # replaced per source on every run: idempotent, and never lost
                warehouse.get().replace_unplaced(source.key, unplaced.drop("minute_ts", "source"))
            feeds = {"feeds": ", ".join(sorted(valid["feed"].unique())) or "none"}
            requests = {} if fetch_stats is None else {
                "api_requests": fetch_stats.requests, "api_pages": fetch_stats.pages, "api_retries": fetch_stats.retries}
            yield dg.Output(valid, "bars", metadata={**summary("bars", valid, minutes), **feeds, **requests})
            yield dg.Output(quarantine, "bars_quarantine", metadata={
                **summary("bars_quarantine", quarantine, minutes), "unplaced_rejected_rows": unplaced.height})

        yield from checked_outputs(context, [contract_result("bars", valid, BARS_SCHEMA)], outputs())

    return bars_from_source

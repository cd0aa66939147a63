"""lane_features: SMA, volatility and volume features of every bar in the minute.

It reads each ticker's trailing bars (across the overnight gap into earlier sessions) in
the few columns the kernel uses; core/window_features.py decides how far back, reading
further only for the tickers that skipped minutes. The history is read from the warehouse
by time, not through a TimeWindowPartitionMapping(start_offset=-239): measured here, Dagster
resolving that mapping on this exchange-calendar partition set cost ~18 s per minute run
(it steps back one cron tick at a time through the exclusions).
"""

import dagster as dg

from vol_pipeline.core.config import FeatureConfig
from vol_pipeline.core.window_features import BAR_COLUMNS, window_features
from vol_pipeline.defs.assets.common import SINGLE_RUN, minutes_in, spec_kwargs, window
from vol_pipeline.defs.checks import contract_result, contract_spec, checked_outputs
from vol_pipeline.defs.metadata import summary
from vol_pipeline.defs.resources import WarehouseResource
from vol_pipeline.contracts import lane_features_schema

FEATURES = FeatureConfig()


def build_lane_features(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name="lane_features",
        deps=["bars"],
        check_specs=[contract_spec("lane_features", partitions)],
        partitions_def=partitions,
        backfill_policy=SINGLE_RUN,
        **spec_kwargs("lane_features", "SMA20/50, volatility and the volume features (volume_current, volume_avg_20, "
                      "volume_ratio, volume_surge) of each bar, over its ticker's trailing bars."),
    )
    def lane_features(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        start, end = window(context)
        store = warehouse.get()
        features, bars_read = window_features(
            lambda first, stop, tickers: store.read("bars", first, stop, columns=BAR_COLUMNS, tickers=tickers),
            start, end, FEATURES)
        results = [contract_result("lane_features", features, lane_features_schema(FEATURES))]
        metadata = summary("lane_features", features, minutes_in(context))
        yield from checked_outputs(context, results, [dg.Output(features, metadata={**metadata, "bars_read": bars_read})])

    return lane_features

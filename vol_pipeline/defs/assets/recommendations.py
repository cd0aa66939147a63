"""recommendations: actionable signals after the 15-minute per-ticker cooldown.

The cooldown needs the recommendations made just before this window; they are read from
the warehouse (not declared as a self-dependency, which would serialise backfills).
Only the actionable signals (BUY, SELL) are read: a 5,000-ticker session has 1.9M signal
rows and ~6% of them act; loading all of them was the run's memory peak (+1.3 GB).
"""

from datetime import timedelta

import dagster as dg
import polars as pl

from vol_pipeline.core.config import SignalRuleSet
from vol_pipeline.core.recommendations import recommend
from vol_pipeline.core.signals import ACTIONS
from vol_pipeline.defs.assets.common import SINGLE_RUN, minutes_in, spec_kwargs, window
from vol_pipeline.defs.checks import confidence_result, confidence_spec, contract_result, contract_spec, checked_outputs
from vol_pipeline.defs.metadata import summary
from vol_pipeline.defs.resources import WarehouseResource
from vol_pipeline.contracts import recommendations_schema


def build_recommendations(partitions: dg.PartitionsDefinition, rules: SignalRuleSet) -> dg.AssetsDefinition:
    @dg.asset(
        name="recommendations",
        deps=["signals"],
        check_specs=[contract_spec("recommendations", partitions), confidence_spec("recommendations", partitions)],
        partitions_def=partitions,
        backfill_policy=SINGLE_RUN,
        **spec_kwargs("recommendations", "BUY/SELL recommendations with confidence = min(1, base_confidence x "
                      "volume multiplier) and the reason JSON (its volume block shows the multiplier's origin)."),
    )
    def recommendations(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        start, end = window(context)
        store = warehouse.get()
        actionable = pl.concat([store.read("signals", start, end, equals={"action": action}) for action in ACTIONS])
        prior = store.read("recommendations", start - timedelta(minutes=rules.cooldown_minutes), start)
        recs = recommend(actionable, prior, rules)
        results = [
            contract_result("recommendations", recs, recommendations_schema(rules)),
            confidence_result("recommendations", recs, rules),
        ]
        yield from checked_outputs(context, results, [dg.Output(recs, metadata=summary("recommendations", recs, minutes_in(context)))])

    return recommendations

"""signals: one row per (ticker, minute) with lane_features, HOLD included, with its rule."""

import dagster as dg
import polars as pl

from vol_pipeline.core.config import SignalRuleSet
from vol_pipeline.core.signals import evaluate_signals
from vol_pipeline.defs.assets.common import SINGLE_RUN, minutes_in, spec_kwargs
from vol_pipeline.defs.checks import contract_result, contract_spec, checked_outputs
from vol_pipeline.defs.metadata import summary
from vol_pipeline.contracts import signals_schema

RULES = SignalRuleSet()


def build_signals(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name="signals",
        check_specs=[contract_spec("signals", partitions)],
        partitions_def=partitions,
        backfill_policy=SINGLE_RUN,
        **spec_kwargs("signals", f"Rule set {RULES.version}: direction, base confidence, volume multiplier and "
                      "final confidence per ticker and minute; HOLD rows say why nothing was traded."),
    )
    def signals(context: dg.AssetExecutionContext, lane_features: pl.DataFrame):
        evaluated = evaluate_signals(lane_features, RULES)
        results = [contract_result("signals", evaluated, signals_schema(RULES))]
        yield from checked_outputs(context, results, [dg.Output(evaluated, metadata=summary("signals", evaluated, minutes_in(context)))])

    return signals

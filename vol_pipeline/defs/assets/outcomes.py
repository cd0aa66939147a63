"""outcomes: each simulated execution of a session walked forward to its exit (core/exits.py).

One partition per trading session. The session's executions and bars are read by time
(see defs/session_partitions.py for why not through the partition mapping).
"""

import dagster as dg
import polars as pl

from vol_pipeline.core.exits import trade_outcomes
from vol_pipeline.defs.assets.common import SESSION_GROUP, SESSION_OF_MINUTES, spec_kwargs
from vol_pipeline.defs.checks import contract_result, contract_spec, checked_outputs
from vol_pipeline.defs.metadata import summary
from vol_pipeline.defs.resources import WarehouseResource
from vol_pipeline.defs.session_partitions import session_bounds, session_of_key
from vol_pipeline.contracts import OUTCOMES_SCHEMA


def build_outcomes(sessions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name="outcomes",
        deps=[SESSION_OF_MINUTES],  # bars too, through executions (each cross-partition dep costs ~0.7 s a run)
        partitions_def=sessions,
        check_specs=[contract_spec("outcomes", sessions)],
        **spec_kwargs("outcomes", "Each SIMULATED execution of the session walked forward over later bars: exit at "
                      "stop, target, max hold or session close (stop first when one bar touches both), "
                      "with exit price, P&L, R multiple and win/loss.", SESSION_GROUP),
    )
    def outcomes(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        first_bar, close = session_bounds(session_of_key(context.partition_key))
        store = warehouse.get()
        executions = store.read("executions", first_bar, close, equals={"status": "SIMULATED"})
        walked = trade_outcomes(executions, store.read("bars", first_bar, close), close)
        results = [contract_result("outcomes", walked, OUTCOMES_SCHEMA)]
        yield from checked_outputs(context, results, [dg.Output(walked, metadata=summary("outcomes", walked, 1))])

    return outcomes

"""executions: one paper dispatch decision per recommendation of the minute.

All 5 risk gates are evaluated for every recommendation; when all pass, the fill and
sizing are simulated (core/dispatch.py). When is a decision made?
- live (a run the minute sensor launched): at the wall clock, as the original's
  dispatcher did, so the freshness gates see the real ages of the bar and features;
- a recommendation decided before (a replay or re-run into the same warehouse): at its
  recorded time again, so it decides as the live run did;
- otherwise (replay, backfill): at its minute's partition end.
"""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl

from vol_pipeline.core.calendar import MARKET_TZ
from vol_pipeline.core.dispatch import BAR_INPUT_COLUMNS, FEATURE_INPUT_COLUMNS, PRIOR_INPUT_COLUMNS, DispatchConfig, dispatch
from vol_pipeline.defs.assets.common import SINGLE_RUN, minutes_in, spec_kwargs, window
from vol_pipeline.defs.checks import contract_result, contract_spec, checked_outputs
from vol_pipeline.defs.metadata import summary
from vol_pipeline.defs.partitions import LIVE_TRIGGERS, TRIGGER_TAG
from vol_pipeline.defs.resources import WarehouseResource
from vol_pipeline.contracts import executions_schema

DISPATCH = DispatchConfig()
# The newest bar can be at most this old and still pass the freshness gate: read no further back.
BAR_LOOKBACK = timedelta(seconds=DISPATCH.max_bar_age_s + 60)
FEATURES_LOOKBACK = timedelta(seconds=DISPATCH.max_features_age_s + 60)


def decision_clock() -> datetime:
    """The wall clock of a live decision (tests replace it)."""
    return datetime.now(timezone.utc)


def _new_york_day_start(moment: datetime) -> datetime:
    return moment.astimezone(ZoneInfo(MARKET_TZ)).replace(hour=0, minute=0, second=0, microsecond=0)


def build_executions(partitions: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    @dg.asset(
        name="executions",
        deps=["lane_features", "bars"],
        check_specs=[contract_spec("executions", partitions)],
        partitions_def=partitions,
        backfill_policy=SINGLE_RUN,
        **spec_kwargs("executions", "Paper dispatch: every recommendation's 5 risk gates (observed, threshold, "
                      "passed) and, when all pass, the simulated fill, size, stop and target."),
    )
    def executions(context: dg.AssetExecutionContext, recommendations: pl.DataFrame, warehouse: WarehouseResource):
        start, end = window(context)
        store = warehouse.get()
        features = store.read("lane_features", start - FEATURES_LOOKBACK, end, columns=FEATURE_INPUT_COLUMNS)
        bars = store.read("bars", start - BAR_LOOKBACK, end, columns=BAR_INPUT_COLUMNS)
        # the daily limit's earlier trades
        prior = store.read("executions", _new_york_day_start(start), start, columns=PRIOR_INPUT_COLUMNS)
        recorded = store.read("executions", start, end, columns=("recommendation_id", "decided_at"))
        live = context.run.tags.get(TRIGGER_TAG) in LIVE_TRIGGERS
        decided_at = max(decision_clock(), end) if live else None  # never before the minute closed
        decided = dispatch(recommendations, features, bars, decided_at, prior, DISPATCH, recorded)
        results = [contract_result("executions", decided, executions_schema(DISPATCH))]
        yield from checked_outputs(context, results, [dg.Output(decided, metadata=summary("executions", decided, minutes_in(context)))])

    return executions

"""pandera.polars contracts: the single source of every table's columns and row checks.

One module per table family; `base` holds the helpers and `check_contract`, `precheck` the
one-pass polars evaluation that lets a valid frame skip pandera. Import from here.
"""

from vol_pipeline.contracts.base import FORMULA_TOLERANCE, UTC_TS, ContractError, check_contract, describe_failures
from vol_pipeline.contracts.bars import BARS_SCHEMA
from vol_pipeline.contracts.executions import EXECUTIONS_SCHEMA, executions_schema
from vol_pipeline.contracts.features import LANE_FEATURES_SCHEMA, lane_features_schema
from vol_pipeline.contracts.news import NEWS_ITEMS_SCHEMA, NEWS_SENTIMENT_SCHEMA
from vol_pipeline.contracts.watchlist import WATCHLIST_SCHEMA
from vol_pipeline.contracts.outcomes import OUTCOMES_SCHEMA
from vol_pipeline.contracts.signals import RECOMMENDATIONS_SCHEMA, SIGNALS_SCHEMA, recommendations_schema, signals_schema

__all__ = [
    "BARS_SCHEMA", "EXECUTIONS_SCHEMA", "FORMULA_TOLERANCE", "LANE_FEATURES_SCHEMA", "NEWS_ITEMS_SCHEMA",
    "NEWS_SENTIMENT_SCHEMA", "OUTCOMES_SCHEMA",
    "RECOMMENDATIONS_SCHEMA", "SIGNALS_SCHEMA", "WATCHLIST_SCHEMA", "UTC_TS", "ContractError", "check_contract", "describe_failures",
    "executions_schema", "lane_features_schema", "recommendations_schema", "signals_schema",
]

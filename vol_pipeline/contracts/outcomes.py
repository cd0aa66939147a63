"""pandera.polars contract of the outcomes table (core.exits), built like the others in this package."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from vol_pipeline.core.actions import PRICED_ACTIONS
from vol_pipeline.core.exits import EXIT_REASONS, OUTCOME_COLUMNS
from vol_pipeline.contracts.base import UTC_TS, column, expr_check

OUTCOMES_SCHEMA = pa.DataFrameSchema(
    {
        "recommendation_id": column(pl.String, unique=True),
        "ticker": column(pl.String),
        "action": column(pl.String, checks=[pa.Check.isin(list(PRICED_ACTIONS))]),
        "entry_ts": column(UTC_TS),
        "entry_price": column(pl.Float64, checks=[pa.Check.gt(0)]),
        "exit_ts": column(UTC_TS),
        "exit_price": column(pl.Float64, checks=[pa.Check.gt(0)]),
        "exit_reason": column(pl.String, checks=[pa.Check.isin(list(EXIT_REASONS))]),
        "bars_held": column(pl.Int64, checks=[pa.Check.ge(0)]),
        "pnl": column(pl.Float64),
        "r_multiple": column(pl.Float64, nullable=True),
        "win": column(pl.Boolean),
    },
    checks=[
        expr_check("exit_ts >= entry_ts", pl.col("exit_ts") >= pl.col("entry_ts")),
        expr_check("win exactly when pnl > 0", pl.col("win") == (pl.col("pnl") > 0)),
        expr_check("NO_BARS exactly when no bar was held",
                    (pl.col("exit_reason") == "NO_BARS") == (pl.col("bars_held") == 0)),
    ],
    strict=True,
    name="outcomes",
)
assert tuple(OUTCOMES_SCHEMA.columns) == OUTCOME_COLUMNS

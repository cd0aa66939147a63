"""pandera.polars contract of the outcomes table (core.exits), in the style of schemas.py."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from vol_pipeline.core.exits import EXIT_REASONS, LONG_ACTIONS, OUTCOME_COLUMNS, SHORT_ACTIONS
from vol_pipeline.schemas import UTC_TS, _column, _expr_check

OUTCOMES_SCHEMA = pa.DataFrameSchema(
    {
        "recommendation_id": _column(pl.String, unique=True),
        "ticker": _column(pl.String),
        "action": _column(pl.String, checks=[pa.Check.isin(list(LONG_ACTIONS + SHORT_ACTIONS))]),
        "entry_ts": _column(UTC_TS),
        "entry_price": _column(pl.Float64, checks=[pa.Check.gt(0)]),
        "exit_ts": _column(UTC_TS),
        "exit_price": _column(pl.Float64, checks=[pa.Check.gt(0)]),
        "exit_reason": _column(pl.String, checks=[pa.Check.isin(list(EXIT_REASONS))]),
        "bars_held": _column(pl.Int64, checks=[pa.Check.ge(0)]),
        "pnl": _column(pl.Float64),
        "r_multiple": _column(pl.Float64, nullable=True),
        "win": _column(pl.Boolean),
    },
    checks=[
        _expr_check("exit_ts >= entry_ts", pl.col("exit_ts") >= pl.col("entry_ts")),
        _expr_check("win exactly when pnl > 0", pl.col("win") == (pl.col("pnl") > 0)),
        _expr_check("NO_BARS exactly when no bar was held",
                    (pl.col("exit_reason") == "NO_BARS") == (pl.col("bars_held") == 0)),
    ],
    strict=True,
    name="outcomes",
)
assert tuple(OUTCOMES_SCHEMA.columns) == OUTCOME_COLUMNS

"""The bars contract: OHLCV on the minute inside a session, plus provenance."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from vol_pipeline.contracts.base import UTC_TS, column, expr_check
from vol_pipeline.core.bars import BAR_ROW_CHECKS, FEEDS, STORED_BAR_SCHEMA

BARS_SCHEMA = pa.DataFrameSchema(
    {
        "ticker": column(pl.String),
        "ts": column(UTC_TS),
        **{c: column(pl.Float64) for c in ("open", "high", "low", "close")},
        "volume": column(pl.Int64, nullable=True),
        # Provenance: which feed the bar came from and when it was read.
        "feed": column(pl.String),
        "fetched_at": column(UTC_TS),
    },
    checks=[*(expr_check(f"{check.column}: {check.name}", check.passes) for check in BAR_ROW_CHECKS),
            expr_check(f"feed: one of {', '.join(FEEDS)}", pl.col("feed").is_in(FEEDS))],
    unique=["ticker", "ts"],
    strict=True,
    name="bars",
)
assert set(BARS_SCHEMA.columns) == set(STORED_BAR_SCHEMA)

"""The lane_features contract: every feature column, its range and its formula checks."""

from __future__ import annotations

from functools import lru_cache

import pandera.polars as pa
import polars as pl

from vol_pipeline.contracts.base import UTC_TS, column, expr_check
from vol_pipeline.core.config import FeatureConfig


@lru_cache(maxsize=16)  # a schema is rebuilt from its config only (~1 ms each, every minute)
def lane_features_schema(config: FeatureConfig = FeatureConfig()) -> pa.DataFrameSchema:
    ratio, surge = pl.col("volume_ratio"), pl.col("volume_surge")
    volume_trio = [pl.col(c).is_null() for c in ("volume_avg_20", "volume_ratio", "volume_surge")]
    checks = [
        expr_check("volume_surge consistent with volume_ratio (ratio > 2 => surge => ratio >= 2)",
                    ((ratio > 2.0) <= surge) & (surge <= (ratio >= 2.0))),
        expr_check("volume_avg_20, volume_ratio, volume_surge null together",
                    pl.all_horizontal(volume_trio) | ~pl.any_horizontal(volume_trio)),
        expr_check("volume_ratio has 4 decimals", ((ratio * 10_000).round() - ratio * 10_000).abs() < 1e-6),
        expr_check("trend_state is the sign of sma20 - sma50",
                    pl.col("trend_state") == (pl.col("sma20") - pl.col("sma50")).sign().cast(pl.Int32)),
    ]
    if not config.volume_prior_bars:
        # The current bar is inside its own 20-bar average, so the ratio is at most 20.
        checks.append(expr_check("volume_ratio <= 20 (current bar in its own average)", ratio <= 20.0))
    non_negative = [pa.Check.ge(0)]
    return pa.DataFrameSchema(
        {
            "ticker": column(pl.String),
            "ts": column(UTC_TS),
            "close": column(pl.Float64, checks=[pa.Check.gt(0)]),
            "sma20": column(pl.Float64, checks=[pa.Check.gt(0)]),
            "sma50": column(pl.Float64, checks=[pa.Check.gt(0)]),
            "recent_vol": column(pl.Float64, checks=non_negative),
            "baseline_vol": column(pl.Float64, checks=non_negative),
            "vol_ratio": column(pl.Float64, nullable=True, checks=non_negative),
            "distance_sma20": column(pl.Float64),
            "distance_sma50": column(pl.Float64),
            "trend_state": column(pl.Int32, checks=[pa.Check.isin([-1, 0, 1])]),
            "volume_current": column(pl.Int64, nullable=True, checks=non_negative),
            "volume_avg_20": column(pl.Int64, nullable=True, checks=non_negative),
            "volume_ratio": column(pl.Float64, nullable=True, checks=non_negative),
            "volume_surge": column(pl.Boolean, nullable=True),
        },
        checks=checks,
        unique=["ticker", "ts"],
        strict=True,
        name="lane_features",
    )


LANE_FEATURES_SCHEMA = lane_features_schema()

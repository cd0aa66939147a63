"""Hand-built lane_features rows for the signal and recommendation tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl

T0 = datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc)

LANE_FEATURES_COLUMNS = {
    "ticker": pl.String,
    "ts": pl.Datetime("us", "UTC"),
    "close": pl.Float64,
    "sma20": pl.Float64,
    "sma50": pl.Float64,
    "recent_vol": pl.Float64,
    "baseline_vol": pl.Float64,
    "vol_ratio": pl.Float64,
    "distance_sma20": pl.Float64,
    "distance_sma50": pl.Float64,
    "trend_state": pl.Int32,
    "volume_current": pl.Int64,
    "volume_avg_20": pl.Int64,
    "volume_ratio": pl.Float64,
    "volume_surge": pl.Boolean,
}


def feature_row(
    ticker: str = "AAPL",
    ts: datetime = T0,
    *,
    d20: float = 0.01,
    trend: int = 1,
    vol_ratio: float | None = 1.0,
    volume_ratio: float | None = 1.7,
    sma20: float = 100.0,
) -> dict:
    """One lane_features row: close = sma20 * (1 + d20); sma50 set so trend_state is `trend`."""
    close = sma20 * (1 + d20)
    sma50 = sma20 - trend * 1.0
    baseline = 0.001
    recent = None if vol_ratio is None else vol_ratio * baseline
    avg = None if volume_ratio is None else 10_000
    return {
        "ticker": ticker,
        "ts": ts,
        "close": close,
        "sma20": sma20,
        "sma50": sma50,
        "recent_vol": baseline if recent is None else recent,
        "baseline_vol": 0.0 if vol_ratio is None else baseline,
        "vol_ratio": vol_ratio,
        "distance_sma20": (close - sma20) / sma20,
        "distance_sma50": (close - sma50) / sma50,
        "trend_state": trend,
        "volume_current": None if volume_ratio is None else round(volume_ratio * 10_000),
        "volume_avg_20": avg,
        "volume_ratio": volume_ratio,
        "volume_surge": None if volume_ratio is None else volume_ratio > 2.0,
    }


def features_frame(rows: list[dict]) -> pl.DataFrame:
    """A lane_features frame, one row per case; distinct minutes unless given."""
    rows = [dict(row) for row in rows]
    return pl.DataFrame(rows, schema=LANE_FEATURES_COLUMNS)


def minute(n: int) -> datetime:
    return T0 + timedelta(minutes=n)

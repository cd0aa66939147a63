"""The session report: what one trading session did, as a JSON-ready dict.

It measures what the seed report promised and never measured: recommendations per day,
execution rate, skips by gate, confidence before and after the volume multiplier, the
multiplier-bucket distribution against the seed's expectation, and win rate overall and
by bucket (wins / (wins + losses), flat trades counted apart: core.trade_stats). Inputs
are the session's stored tables; nothing loops over rows.

Scopes: the confidence distribution and the buckets are taken over *directional*
signals (a LONG/SHORT setup, before the cooldown), because a kill (multiplier 0) turns a
signal into HOLD and so never reaches the recommendations. The recommendations' own
confidence is reported beside it.
"""

from __future__ import annotations

from datetime import date

import polars as pl

from vol_pipeline.core.trade_stats import count_aggregations, trade_stats, win_rate
from vol_pipeline.core.volume import multiplier_bucket

# The seed's "Volume Multiplier Distribution (Expected)".
EXPECTED_BUCKET_SHARES: dict[str, float] = {"kill": 0.10, "reduced": 0.50, "normal": 0.30, "boosted": 0.10}
# The seed's "Confidence: 30-70% (realistic, volume-adjusted)".
EXPECTED_CONFIDENCE_RANGE: tuple[float, float] = (0.30, 0.70)
HISTOGRAM_BINS = 10  # confidence bins of width 0.1 on [0, 1]


def session_report(
    session: date,
    bars: pl.DataFrame,
    features: pl.DataFrame,
    signals: pl.DataFrame,
    recommendations: pl.DataFrame,
    executions: pl.DataFrame,
    outcomes: pl.DataFrame,
) -> dict:
    """The report of one session from its rows of each table (see module docstring)."""
    directional = signals.filter(pl.col("direction").is_not_null())
    return {
        "session": session.isoformat(),
        "coverage": _coverage(bars, features),
        "recommendations": _recommendations(recommendations),
        "dispatch": _dispatch(recommendations, executions),
        "confidence": {
            "signals_before": distribution(directional["base_confidence"]),
            "signals_after": distribution(directional["confidence"]),
            "recommendations_before": distribution(recommendations["base_confidence"]),
            "recommendations_after": distribution(recommendations["confidence"]),
        },
        "multiplier_buckets": _buckets(directional),
        "sentiment": _sentiment(signals),
        "outcomes": {**trade_stats(outcomes), **_exits(outcomes)},
        "win_rate_by_bucket": _win_rate_by_bucket(outcomes, recommendations),
    }


def _sentiment(signals: pl.DataFrame) -> dict:
    """Whether news reached the signals: without a news source every signal has 0 news and
    sentiment cannot gate or add confidence (base confidence then tops out at 0.70)."""
    with_news = signals.filter(pl.col("news_count") > 0)
    return {
        "on": with_news.height > 0,
        "signals": signals.height,
        "signals_with_news": with_news.height,
        "mean_abs_score": float(with_news["sentiment_score"].abs().mean()) if with_news.height else None,
    }


def _coverage(bars: pl.DataFrame, features: pl.DataFrame) -> dict:
    with_bars = set(bars["ticker"].unique().to_list())
    with_volume = set(features.filter(pl.col("volume_ratio").is_not_null())["ticker"].unique().to_list())
    return {
        "bars": bars.height,
        "tickers_with_bars": len(with_bars),
        "tickers_with_volume_features": len(with_bars & with_volume),
        "tickers_missing_volume_features": sorted(with_bars - with_volume),
        "feature_rows": features.height,
        "feature_rows_with_volume": int(features["volume_ratio"].is_not_null().sum()),
    }


def _recommendations(recs: pl.DataFrame) -> dict:
    combined = pl.concat_str([pl.col("action"), pl.lit("_"), pl.col("instrument_type")])
    has_volume = pl.col("reason").str.json_path_match("$.volume.volume_mult").is_not_null()
    return {
        "count": recs.height,
        "tickers": recs["ticker"].n_unique(),
        "by_action": _counts(recs.select(combined.alias("action")), "action"),
        "without_volume_in_reason": int((~recs.select(has_volume).to_series()).sum()),
    }


def _dispatch(recs: pl.DataFrame, executions: pl.DataFrame) -> dict:
    simulated = executions.filter(pl.col("status") == "SIMULATED").height
    gates = executions.select(pl.col("failed_gates").drop_nulls().str.split(",").explode().alias("gate"))
    undecided = recs.join(executions, left_on="id", right_on="recommendation_id", how="anti").height
    return {
        "decisions": executions.height,
        "simulated": simulated,
        "skipped": executions.height - simulated,
        "undecided_recommendations": undecided,
        "execution_rate": simulated / recs.height if recs.height else None,
        "skips_by_gate": _counts(gates, "gate"),
        "freshness_ages": {gate: _observed_ages(executions, gate) for gate in FRESHNESS_GATES},
    }


FRESHNESS_GATES = ("bar_freshness", "feature_freshness")


def _observed_ages(executions: pl.DataFrame, gate: str) -> dict:
    """The ages (seconds) a freshness gate saw: decided live they are real; decided at the
    partition end (replay, backfill) they are 0 by construction."""
    observed = executions.select(
        pl.col("gates").str.json_path_match(f"$.{gate}.observed").cast(pl.Float64, strict=False).alias("age"),
        pl.col("gates").str.json_path_match(f"$.{gate}.passed").alias("passed"),
    )
    ages = observed["age"].drop_nulls()
    return {
        "decisions": observed.height,
        "missing": observed.height - ages.len(),  # no bar / no features at all
        "failed": int((observed["passed"] == "false").sum()),
        "median_s": ages.median() if ages.len() else None,
        "p95_s": ages.quantile(0.95, "linear") if ages.len() else None,
        "max_s": ages.max() if ages.len() else None,
    }


def distribution(values: pl.Series) -> dict:
    """Count, mean, quartiles, share in the seed's 30-70% range and a 10-bin histogram."""
    present = values.drop_nulls().cast(pl.Float64)
    if present.is_empty():
        return {"count": 0, "histogram": [0] * HISTOGRAM_BINS}
    low, high = EXPECTED_CONFIDENCE_RANGE
    bins = (present * HISTOGRAM_BINS).floor().clip(0, HISTOGRAM_BINS - 1).cast(pl.Int64)
    histogram = bins.value_counts().sort(bins.name)
    counts = dict(histogram.iter_rows())
    return {
        "count": present.len(),
        "mean": present.mean(),
        "min": present.min(),
        "p25": present.quantile(0.25, "linear"),
        "median": present.median(),
        "p75": present.quantile(0.75, "linear"),
        "max": present.max(),
        "distinct": present.n_unique(),
        "share_in_expected_range": float(present.is_between(low, high).mean()),
        "histogram": [counts.get(i, 0) for i in range(HISTOGRAM_BINS)],
    }


def _buckets(directional: pl.DataFrame) -> list[dict]:
    counts = _counts(directional.select(multiplier_bucket(pl.col("volume_mult")).alias("bucket")), "bucket")
    total = directional.height
    rows = []
    for bucket, expected in EXPECTED_BUCKET_SHARES.items():
        share = counts.get(bucket, 0) / total if total else None
        rows.append({
            "bucket": bucket, "signals": counts.get(bucket, 0), "share": share, "expected_share": expected,
            "difference": share - expected if share is not None else None,
        })
    return rows


def _exits(outcomes: pl.DataFrame) -> dict:
    return {"by_exit_reason": _counts(outcomes, "exit_reason")}


def _win_rate_by_bucket(outcomes: pl.DataFrame, recs: pl.DataFrame) -> list[dict]:
    joined = outcomes.join(recs.select(pl.col("id").alias("recommendation_id"), "volume_mult"),
                           on="recommendation_id", how="left")
    per_bucket = (
        joined.group_by(multiplier_bucket(pl.col("volume_mult")).alias("bucket"))
        .agg(count_aggregations())
        .with_columns(win_rate=win_rate(pl.col("wins"), pl.col("losses")))
    )
    found = {row["bucket"]: row for row in per_bucket.iter_rows(named=True)}
    empty = {"trades": 0, "wins": 0, "losses": 0, "flat": 0, "no_bars": 0, "win_rate": None, "pnl": 0.0}
    return [{"bucket": bucket, **{key: found.get(bucket, empty)[key] for key in empty}}
            for bucket in EXPECTED_BUCKET_SHARES]


def _counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
    if frame.is_empty():
        return {}
    return {str(key): int(n) for key, n in frame.group_by(column).len().sort(column).iter_rows()}

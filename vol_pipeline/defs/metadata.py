"""What the UI shows about each table: column schemas, column lineage and summaries."""

from __future__ import annotations

import dagster as dg
import polars as pl

from vol_pipeline.core.trade_stats import trade_stats
from vol_pipeline.core.volume import multiplier_bucket
from vol_pipeline.storage.tables import table

_TYPE_NAMES = {pl.String: "string", pl.Float64: "float64", pl.Int64: "int64", pl.Int32: "int32", pl.Boolean: "bool"}


def column_schema(table_name: str) -> dg.TableSchema:
    """dagster/column_schema of a table, from the pandera contract's columns."""
    tbl = table(table_name)
    columns = []
    for name, dtype in tbl.columns.items():
        type_name = "timestamptz (UTC)" if isinstance(dtype, pl.Datetime) else _TYPE_NAMES[dtype.base_type()]
        columns.append(dg.TableColumn(name, "json" if name in tbl.json_columns else type_name))
    return dg.TableSchema(columns=columns)


def _deps(asset: str, *columns: str) -> list[dg.TableColumnDep]:
    return [dg.TableColumnDep(asset_key=dg.AssetKey(asset), column_name=c) for c in columns]


# How each column was derived from its upstream columns (dagster/column_lineage).
COLUMN_LINEAGE: dict[str, dict[str, list[dg.TableColumnDep]]] = {
    "lane_features": {
        "close": _deps("bars", "close"),
        "sma20": _deps("bars", "close"),
        "sma50": _deps("bars", "close"),
        "recent_vol": _deps("bars", "close"),
        "baseline_vol": _deps("bars", "close"),
        "volume_current": _deps("bars", "volume"),
        "volume_avg_20": _deps("bars", "volume"),
        "volume_ratio": _deps("bars", "volume"),
        "volume_surge": _deps("bars", "volume"),
    },
    "signals": {
        "base_confidence": _deps("lane_features", "distance_sma20", "trend_state", "vol_ratio"),
        "volume_ratio": _deps("lane_features", "volume_ratio"),
        "volume_mult": _deps("lane_features", "volume_ratio"),
        "confidence": _deps("lane_features", "volume_ratio", "distance_sma20", "trend_state", "vol_ratio"),
    },
    "recommendations": {
        "base_confidence": _deps("signals", "base_confidence"),
        "volume_ratio": _deps("signals", "volume_ratio"),
        "volume_mult": _deps("signals", "volume_mult"),
        "confidence": _deps("signals", "base_confidence", "volume_mult"),
    },
}


# With a news source, signals' sentiment columns come from news_sentiment's labels.
_NEWS = _deps("news_sentiment", "label", "score", "tickers", "known_at")
NEWS_LINEAGE: dict[str, list[dg.TableColumnDep]] = {
    "sentiment_score": _NEWS,
    "news_count": _NEWS,
    "sentiment_strength": _NEWS,
    "base_confidence": COLUMN_LINEAGE["signals"]["base_confidence"] + _NEWS,
    "confidence": COLUMN_LINEAGE["signals"]["confidence"] + _NEWS,
}


def column_lineage(table_name: str, with_news: bool = False) -> dict[str, dg.TableColumnLineage]:
    lineage = COLUMN_LINEAGE.get(table_name)
    if with_news and table_name == "signals":
        lineage = {**lineage, **NEWS_LINEAGE}
    return {"dagster/column_lineage": dg.TableColumnLineage(lineage)} if lineage else {}


def markdown_table(frame: pl.DataFrame) -> str:
    """A markdown table of `frame` for metadata ("|" in a value shown as "/")."""
    if frame.is_empty():
        return "_none_"
    header = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * frame.width + "\n"
    return header + "\n".join("| " + " | ".join(str(v).replace("|", "/") for v in row) + " |" for row in frame.iter_rows())


def summary(table_name: str, frame: pl.DataFrame, minutes: int) -> dict:
    """Materialization metadata: row count plus what people look at for each table.

    A range run (`minutes` > 1) yields one output whose metadata Dagster copies onto every
    minute of the range, so its counts are labelled as the window's, not the minute's.
    """
    count_key = "dagster/row_count" if minutes == 1 else "window_row_count"
    meta: dict = {count_key: frame.height, **column_lineage(table_name)}
    if minutes > 1:
        meta["window_minutes"] = minutes
    if "ticker" in frame.columns and frame.height:
        meta["tickers"] = frame["ticker"].n_unique()
    if table_name == "lane_features" and frame.height:
        meta["rows_with_volume"] = int(frame["volume_ratio"].is_not_null().sum())
        meta["volume_surges"] = int(frame["volume_surge"].sum() or 0)
        top = frame.filter(pl.col("volume_surge")).sort("volume_ratio", descending=True).head(5)
        meta["top_volume_surges"] = dg.MetadataValue.md(
            markdown_table(top.select("ticker", pl.col("ts").dt.strftime("%H:%M UTC"), "volume_current", "volume_avg_20", "volume_ratio"))
        )
    if table_name in ("signals", "recommendations") and frame.height:
        buckets = frame.group_by(multiplier_bucket(pl.col("volume_mult")).alias("bucket")).len()
        meta["multiplier_buckets"] = dg.MetadataValue.json(dict(buckets.sort("bucket").iter_rows()))
    if table_name == "signals" and frame.height:
        meta["rules"] = dg.MetadataValue.json(dict(frame.group_by("rule").len().sort("rule").iter_rows()))
    if table_name == "recommendations" and frame.height:
        meta["recommendations"] = dg.MetadataValue.md(
            markdown_table(frame.sort("confidence", descending=True).head(10).select(
                "id", "action", "instrument_type", "base_confidence", "volume_ratio", "volume_mult", "confidence"))
        )
    if table_name == "executions" and frame.height:
        meta["status"] = dg.MetadataValue.json(dict(frame.group_by("status").len().sort("status").iter_rows()))
        skipped_by = frame["failed_gates"].drop_nulls().str.split(",").explode().value_counts().sort("failed_gates")
        meta["skips_by_gate"] = dg.MetadataValue.json(dict(skipped_by.iter_rows()))
    if table_name == "outcomes" and frame.height:
        stats = trade_stats(frame)
        meta["win_rate"] = dg.MetadataValue.float(stats["win_rate"]) if stats["win_rate"] is not None else dg.MetadataValue.null()
        meta["wins_losses_flat"] = dg.MetadataValue.json({key: stats[key] for key in ("wins", "losses", "flat", "no_bars")})
        meta["pnl"] = stats["pnl"]
        meta["exit_reasons"] = dg.MetadataValue.json(dict(frame.group_by("exit_reason").len().sort("exit_reason").iter_rows()))
    if table_name == "bars_quarantine" and frame.height:
        meta["rejected_reasons"] = dg.MetadataValue.json(dict(frame.group_by("reason").len().sort("reason").iter_rows()))
    return meta

"""Read-only commands on the warehouse: `export`, `status` and `explain`.

They run fixed, parameterised queries through the Warehouse interface; no command
accepts SQL.
"""

from __future__ import annotations

import argparse
import json
from datetime import timedelta

import polars as pl

from vol_pipeline.cli.context import settings_from_env, warehouse
from vol_pipeline.cli.errors import CliError
from vol_pipeline.settings import Settings

RECENT_RECOMMENDATIONS = 10


def export(args: argparse.Namespace) -> str:
    from vol_pipeline.sources.files import write_frame

    settings = settings_from_env()
    frame = warehouse(settings).read(args.table)
    write_frame(frame, args.out)
    return f"wrote {frame.height} rows of {args.table} from {settings.warehouse_location} to {args.out}"


def _table(frame: pl.DataFrame) -> str:
    with pl.Config(tbl_rows=50, tbl_cols=20, tbl_width_chars=160, fmt_str_lengths=60, tbl_hide_dataframe_shape=True):
        return str(frame)


def status(args: argparse.Namespace) -> str:
    settings = settings_from_env()
    store = warehouse(settings)
    coverage = store.volume_coverage()
    recent = store.read("recommendations", newest_first=RECENT_RECOMMENDATIONS)
    volume = pl.col("reason").str.json_path_match("$.volume.assessment").alias("assessment")
    shown = recent.select("id", "action", "instrument_type", "base_confidence", "volume_ratio", "volume_mult", volume, "confidence")
    return (
        f"warehouse: {settings.warehouse_location}\n\nlane_features rows with volume data, per ticker:\n{_table(coverage)}\n\n"
        f"newest {RECENT_RECOMMENDATIONS} recommendations with their volume block:\n{_table(shown)}"
    )


def explain(args: argparse.Namespace) -> str:
    from vol_pipeline.core.calendar import market_minutes_back
    from vol_pipeline.core.config import FeatureConfig
    from vol_pipeline.defs.partitions import partition_key

    settings = settings_from_env()
    store = warehouse(settings)
    found = store.read("recommendations", equals={"id": args.id})
    if found.is_empty():
        raise CliError(f"no recommendation with id {args.id!r} in {settings.warehouse_location} (see vol-pipeline status)")
    rec = found.row(0, named=True)
    ticker, ts = rec["ticker"], rec["ts"]
    minute_end = ts + timedelta(minutes=1)
    features = store.read("lane_features", ts, minute_end, equals={"ticker": ticker})
    window = FeatureConfig().volume_window
    bars = store.read("bars", market_minutes_back(ts, 4 * window), minute_end, equals={"ticker": ticker}).tail(window)
    reason = json.loads(rec["reason"])
    key = partition_key(ts)
    lines = [
        f"recommendation {rec['id']}: {rec['action']} {rec['instrument_type']} ({rec['rule']}, rule set {rec['rule_version']})",
        f"partition: {key} (bar {ts:%Y-%m-%d %H:%M} UTC); Dagster run: {_run_id(settings, key)}",
        "",
        f"bars used for the volume average (last {window} bars of {ticker}, current included):",
        _table(bars.select("ts", "open", "high", "low", "close", "volume")),
        "",
        "volume features (lane_features):",
        _table(features.select("volume_current", "volume_avg_20", "volume_ratio", "volume_surge", "close", "sma20", "sma50", "vol_ratio", "trend_state")),
        "",
        f"volume multiplier: volume_ratio {rec['volume_ratio']} -> x{rec['volume_mult']} ({reason['volume']['assessment']})",
        f"base confidence {rec['base_confidence']:.4f} from components {json.dumps(reason['confidence_components'])}",
        f"confidence = min(1, {rec['base_confidence']:.4f} x {rec['volume_mult']}) = {rec['confidence']:.4f}",
        "",
        *_news_lines(store, rec, reason),
    ]
    return "\n".join(lines)


def _news_lines(store, rec: dict, reason: dict) -> list[str]:
    """The news items behind the recommendation's sentiment: the ones its window counted."""
    from vol_pipeline.core.config import SENTIMENT_RULES
    from vol_pipeline.core.news_sentiment import counted_items, window_reads

    sentiment = reason.get("sentiment") or {}
    if rec["rule_version"] != SENTIMENT_RULES.version and not sentiment.get("news_count"):
        return ["news: none (the run had no news source: sentiment 0, its gate off)"]
    ts = rec["ts"]
    items = counted_items(store.read("news_sentiment", *window_reads(ts, ts + timedelta(minutes=1))), rec["ticker"], ts)
    weight = SENTIMENT_RULES.weight_sentiment
    return [
        f"sentiment: {sentiment['score']:+.4f} ({sentiment['label']}) = mean of {sentiment['news_count']} directional "
        f"score(s) known in the 30 minutes to the bar's close; strength {abs(sentiment['score']):.4f} x weight {weight} "
        f"in the base confidence",
        f"news items behind it ({items.height}):",
        _table(items.select("known_at", "published_at", "feed", "title", "label", "score", "directional", "classifier")),
    ]


def _run_id(settings: Settings, key: str) -> str:
    """The run that last materialized this recommendations partition, from the CLI instance."""
    if not (settings.dagster_home / "dagster.yaml").exists():
        return "unknown (no Dagster instance under VOL_PIPELINE_HOME)"
    import dagster as dg

    from vol_pipeline.runs import cli_instance

    with cli_instance(settings) as instance:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("recommendations"), asset_partitions=[key]), limit=1
        ).records
    return records[0].run_id if records else "unknown (not materialized through this instance)"

"""watchlist: the watchlist engine (reference §7) every 5 minutes, per minute partition.

At each 5-minute mark of the window, the tickers with a bar at that minute are scored
(sentiment pressure, setup quality, vol score, trend alignment: every component a column)
and the top 30 (VOL_PIPELINE_WATCHLIST_SIZE) ranked on the list. When
VOL_PIPELINE_WATCHLIST=on, signals evaluates only the tickers on the list of its minute's
mark, as the original's signal engine did; off (the default) it is computed and shown but
every ticker is evaluated.
"""

from datetime import timedelta

import dagster as dg
import polars as pl

from vol_pipeline.core.news_sentiment import stored_mentions
from vol_pipeline.core.watchlist import WatchlistConfig, watchlist_by_mark
from vol_pipeline.defs.assets.common import NEWS_SENTIMENT_DEP, SINGLE_RUN, minutes_in, spec_kwargs, window
from vol_pipeline.defs.checks import checked_outputs, contract_result, contract_spec
from vol_pipeline.defs.metadata import markdown_table, summary
from vol_pipeline.defs.resources import WarehouseResource
from vol_pipeline.contracts import WATCHLIST_SCHEMA
from vol_pipeline.storage.tables import table

NO_NEWS = table("news_sentiment").empty()


def build_watchlist(partitions: dg.PartitionsDefinition, universe: tuple[str, ...] | None, size: int,
                    news_on: bool) -> dg.AssetsDefinition:
    config = WatchlistConfig(size=size)

    @dg.asset(
        name="watchlist",
        deps=[NEWS_SENTIMENT_DEP] if news_on else [],  # without news its pressure is 0: nothing read
        check_specs=[contract_spec("watchlist", partitions)],
        partitions_def=partitions,
        backfill_policy=SINGLE_RUN,
        **spec_kwargs("watchlist", f"Every 5 minutes: watch_score = 0.35 sentiment pressure + 0.25 setup quality + "
                      f"0.20 vol score + 0.20 trend alignment per ticker, top {config.size} on the list "
                      "(signals evaluates only those when VOL_PIPELINE_WATCHLIST=on)."),
    )
    def watchlist(context: dg.AssetExecutionContext, lane_features: pl.DataFrame, warehouse: WarehouseResource):
        start, end = window(context)
        news = (warehouse.get().read("news_sentiment", start - timedelta(minutes=config.news_minutes), end + timedelta(minutes=1))
                if news_on else NO_NEWS)
        ranked = watchlist_by_mark(lane_features, stored_mentions(news), universe, config)
        results = [contract_result("watchlist", ranked, WATCHLIST_SCHEMA)]
        meta = summary("watchlist", ranked, minutes_in(context))
        meta["marks"] = ranked["ts"].n_unique()
        if ranked.height:
            newest = ranked.filter(pl.col("ts") == ranked["ts"].max()).sort("rank").head(10)
            meta["newest_list"] = dg.MetadataValue.md(markdown_table(newest.select(
                "rank", "ticker", pl.col("watch_score").round(3), pressure=pl.col("sentiment_pressure").round(2),
                setup=pl.col("setup_quality").round(2), vol=pl.col("vol_score").round(2),
                trend=pl.col("trend_alignment"))))
        yield from checked_outputs(context, results, [dg.Output(ranked, metadata=meta)])

    return watchlist

"""signals: one row per (ticker, minute) with lane_features, HOLD included, with its rule.

With a news source configured, each (ticker, minute) gets the signal engine's news window
(core.news_sentiment: labels known in the 30 minutes up to the bar's close) from
news_sentiment, and the rule set with the sentiment gate runs; without one, sentiment is 0
and the ungated rule set runs (Settings.news_on decides, core.config.signal_rules).
"""

import dagster as dg
import polars as pl

from vol_pipeline.core.config import SignalRuleSet
from vol_pipeline.core.news_sentiment import sentiment_by_minute, stored_mentions, window_reads
from vol_pipeline.core.signals import evaluate_signals
from vol_pipeline.core.watchlist import refresh_mark, watchlist_membership
from vol_pipeline.defs.assets.common import NEWS_SENTIMENT_DEP, SINGLE_RUN, minutes_in, spec_kwargs, window
from vol_pipeline.defs.checks import contract_result, contract_spec, checked_outputs
from vol_pipeline.defs.metadata import column_lineage, summary
from vol_pipeline.defs.resources import WarehouseResource
from vol_pipeline.contracts import signals_schema

def build_signals(partitions: dg.PartitionsDefinition, rules: SignalRuleSet, watchlist_on: bool) -> dg.AssetsDefinition:
    news_on = rules.sentiment_gate
    scope = "the watchlist's tickers" if watchlist_on else "every ticker"

    @dg.asset(
        name="signals",
        # Edges only to what the run reads: lineage as it is. Without news no news_sentiment
        # edge (else the UI's Materialize warns that it was never materialized); without the
        # watchlist no watchlist edge (the default graph keeps five columns, whose fit-to-screen
        # zoom still shows the nodes' statuses).
        deps=[*([NEWS_SENTIMENT_DEP] if news_on else []), *(["watchlist"] if watchlist_on else [])],
        check_specs=[contract_spec("signals", partitions)],
        partitions_def=partitions,
        backfill_policy=SINGLE_RUN,
        **spec_kwargs("signals", f"Rule set {rules.version}: direction, base confidence (with news sentiment when a "
                      "news source is configured), volume multiplier and final confidence per ticker and minute; "
                      f"HOLD rows say why nothing was traded. Evaluates {scope}."),
    )
    def signals(context: dg.AssetExecutionContext, lane_features: pl.DataFrame, warehouse: WarehouseResource):
        start, end = window(context)
        store = warehouse.get()
        sentiment = on_watchlist = None
        if news_on:
            labels = store.read("news_sentiment", *window_reads(start, end))
            sentiment = sentiment_by_minute(lane_features, stored_mentions(labels))
        if watchlist_on:  # the marks of this window (written by the watchlist step) and the one before it
            first_mark = lane_features.select(refresh_mark(pl.col("ts")).min()).item() if lane_features.height else start
            on_watchlist = watchlist_membership(lane_features, store.read("watchlist", first_mark, end))
        evaluated = evaluate_signals(lane_features, rules, sentiment, on_watchlist)
        results = [contract_result("signals", evaluated, signals_schema(rules))]
        meta = summary("signals", evaluated, minutes_in(context))
        if watchlist_on:
            meta["rows_off_watchlist"] = evaluated.filter(pl.col("rule") == "OFF_WATCHLIST").height
        if news_on:
            meta.update(column_lineage("signals", with_news=True))
            meta["rows_with_news"] = evaluated.filter(pl.col("news_count") > 0).height
        yield from checked_outputs(context, results, [dg.Output(evaluated, metadata=meta)])

    return signals

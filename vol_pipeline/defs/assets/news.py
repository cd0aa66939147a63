"""news_items -> news_sentiment: news from the configured source, stored once, labelled.

One step writes both assets (the classifier runs on the items just read), so the graph
shows news_items -> news_sentiment -> signals. Both tables are append-only by event_uid:
a feed repeating an item, a re-run, or a file read twice stores nothing twice. Rejected
items (no text, dated in the future) are named with their reason in the metadata and the
run's log; a feed that fails is one warning line, and the run fails only when every feed
did. Live feeds keep their conditional-GET state (ETag, Last-Modified) in news_items'
materialization metadata, where the next poll reads it.
"""

from datetime import date, datetime, timedelta, timezone

import dagster as dg
import polars as pl

from vol_pipeline.classifiers.base import default_classifier
from vol_pipeline.classifiers.labelling import label_items, sentiment_rows
from vol_pipeline.contracts import NEWS_ITEMS_SCHEMA, NEWS_SENTIMENT_SCHEMA
from vol_pipeline.contracts.news import NEWS_ITEM_COLUMNS
from vol_pipeline.core.calendar import sessions_between
from vol_pipeline.core.errors import BadInputError
from vol_pipeline.defs.assets.common import spec_kwargs
from vol_pipeline.defs.checks import checked_outputs, contract_result, contract_spec
from vol_pipeline.defs.metadata import markdown_table
from vol_pipeline.defs.news_source import NewsSourceResource
from vol_pipeline.defs.resources import WarehouseResource
from vol_pipeline.settings import market_today
from vol_pipeline.sources.news import NewsBatch

NEWS_GROUP = "news"
FEED_STATE = "feed_state"
EXAMPLES = 10  # rejected items listed in the metadata


class NewsIngestConfig(dg.Config):
    """Generated news only: the sessions to generate (YYYY-MM-DD, both included); empty:
    the latest session up to today."""

    first_session: str = ""
    last_session: str = ""


def _sessions(config: NewsIngestConfig) -> list[date]:
    try:
        last = date.fromisoformat(config.last_session) if config.last_session else market_today()
        first = date.fromisoformat(config.first_session) if config.first_session else None
    except ValueError as error:
        raise dg.Failure(f"news config: {error}") from None
    if first is None:
        return sessions_between(last - timedelta(days=10), last)[-1:]
    return sessions_between(first, last)


def _last_feed_states(context: dg.AssetExecutionContext) -> dict[str, dict]:
    event = context.instance.get_latest_materialization_event(dg.AssetKey("news_items"))
    entry = event.asset_materialization.metadata.get(FEED_STATE) if event and event.asset_materialization else None
    return dict(entry.value) if entry is not None else {}


def _collect(context, config: NewsIngestConfig, news_source: NewsSourceResource) -> NewsBatch:
    if news_source.kind == "feeds":
        batch = news_source.feed_news().collect(_last_feed_states(context))
        for line in batch.problems + batch.warnings:
            context.log.warning(line)
        if batch.problems and len(batch.problems) == len(batch.polled):
            raise dg.Failure(description=f"every news feed failed: {'; '.join(batch.problems)}")
        return batch
    if news_source.kind == "file":
        try:
            return news_source.file_news().collect()
        except BadInputError as error:
            raise dg.Failure(description=str(error)) from None
    if news_source.kind == "synthetic":
        return news_source.generated_news().collect(_sessions(config))
    raise dg.Failure(description="no news source is configured: set VOL_PIPELINE_NEWS to feeds (with "
                     "VOL_PIPELINE_NEWS_FEEDS), file (with VOL_PIPELINE_NEWS_FILE) or synthetic")


def _rejected_metadata(batch: NewsBatch) -> dict:
    rejected = batch.rejected.select("feed", "title", "published_at", "reason").head(EXAMPLES)
    return {"rejected_items": batch.rejected.height,
            **({"rejected_examples": dg.MetadataValue.md(markdown_table(rejected))} if rejected.height else {})}


@dg.multi_asset(
    name="news",
    outs={
        "news_items": dg.AssetOut(**spec_kwargs(
            "news_items", "News items as fetched, each once (event_uid): title, summary, link, feed, published and "
            "fetched times.", NEWS_GROUP)),
        "news_sentiment": dg.AssetOut(**spec_kwargs(
            "news_sentiment", "Each item's universe tickers and its classifier label and score (the label's "
            "probability), by when it was known: what signals' sentiment window reads.", NEWS_GROUP)),
    },
    internal_asset_deps={"news_items": set(), "news_sentiment": {dg.AssetKey("news_items")}},
    check_specs=[contract_spec("news_items", None), contract_spec("news_sentiment", None)],
)
def news(context: dg.AssetExecutionContext, config: NewsIngestConfig, news_source: NewsSourceResource,
         warehouse: WarehouseResource):
    batch = _collect(context, config, news_source)
    for row in batch.rejected.head(EXAMPLES).iter_rows(named=True):
        context.log.warning(f"news item rejected ({row['feed']}): {row['title']!r}: {row['reason']}")
    items = batch.items.select(NEWS_ITEM_COLUMNS)
    classifier = default_classifier()
    labelled = sentiment_rows(label_items(batch.items, classifier, news_source.universe), datetime.now(timezone.utc))
    results = [contract_result("news_items", items, NEWS_ITEMS_SCHEMA),
               contract_result("news_sentiment", labelled, NEWS_SENTIMENT_SCHEMA)]

    def outputs():
        store = warehouse.get()
        new_items = store.insert_new("news_items", items)
        new_labels = store.insert_new("news_sentiment", labelled)
        polled = {"feeds_polled": len(batch.polled), "feeds_failed": len(batch.problems),
                  FEED_STATE: dg.MetadataValue.json(batch.feed_states)} if news_source.kind == "feeds" else {}
        yield dg.MaterializeResult(asset_key="news_items", metadata={
            "source": news_source.kind, "items_read": items.height, "new_items": new_items,
            "repeats_in_batch": batch.repeats, **_rejected_metadata(batch), **polled})
        labels = dict(labelled["label"].value_counts().iter_rows()) if labelled.height else {}
        named = labelled.filter(pl.col("tickers") != "").height
        yield dg.MaterializeResult(asset_key="news_sentiment", metadata={
            "classifier": classifier.name, "new_labels": new_labels, "items_naming_a_ticker": named,
            **{f"{label}_items": labels.get(label, 0) for label in ("positive", "negative", "neutral")}})

    yield from checked_outputs(context, results, outputs())


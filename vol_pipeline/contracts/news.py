"""The news contracts: items as fetched (news_items) and their labels (news_sentiment)."""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from vol_pipeline.classifiers.base import LABELS
from vol_pipeline.contracts.base import UTC_TS, column, expr_check, unit_interval

DATED_BY = ("published", "updated", "fetched")
_SHA256 = r"^[0-9a-f]{64}$"

NEWS_ITEMS_SCHEMA = pa.DataFrameSchema(
    {
        "event_uid": column(pl.String, unique=True, checks=[pa.Check.str_matches(_SHA256)]),
        "feed": column(pl.String),
        "guid": column(pl.String, nullable=True),
        "link": column(pl.String, nullable=True),
        "title": column(pl.String, nullable=True),
        "summary": column(pl.String, nullable=True),
        "published_at": column(UTC_TS),
        "dated_by": column(pl.String, checks=[pa.Check.isin(list(DATED_BY))]),
        "fetched_at": column(UTC_TS),
    },
    checks=[expr_check("an item has a title or a summary",
                       (pl.col("title").fill_null("") != "") | (pl.col("summary").fill_null("") != ""))],
    strict=True,
    name="news_items",
)

# tickers: the universe tickers the item names, comma-separated ("" for none): a plain text
# column both warehouses store alike. known_at: when the pipeline could first have used it.
NEWS_SENTIMENT_SCHEMA = pa.DataFrameSchema(
    {
        "event_uid": column(pl.String, unique=True, checks=[pa.Check.str_matches(_SHA256)]),
        "known_at": column(UTC_TS),
        "published_at": column(UTC_TS),
        "feed": column(pl.String),
        "title": column(pl.String, nullable=True),
        "tickers": column(pl.String, checks=[pa.Check.str_matches(r"^([A-Z][A-Z0-9.]*(,[A-Z][A-Z0-9.]*)*)?$")]),
        "label": column(pl.String, checks=[pa.Check.isin(list(LABELS))]),
        "score": unit_interval(False),
        "classifier": column(pl.String),
        "classified_at": column(UTC_TS),
    },
    checks=[expr_check("known_at >= published_at", pl.col("known_at") >= pl.col("published_at"))],
    strict=True,
    name="news_sentiment",
)
NEWS_ITEM_COLUMNS = tuple(NEWS_ITEMS_SCHEMA.columns)
NEWS_SENTIMENT_COLUMNS = tuple(NEWS_SENTIMENT_SCHEMA.columns)

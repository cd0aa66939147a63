"""Label news items: the tickers each names and the classifier's label and score.

Shared by `vol-pipeline classify` and the news assets, so a file labelled offline and the
same items ingested by Dagster get the same labels.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from vol_pipeline.classifiers.base import SentimentClassifier
from vol_pipeline.core.tickers import ticker_mentions


def item_text() -> pl.Expr:
    """What is classified and searched for tickers: title and summary."""
    return pl.concat_str(pl.col("title").fill_null(""), pl.col("summary").fill_null(""), separator=" ").str.strip_chars()


def label_items(items: pl.DataFrame, classifier: SentimentClassifier, universe: Iterable[str]) -> pl.DataFrame:
    """`items` plus tickers (List[String], sorted), label, score and classifier.

    Tickers an item already lists (a news file may) are kept when in the universe; those its
    text names are added."""
    universe = tuple(sorted(set(universe)))
    given = (pl.col("tickers").fill_null([]).list.eval(pl.element().filter(pl.element().is_in(universe)))
             if "tickers" in items.columns else pl.lit([], pl.List(pl.String)))
    named = items.select(given.alias("given"), ticker_mentions(item_text(), universe).alias("named"))
    labels = classifier.classify(items.select(item_text().alias("text"))["text"])
    return pl.concat([items.drop("tickers", strict=False), labels], how="horizontal").with_columns(
        tickers=pl.concat_list(named["given"], named["named"]).list.unique().list.sort(),
        classifier=pl.lit(classifier.name),
    )


def sentiment_rows(labelled: pl.DataFrame, classified_at) -> pl.DataFrame:
    """news_sentiment rows of labelled items (with known_at): tickers as "AAPL,MSFT"."""
    return labelled.select(
        "event_uid", "known_at", "published_at", "feed", "title",
        tickers=pl.col("tickers").list.join(","),
        label="label", score="score", classifier="classifier",
        classified_at=pl.lit(classified_at, pl.Datetime("us", "UTC")),
    )

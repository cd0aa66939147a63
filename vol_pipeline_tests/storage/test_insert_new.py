"""Append-only news tables: an item is stored once however often it arrives, on both warehouses."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse
from vol_pipeline.storage.postgres_warehouse import PostgresWarehouse
from vol_pipeline.storage.tables import table

T0 = datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc)


def uid(n: int) -> str:
    return hashlib.sha256(f"item-{n}".encode()).hexdigest()


def sentiment_rows(numbers: list[int], label: str = "positive") -> pl.DataFrame:
    return pl.DataFrame({
        "event_uid": [uid(n) for n in numbers],
        "known_at": [T0 + timedelta(minutes=n) for n in numbers],
        "published_at": [T0 + timedelta(minutes=n) for n in numbers],
        "feed": ["https://example.test/rss"] * len(numbers),
        "title": [f"Headline {n} with 'quotes' -- and ; SQL" for n in numbers],
        "tickers": ["AAPL,MSFT" if n % 2 else "" for n in numbers],
        "label": [label] * len(numbers),
        "score": [0.9] * len(numbers),
        "classifier": ["loughran-mcdonald"] * len(numbers),
        "classified_at": [T0 + timedelta(hours=1)] * len(numbers),
    }).cast(table("news_sentiment").columns)


@pytest.fixture(params=["duckdb", "postgres"])
def store(request, tmp_path):
    if request.param == "duckdb":
        return DuckDBWarehouse(tmp_path / "w.duckdb")
    return PostgresWarehouse(request.getfixturevalue("emptied_postgres_url"))


def test_only_new_keys_are_inserted_and_stored_rows_keep_their_first_values(store):
    assert store.insert_new("news_sentiment", sentiment_rows([1, 2, 3])) == 3
    # 2 and 3 again (with another label), 4 new, 4 twice in the batch
    again = pl.concat([sentiment_rows([2, 3, 4], label="negative"), sentiment_rows([4], label="neutral")])
    assert store.insert_new("news_sentiment", again) == 1
    assert store.insert_new("news_sentiment", again) == 0

    stored = store.read("news_sentiment").sort("known_at")
    assert stored["event_uid"].to_list() == [uid(n) for n in (1, 2, 3, 4)]
    assert stored["label"].to_list() == ["positive", "positive", "positive", "negative"]
    assert_frame_equal(stored.head(3), sentiment_rows([1, 2, 3]))


def test_an_empty_frame_inserts_nothing(store):
    assert store.insert_new("news_sentiment", sentiment_rows([])) == 0
    assert store.read("news_sentiment").is_empty()


def test_a_row_without_its_key_is_refused_and_nothing_is_written(store):
    rows = sentiment_rows([1, 2]).with_columns(event_uid=pl.Series([uid(1), None]))
    with pytest.raises(ValueError, match="news_sentiment: 1 row.*without event_uid"):
        store.insert_new("news_sentiment", rows)
    assert store.read("news_sentiment").is_empty()


def test_a_table_written_by_window_is_not_appended_to(store):
    with pytest.raises(ValueError, match="bars is written by partition window"):
        store.insert_new("bars", pl.DataFrame())

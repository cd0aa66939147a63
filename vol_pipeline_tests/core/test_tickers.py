"""Ticker extraction from headlines: cashtags, bare symbols and company names, universe only."""

import polars as pl
import pytest

from vol_pipeline.core.config import DEFAULT_TICKERS
from vol_pipeline.core.tickers import ticker_mentions


@pytest.mark.parametrize("text, expected", [
    ("$AAPL and $MSFT jump after earnings", ["AAPL", "MSFT"]),
    ("NVDA, TSLA lead the Nasdaq higher", ["NVDA", "TSLA"]),
    ("Apple's new iPhone; Microsoft cloud", ["AAPL", "MSFT"]),
    ("NVIDIA beats, Meta Platforms falls", ["META", "NVDA"]),
    ("Alphabet (GOOGL) and Google: one company", ["GOOGL"]),
    ("APPLE, Apple, AAPL and $AAPL", ["AAPL"]),               # one ticker however often named
    ("$IBM and $msft and MSFTX", []),                         # not in the universe / not capitals / longer word
    ("A meta-analysis of apple orchards", []),                # names are matched as written, not lower case
    ("CEO says AI will help US factories", []),               # capital words that are not universe tickers
    ("", []),
    (None, []),
])
def test_headlines_name_the_universe_tickers_they_mention(text, expected):
    frame = pl.DataFrame({"text": [text]}, schema={"text": pl.String})
    assert frame.select(ticker_mentions(pl.col("text"), DEFAULT_TICKERS))["text"].to_list() == [expected]


def test_a_smaller_universe_drops_the_others_and_their_company_names():
    frame = pl.DataFrame({"text": ["Apple and $TSLA and Tesla and NVDA"]})
    assert frame.select(ticker_mentions(pl.col("text"), ("TSLA",)))["text"].to_list() == [["TSLA"]]
    assert frame.select(ticker_mentions(pl.col("text"), ()))["text"].to_list() == [[]]

"""The news source resource, configured from Settings (VOL_PIPELINE_NEWS*)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from vol_pipeline.core.config import DEFAULT_TICKERS, parse_tickers, ticker_text
from vol_pipeline.sources.news import FeedNews, FileNews, GeneratedNews


class NewsSourceResource(dg.ConfigurableResource):
    """`kind` off (no news: sentiment 0, its gate off), feeds (`feeds`: RSS/Atom URLs),
    file (`news_file`: a recorded news file) or synthetic (generated headlines)."""

    kind: str = "off"
    feeds: list[str] = []
    news_file: str | None = None
    tickers: str = ticker_text(DEFAULT_TICKERS)  # comma-separated: the universe a headline's tickers are kept in
    seed: int = 7
    timeout_s: float = 10.0  # per feed request

    def feed_news(self) -> FeedNews:
        return FeedNews(tuple(self.feeds), self.timeout_s)

    def file_news(self) -> FileNews:
        return FileNews(Path(self.news_file or ""))

    def generated_news(self) -> GeneratedNews:
        return GeneratedNews(self.universe, self.seed)

    @property
    def universe(self) -> tuple[str, ...]:
        return parse_tickers(self.tickers)

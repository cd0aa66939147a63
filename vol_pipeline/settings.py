"""Settings read from the environment: where data lives, which bars, which environment.

One place for every VOL_PIPELINE_* variable so the CLI, the code location and the tests
agree. The warehouse URL is a secret: it is never part of repr(), and messages use
`warehouse_location` (host and database only).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from vol_pipeline.core.calendar import MARKET_TZ
from vol_pipeline.core.config import DEFAULT_TICKERS, parse_tickers

NEW_YORK = ZoneInfo(MARKET_TZ)
# The default partition start trails today by this much: recent history stays visible and
# the partition count stays small (~8k keys, far under Dagster's ~100k guidance).
DEFAULT_HISTORY_DAYS = 30
WAREHOUSE_URL_VAR = "VOL_PIPELINE_WAREHOUSE_URL"
WAREHOUSE_URL_SECRET_VAR = "VOL_PIPELINE_WAREHOUSE_URL_SECRET"
SOURCES = ("synthetic", "replay", "alpaca")
ALPACA_DATA_URL = "https://data.alpaca.markets"
# A live minute is requested this long after its bar closes. Alpaca builds a minute bar
# from the trades of that minute and serves it within a few seconds of the close; 10 s
# leaves room for that while adding little to bar -> recommendation latency. A bar that
# changes later (a late trade, a correction) is caught by the sensor's revision window.
DEFAULT_GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class Settings:
    home: Path
    partition_start: date
    env: str = "local"  # "local" or "prod": decides the default status of sensors/schedules
    bars_file: Path | None = None  # set: replay this file; unset: synthetic bars
    tickers: tuple[str, ...] = DEFAULT_TICKERS
    # VOL_PIPELINE_TICKERS as given: a replay file's rows of other tickers are rejected
    # ('ticker failed 'in the watchlist''); empty when unset, so a replay takes any ticker.
    watchlist: tuple[str, ...] = ()
    seed: int = 7
    # PostgreSQL warehouse: the URL itself, or the AWS Secrets Manager secret holding it.
    # Neither set: the embedded DuckDB file under `home`.
    warehouse_url: str | None = field(default=None, repr=False)
    warehouse_url_secret: str | None = None
    # Cold history (session_archive): this S3 bucket when set, else home/archive.
    archive_bucket: str | None = None
    archive_prefix: str = "vol_pipeline/history"
    # Where bars come from (VOL_PIPELINE_SOURCE): synthetic (default), replay (needs
    # bars_file) or alpaca (live; credentials from APCA_API_KEY_ID / APCA_API_SECRET_KEY
    # or the Secrets Manager secret alpaca_secret_id, read when bars are fetched).
    source: str = "synthetic"
    alpaca_feed: str = "iex"
    alpaca_data_url: str = ALPACA_DATA_URL
    alpaca_secret_id: str | None = None
    grace_seconds: float = DEFAULT_GRACE_SECONDS
    # News (VOL_PIPELINE_NEWS): off (the default: sentiment 0, its gate off), feeds (RSS/Atom
    # URLs in news_feeds), file (a recorded news file) or synthetic (generated headlines).
    news: str = "off"
    news_feeds: tuple[str, ...] = ()
    news_file: Path | None = None
    # VOL_PIPELINE_WATCHLIST=on: signals evaluate only the watchlist's top 30 (reference §9.1).
    watchlist_on: bool = False
    watchlist_size: int = 30  # VOL_PIPELINE_WATCHLIST_SIZE: how many tickers the list holds
    # partition_start is the default, trailing today by DEFAULT_HISTORY_DAYS (no
    # VOL_PIPELINE_PARTITION_START): instance retention recomputes it on the day it runs.
    rolling_start: bool = False

    def window_start(self, now: datetime | None = None) -> date:
        """The partition window's start on the day `now` (default: today)."""
        return default_partition_start(now) if self.rolling_start else self.partition_start

    @property
    def news_on(self) -> bool:
        """A news source is configured: signals use sentiment and its gate."""
        return self.news != "off"

    @property
    def warehouse_path(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def uses_postgres(self) -> bool:
        return bool(self.warehouse_url or self.warehouse_url_secret)

    @property
    def warehouse_location(self) -> str:
        """Where the warehouse is, safe to print (no credentials)."""
        if self.warehouse_url:
            from vol_pipeline.storage.postgres_url import redacted

            return redacted(self.warehouse_url)
        if self.warehouse_url_secret:
            return f"PostgreSQL from secret {self.warehouse_url_secret}"
        return str(self.warehouse_path)

    @property
    def archive_dir(self) -> Path:
        return self.home / "archive"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @staticmethod
    def from_env(environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        start_text = env.get("VOL_PIPELINE_PARTITION_START")
        if start_text:
            try:
                start = date.fromisoformat(start_text)
            except ValueError:
                raise ValueError(f"VOL_PIPELINE_PARTITION_START must be a date (YYYY-MM-DD), got {start_text!r}") from None
        else:
            start = default_partition_start()
        tickers = parse_tickers(env.get("VOL_PIPELINE_TICKERS", ""))
        kind = env.get("VOL_PIPELINE_ENV", "local")
        if kind not in ("local", "prod"):
            raise ValueError(f"VOL_PIPELINE_ENV must be 'local' or 'prod', got {kind!r}")
        bars_file = env.get("VOL_PIPELINE_BARS_FILE")
        if kind == "prod" and not (env.get(WAREHOUSE_URL_VAR) or env.get(WAREHOUSE_URL_SECRET_VAR)):
            raise ValueError(f"VOL_PIPELINE_ENV=prod needs {WAREHOUSE_URL_VAR} or {WAREHOUSE_URL_SECRET_VAR} "
                             "(production writes to PostgreSQL, never to the embedded file)")
        source = env.get("VOL_PIPELINE_SOURCE") or ("replay" if bars_file else "synthetic")
        if source not in SOURCES:
            raise ValueError(f"VOL_PIPELINE_SOURCE must be one of {', '.join(SOURCES)}, got {source!r}")
        if source == "replay" and not bars_file:
            raise ValueError("VOL_PIPELINE_SOURCE=replay needs VOL_PIPELINE_BARS_FILE (the file to replay)")
        feed = env.get("VOL_PIPELINE_ALPACA_FEED", "iex")
        if feed not in ("iex", "sip"):
            raise ValueError(f"VOL_PIPELINE_ALPACA_FEED must be iex or sip, got {feed!r}")
        grace_text = env.get("VOL_PIPELINE_GRACE_SECONDS", str(DEFAULT_GRACE_SECONDS))
        try:
            grace = float(grace_text)
        except ValueError:
            grace = -1.0
        if not 0 <= grace <= 300:
            raise ValueError(f"VOL_PIPELINE_GRACE_SECONDS must be seconds between 0 and 300, got {grace_text!r}")
        news, news_feeds, news_file = _news(env)
        warehouse_url = env.get(WAREHOUSE_URL_VAR) or None
        if warehouse_url:
            from vol_pipeline.storage.postgres_url import redacted

            redacted(warehouse_url)  # a malformed URL fails here, with a message that never quotes it
        return Settings(
            home=Path(env.get("VOL_PIPELINE_HOME", ".vol_pipeline")).resolve(),
            partition_start=start,
            rolling_start=not start_text,
            env=kind,
            bars_file=Path(bars_file).resolve() if bars_file and source == "replay" else None,
            source=source,
            alpaca_feed=feed,
            alpaca_data_url=env.get("VOL_PIPELINE_ALPACA_DATA_URL") or ALPACA_DATA_URL,
            alpaca_secret_id=env.get("VOL_PIPELINE_ALPACA_SECRET") or None,
            grace_seconds=grace,
            news=news,
            news_feeds=news_feeds,
            news_file=news_file,
            watchlist_on=_on_off(env, "VOL_PIPELINE_WATCHLIST"),
            watchlist_size=_watchlist_size(env),
            tickers=tickers or DEFAULT_TICKERS,
            watchlist=tickers,
            seed=int(env.get("VOL_PIPELINE_SEED", "7")),
            warehouse_url=warehouse_url,
            warehouse_url_secret=env.get(WAREHOUSE_URL_SECRET_VAR) or None,
            archive_bucket=env.get("VOL_PIPELINE_ARCHIVE_BUCKET") or None,
            archive_prefix=env.get("VOL_PIPELINE_ARCHIVE_PREFIX") or "vol_pipeline/history",
        )


def _on_off(env, name: str) -> bool:
    value = env.get(name, "off").strip().lower()
    if value not in ("on", "off"):
        raise ValueError(f"{name} must be on or off, got {value!r}")
    return value == "on"


def _watchlist_size(env) -> int:
    text = env.get("VOL_PIPELINE_WATCHLIST_SIZE", "30")
    if not text.strip().isdigit() or not 1 <= int(text) <= 10_000:
        raise ValueError(f"VOL_PIPELINE_WATCHLIST_SIZE must be a whole number from 1 to 10000, got {text!r}")
    return int(text)


def _news(env) -> tuple[str, tuple[str, ...], Path | None]:
    """(kind, feed URLs, news file) from VOL_PIPELINE_NEWS, _NEWS_FEEDS and _NEWS_FILE.
    The kind defaults to feeds or file when only one of those is set."""
    from vol_pipeline.sources.news import NEWS_KINDS

    feeds_text, file_text = env.get("VOL_PIPELINE_NEWS_FEEDS", "").strip(), env.get("VOL_PIPELINE_NEWS_FILE", "").strip()
    kind = env.get("VOL_PIPELINE_NEWS") or ("feeds" if feeds_text else "file" if file_text else "off")
    if kind not in NEWS_KINDS:
        raise ValueError(f"VOL_PIPELINE_NEWS must be one of {', '.join(NEWS_KINDS)}, got {kind!r}")
    feeds = feed_urls(feeds_text) if kind == "feeds" else ()
    if kind == "feeds" and not feeds:
        raise ValueError("VOL_PIPELINE_NEWS=feeds needs VOL_PIPELINE_NEWS_FEEDS (a file of feed URLs, one per line, "
                         "or a comma-separated list)")
    if kind == "file" and not file_text:
        raise ValueError("VOL_PIPELINE_NEWS=file needs VOL_PIPELINE_NEWS_FILE (a JSONL, CSV or Parquet news file)")
    return kind, feeds, Path(file_text).resolve() if kind == "file" else None


def feed_urls(text: str) -> tuple[str, ...]:
    """Feed URLs from a file (one per line, # comments) or a comma-separated list; each http(s)."""
    path = Path(text)
    if "://" not in text and path.is_file():
        lines = [line.split("#", 1)[0].strip() for line in path.read_text(encoding="utf-8").splitlines()]
        urls = [line for line in lines if line]
    else:
        urls = [part.strip() for part in text.split(",") if part.strip()]
    bad = [url for url in urls if not url.startswith(("http://", "https://"))]
    if bad:
        raise ValueError(f"VOL_PIPELINE_NEWS_FEEDS: {bad[0]!r} is not an http(s) URL (give URLs, or a file of them)")
    return tuple(dict.fromkeys(urls))


def market_today(now: datetime | None = None) -> date:
    return (now or datetime.now(NEW_YORK)).astimezone(NEW_YORK).date()


def default_partition_start(now: datetime | None = None) -> date:
    return market_today(now) - timedelta(days=DEFAULT_HISTORY_DAYS)

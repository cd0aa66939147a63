"""A thin HTTP client for Alpaca's historical bars: GET /v2/stocks/bars (Market Data v2).

Several symbols per request, every page followed until `next_page_token` is null.
Retries, bounded in attempts and in total time: 429 (waits what `Retry-After` or the
rate-limit reset header says), 5xx, lost connections, timeouts and malformed bodies,
with exponential backoff and full jitter. Stops at once on 401/403 naming the
credential settings, and on any other 4xx with the API's message. Every failure is a
FeedError whose message never holds a credential (they travel only as headers).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Callable, Iterable

import httpx
import polars as pl

from vol_pipeline.sources.alpaca_credentials import CREDENTIAL_SETTINGS, AlpacaCredentials
from vol_pipeline.sources.alpaca_pages import RAW_SCHEMA, MalformedPage, Page, parse_page

DEFAULT_DATA_URL = "https://data.alpaca.markets"
FEEDS = ("iex", "sip")
PAGE_LIMIT = 10_000  # the API's maximum bars per page
SYMBOLS_PER_REQUEST = 100  # keeps the URL short; pages are limited by bars, not symbols
MAX_PAGES = 100_000  # a runaway pagination stops here with an error


class FeedError(RuntimeError):
    """The market-data API gave no usable answer; the message says why."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6  # per request, the first one included
    max_total_s: float = 60.0  # waiting plus requests, per request
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0


@dataclass
class FetchStats:
    requests: int = 0
    pages: int = 0
    rows: int = 0
    retries: int = 0
    waited_s: float = 0.0
    problems: list[str] = field(default_factory=list)  # what each retry answered


class AlpacaBarsClient:
    def __init__(
        self,
        credentials: AlpacaCredentials,
        data_url: str = DEFAULT_DATA_URL,
        feed: str = "iex",
        timeout_s: float = 10.0,
        retry: RetryPolicy = RetryPolicy(),
        page_limit: int = PAGE_LIMIT,
        sleep: Callable[[float], None] = time.sleep,
        on_page: Callable[[FetchStats], None] | None = None,
    ):
        if feed not in FEEDS:
            raise FeedError(f"feed must be one of {', '.join(FEEDS)}, got {feed!r}")
        self.feed, self.retry, self.page_limit = feed, retry, page_limit
        self.timeout_s = timeout_s
        self._sleep, self._on_page = sleep, on_page
        self._random = random.Random()
        self._http = httpx.Client(base_url=data_url.rstrip("/"), headers=credentials.headers(),
                                  timeout=httpx.Timeout(timeout_s))
        self.data_url = data_url

    def close(self) -> None:
        self._http.close()

    def bars(self, symbols: Iterable[str], start: datetime, end: datetime, stats: FetchStats | None = None) -> pl.DataFrame:
        """Raw rows (alpaca_pages.RAW_SCHEMA plus `fetched_at`, when each page arrived) of the
        1-minute bars with start <= ts < end. Unchecked: validate them as bars."""
        stats = stats if stats is not None else FetchStats()
        symbols = list(dict.fromkeys(symbols))
        frames = []
        for first in range(0, len(symbols), SYMBOLS_PER_REQUEST):
            chunk = symbols[first:first + SYMBOLS_PER_REQUEST]
            frames += self._pages(chunk, start, end, stats)
        if not frames:
            return pl.DataFrame(schema={**RAW_SCHEMA, "fetched_at": pl.Datetime("us", "UTC")})
        if any(frame.schema["open"] == pl.String for frame in frames):  # some page needed text
            frames = [frame.with_columns(pl.exclude("fetched_at").cast(pl.String)) for frame in frames]
        return pl.concat(frames)

    def _pages(self, symbols: list[str], start: datetime, end: datetime, stats: FetchStats) -> list[pl.DataFrame]:
        params = {
            "symbols": ",".join(symbols), "timeframe": "1Min", "start": _rfc3339(start),
            # The API's end is inclusive; bars start on the minute, so one second before `end` excludes it.
            "end": _rfc3339(end - timedelta(seconds=1)), "limit": str(self.page_limit),
            "adjustment": "raw", "feed": self.feed, "sort": "asc",
        }
        frames, seen_tokens, token = [], set(), None
        while True:
            page = self._get({**params, "page_token": token} if token else params, stats)
            fetched_at = datetime.now(timezone.utc)
            frames.append(page.rows.with_columns(fetched_at=pl.lit(fetched_at, pl.Datetime("us", "UTC"))))
            stats.pages += 1
            stats.rows += page.rows.height
            if self._on_page:
                self._on_page(stats)
            token = page.next_token
            if token is None:
                return frames
            if token in seen_tokens or stats.pages >= MAX_PAGES:
                raise FeedError(f"Alpaca data API: page token {token[:24]!r} came back again after {stats.pages} pages "
                                f"for {_symbols_text(symbols)} (the answer repeats a page); stopped")
            seen_tokens.add(token)

    def _get(self, params: dict[str, str], stats: FetchStats) -> Page:
        started = time.monotonic()
        for attempt in range(1, self.retry.max_attempts + 1):
            stats.requests += 1
            response = None
            try:
                response = self._http.get("/v2/stocks/bars", params=params)
            except httpx.TimeoutException:
                problem = f"no answer within {self.timeout_s:g} s"
            except httpx.TransportError as error:
                problem = f"connection failed ({type(error).__name__})"
            else:
                status = response.status_code
                if status == 200:
                    try:
                        return parse_page(response.content)
                    except MalformedPage as error:
                        problem = f"malformed answer: {error}"
                elif status in (401, 403):
                    hint = f"; check that the subscription allows feed={self.feed}" if status == 403 else ""
                    raise FeedError(f"Alpaca data API refused the request ({status} {_api_message(response)}): "
                                    f"check {CREDENTIAL_SETTINGS}{hint}")
                elif status == 429 or status >= 500:
                    problem = f"{status} {_api_message(response)}"
                else:
                    raise FeedError(f"Alpaca data API rejected the request for {_symbols_text(params['symbols'].split(','))} "
                                    f"({status} {_api_message(response)})")
            stats.problems.append(problem)
            elapsed = time.monotonic() - started
            if attempt == self.retry.max_attempts:
                break
            wait = self._wait(response, attempt)
            if elapsed + wait > self.retry.max_total_s:
                raise FeedError(f"Alpaca data API: {problem}; waiting {wait:.0f} s more would pass the "
                                f"{self.retry.max_total_s:g} s retry budget ({attempt} attempts so far)")
            stats.retries += 1
            stats.waited_s += wait
            self._sleep(wait)
        raise FeedError(f"Alpaca data API: gave up after {self.retry.max_attempts} attempts in "
                        f"{time.monotonic() - started:.1f} s; last answer: {problem}")

    def _wait(self, response: httpx.Response | None, attempt: int) -> float:
        if response is not None and response.status_code == 429:
            told = _retry_after(response.headers)
            if told is not None:
                return told
        backoff = min(self.retry.max_delay_s, self.retry.base_delay_s * 2 ** (attempt - 1))
        return self._random.uniform(0, backoff)  # full jitter: many workers do not retry in step


def _retry_after(headers: httpx.Headers) -> float | None:
    """Seconds to wait from Retry-After (seconds or an HTTP date), else X-RateLimit-Reset (epoch s)."""
    value = headers.get("Retry-After")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            try:
                return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
            except (TypeError, ValueError):
                pass
    reset = headers.get("X-RateLimit-Reset")
    if reset:
        try:
            return max(0.0, float(reset) - time.time())
        except ValueError:
            pass
    return None


def _api_message(response: httpx.Response) -> str:
    """The API's own message (JSON 'message', else the text), one short line."""
    try:
        message = response.json().get("message")
    except (ValueError, AttributeError):
        message = None
    text = str(message) if message else response.text or response.reason_phrase
    return " ".join(text.split())[:200]


def _symbols_text(symbols: list[str]) -> str:
    shown = ",".join(symbols[:5])
    return shown + (f" (+{len(symbols) - 5} more)" if len(symbols) > 5 else "")


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

"""The Alpaca bar source against a loopback server speaking Alpaca's bars API: pagination,
retries, refusals, and every kind of bad answer (a clear error or a rejected row)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from vol_pipeline.core.bars import BAR_COLUMNS
from vol_pipeline.core.minute_requests import minute_fingerprints
from vol_pipeline.sources.alpaca import AlpacaBarSource
from vol_pipeline.sources.alpaca_client import AlpacaBarsClient, FeedError, FetchStats, RetryPolicy
from vol_pipeline.sources.alpaca_credentials import (AlpacaCredentials, CredentialsError, load_credentials)
from vol_pipeline.sources.synthetic import SyntheticBarSource
from vol_pipeline_tests.fake_alpaca import FakeAlpaca

KEY, SECRET = "test-key-id", "s3cr3t-value-never-shown"
OPEN = datetime(2026, 4, 20, 13, 30, tzinfo=timezone.utc)  # 09:30 New York, a Monday
TICKERS = ("AAPL", "MSFT")
FAST = RetryPolicy(max_attempts=4, max_total_s=10, base_delay_s=0.01, max_delay_s=0.05)


def minute(i: int) -> datetime:
    return OPEN + timedelta(minutes=i)


def published_bars(minutes: int = 30, tickers=TICKERS) -> pl.DataFrame:
    """Synthetic bars of the first `minutes` minutes of the session, as the server serves them."""
    bars = SyntheticBarSource(tickers=tickers).fetch(OPEN, minute(minutes)).select(BAR_COLUMNS)
    return bars.with_columns(pl.col("volume").fill_null(0))


@pytest.fixture
def server():
    with FakeAlpaca(key_id=KEY, secret_key=SECRET) as fake:
        fake.publish_frame(published_bars())
        yield fake


def client(server, **kwargs) -> AlpacaBarsClient:
    sleeps = kwargs.pop("sleeps", [])
    return AlpacaBarsClient(AlpacaCredentials(KEY, SECRET), server.url, retry=kwargs.pop("retry", FAST),
                            sleep=sleeps.append, **kwargs)


def source(server, tickers=TICKERS, **kwargs) -> AlpacaBarSource:
    return AlpacaBarSource(tickers, data_url=server.url, credentials=AlpacaCredentials(KEY, SECRET),
                           retry=kwargs.pop("retry", FAST), **kwargs)


def values(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(BAR_COLUMNS).sort("ticker", "ts")


# --- the happy path -----------------------------------------------------------------------
def test_every_page_is_followed_and_every_bar_arrives_once(server):
    stats = FetchStats()
    rows = client(server, page_limit=7).bars(TICKERS, OPEN, minute(30), stats)
    expected = published_bars().height
    assert rows.height == expected
    assert stats.pages == -(-expected // 7) and stats.requests == stats.pages and stats.retries == 0
    first = server.requests[0]["params"]
    assert first["symbols"] == "AAPL,MSFT" and first["timeframe"] == "1Min" and first["adjustment"] == "raw"
    assert first["feed"] == "iex" and first["limit"] == "7"
    assert all("page_token" in r["params"] for r in server.requests[1:])


def test_the_source_serves_valid_bars_of_the_window_with_feed_and_fetch_time(server):
    before = datetime.now(timezone.utc)
    bars = source(server).fetch(minute(10), minute(20))
    after = datetime.now(timezone.utc)
    expected = published_bars().filter((pl.col("ts") >= minute(10)) & (pl.col("ts") < minute(20)))
    assert values(bars).equals(values(expected))
    assert set(bars["feed"]) == {"iex"}
    assert bars["fetched_at"].min() >= before and bars["fetched_at"].max() <= after
    assert server.requests[-1]["params"]["end"] == "2026-04-20T13:49:59Z"  # the API's end is inclusive


def test_a_sparse_minute_and_an_unknown_but_valid_symbol_are_no_error(server):
    bars = source(server, tickers=("AAPL", "ZZZZ")).fetch(OPEN, minute(30))
    assert set(bars["ticker"]) == {"AAPL"}


def test_an_empty_answer_is_an_empty_frame_with_the_contract_columns(server):
    later = minute(200)
    src = source(server)
    bars = src.fetch(later, later + timedelta(minutes=5))
    assert bars.is_empty() and "feed" in bars.columns and "fetched_at" in bars.columns
    assert src.rejected(later, later + timedelta(minutes=5)).is_empty()


# --- retries --------------------------------------------------------------------------------
def test_429_waits_what_retry_after_says_then_succeeds(server):
    server.fail_next(429, json.dumps({"message": "too many requests."}), headers={"Retry-After": "2"})
    sleeps, stats = [], FetchStats()
    rows = client(server, sleeps=sleeps).bars(TICKERS, OPEN, minute(30), stats)
    assert rows.height == published_bars().height
    assert sleeps == [2.0] and stats.retries == 1 and "429" in stats.problems[0]


def test_429_without_retry_after_uses_the_rate_limit_reset_header(server):
    reset = datetime.now(timezone.utc).timestamp() + 3
    server.fail_next(429, "{}", headers={"X-RateLimit-Reset": str(int(reset) + 1)})
    sleeps = []
    client(server, sleeps=sleeps).bars(TICKERS, OPEN, minute(30))
    assert 2.0 <= sleeps[0] <= 4.5


def test_a_wait_longer_than_the_retry_budget_stops_at_once(server):
    server.fail_next(429, "{}", headers={"Retry-After": "600"})
    sleeps = []
    with pytest.raises(FeedError, match="retry budget"):
        client(server, sleeps=sleeps).bars(TICKERS, OPEN, minute(30))
    assert sleeps == []


def test_500_then_success_backs_off_with_jitter_within_the_cap(server):
    server.fail_next(500, "internal error", times=2)
    sleeps = []
    rows = client(server, sleeps=sleeps).bars(TICKERS, OPEN, minute(30))
    assert rows.height == published_bars().height
    assert len(sleeps) == 2 and all(0 <= s <= FAST.max_delay_s for s in sleeps)


def test_persistent_5xx_gives_up_after_the_attempts_naming_the_last_answer(server):
    server.fail_next(503, json.dumps({"message": "service unavailable"}), times=10)
    with pytest.raises(FeedError, match=r"gave up after 4 attempts.*503 service unavailable"):
        client(server).bars(TICKERS, OPEN, minute(30))
    assert len(server.requests) == 4


def test_a_lost_connection_and_a_timeout_are_retried(server):
    server.drop_next()
    server.delay_next(1.5)
    stats = FetchStats()
    rows = client(server, timeout_s=0.5).bars(TICKERS, OPEN, minute(30), stats)
    assert rows.height == published_bars().height
    assert any("connection failed" in p for p in stats.problems)
    assert any("no answer within 0.5 s" in p for p in stats.problems)


# --- refusals -------------------------------------------------------------------------------
@pytest.mark.parametrize("wrong", ["key", "secret"])
def test_401_stops_at_once_naming_the_credential_settings_never_their_values(server, wrong):
    credentials = AlpacaCredentials("nope" if wrong == "key" else KEY, "nope-secret" if wrong == "secret" else SECRET)
    bad = AlpacaBarsClient(credentials, server.url, retry=FAST)
    with pytest.raises(FeedError) as raised:
        bad.bars(TICKERS, OPEN, minute(30))
    message = str(raised.value)
    assert "401" in message and "APCA_API_KEY_ID" in message and "APCA_API_SECRET_KEY" in message
    assert SECRET not in message and "nope-secret" not in message and SECRET not in repr(credentials)
    assert len(server.requests) == 1


def test_403_for_a_feed_the_subscription_lacks_says_so():
    with FakeAlpaca(key_id=KEY, secret_key=SECRET, forbidden_feeds=("sip",)) as fake:
        sip = AlpacaBarsClient(AlpacaCredentials(KEY, SECRET), fake.url, feed="sip", retry=FAST)
        with pytest.raises(FeedError, match=r"403.*feed=sip"):
            sip.bars(TICKERS, OPEN, minute(30))


def test_a_malformed_symbol_is_the_apis_own_message(server):
    with pytest.raises(FeedError, match="invalid symbol: BAD SYMBOL"):
        client(server).bars(("AAPL", "BAD SYMBOL"), OPEN, minute(30))


# --- bad answers ------------------------------------------------------------------------------
def test_malformed_json_is_retried_and_a_persistent_one_is_a_clear_error(server):
    server.fail_next(200, "{not json")
    assert client(server).bars(TICKERS, OPEN, minute(30)).height == published_bars().height
    server.fail_next(200, '{"bars": [1, 2]}', times=10)
    with pytest.raises(FeedError, match="malformed answer: 'bars' is list"):
        client(server).bars(TICKERS, OPEN, minute(30))


def test_a_page_that_repeats_stops_with_an_error_instead_of_looping(server):
    server.repeat_page_token = True
    with pytest.raises(FeedError, match="came back again"):
        client(server, page_limit=5).bars(TICKERS, OPEN, minute(30))
    assert len(server.requests) < 10


def test_bars_duplicated_across_pages_are_kept_once_and_the_copies_quarantined(server):
    server.duplicate_across_pages = True
    src = AlpacaBarSource(TICKERS, data_url=server.url, credentials=AlpacaCredentials(KEY, SECRET), retry=FAST)
    src.client.page_limit = 9
    bars, rejected = src.fetch(OPEN, minute(30)), src.rejected(OPEN, minute(30))
    assert values(bars).equals(values(published_bars()))
    assert rejected.height == src.stats.pages - 1
    assert rejected["reason"].str.contains("exact copy").all()


def test_bars_out_of_order_come_out_sorted_and_complete(server):
    server.out_of_order = True
    bars = source(server).fetch(OPEN, minute(30))
    assert bars.select(BAR_COLUMNS).equals(values(published_bars()))


def test_a_symbol_that_was_not_asked_for_is_rejected_with_its_reason(server):
    server.extra_symbol = "XTRA"
    src = source(server)
    bars, rejected = src.fetch(OPEN, minute(30)), src.rejected(OPEN, minute(30))
    assert "XTRA" not in set(bars["ticker"])
    assert rejected.filter(pl.col("ticker") == "XTRA")["reason"].str.contains("ticker failed").all()
    assert rejected["minute_ts"].is_not_null().all() and set(rejected["source"]) == {"alpaca:iex"}


def test_a_bad_value_rejects_its_row_only(server):
    good = {"t": "2026-04-20T13:30:00Z", "o": 10.0, "h": 11.0, "l": 9.0, "c": 10.5, "v": 100, "n": 3, "vw": 10.2}
    bad = {**good, "t": "2026-04-20T13:31:00Z", "o": "ten"}
    server.fail_next(200, json.dumps({"bars": {"AAPL": [good, bad]}, "next_page_token": None}))
    src = source(server, tickers=("AAPL",))
    bars, rejected = src.fetch(OPEN, minute(5)), src.rejected(OPEN, minute(5))
    assert bars["ts"].to_list() == [OPEN] and bars["open"].to_list() == [10.0]
    assert rejected["reason"].to_list() == ["open failed 'is a number'"] and rejected["open"].to_list() == ["ten"]
    assert rejected["minute_ts"].to_list() == [minute(1)]


def test_a_revised_bar_changes_its_minutes_fingerprint_only(server):
    src = source(server)
    before = minute_fingerprints(src.fetch(OPEN, minute(30)))
    server.revise("AAPL", minute(3), close=999.0, high=999.0)
    after = minute_fingerprints(source(server).fetch(OPEN, minute(30)))
    assert {m for m in before if before[m] != after[m]} == {minute(3)}


# --- credentials ------------------------------------------------------------------------------
def test_credentials_come_from_the_environment_and_half_a_pair_is_named():
    pair = load_credentials({"APCA_API_KEY_ID": "k", "APCA_API_SECRET_KEY": "s"})
    assert pair.headers() == {"APCA-API-KEY-ID": "k", "APCA-API-SECRET-KEY": "s"} and "s" not in repr(pair).split("(")[1]
    with pytest.raises(CredentialsError, match="APCA_API_SECRET_KEY is not set"):
        load_credentials({"APCA_API_KEY_ID": "k"})
    with pytest.raises(CredentialsError, match="VOL_PIPELINE_ALPACA_SECRET"):
        load_credentials({})

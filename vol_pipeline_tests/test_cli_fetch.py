"""`vol-pipeline fetch` against a loopback server speaking Alpaca's bars API: a file in the
bar contract that `replay` runs; rejected rows beside it; failures in one line, exit codes
as for `features`, and nothing written when the API fails."""

from __future__ import annotations

import json
from datetime import date

import polars as pl
import pytest

from vol_pipeline.core.bars import BAR_COLUMNS, STORED_BAR_SCHEMA
from vol_pipeline.sources.synthetic import SyntheticBarSource
from vol_pipeline.storage.open import open_warehouse
from vol_pipeline_tests.fake_alpaca import FakeAlpaca
from vol_pipeline_tests.test_security import clean_env, run_cli  # noqa: F401 - fixture

KEY_ID, SECRET = "fetch-key", "fetch-secret-never-shown"
SESSIONS = (date(2026, 4, 20), date(2026, 4, 21))
TICKERS = ("AAPL", "MSFT")


def published(days=SESSIONS, tickers=TICKERS) -> pl.DataFrame:
    bars = pl.concat([SyntheticBarSource(tickers=tickers).session_bars(d) for d in days])
    return bars.with_columns(pl.col("volume").fill_null(0)).sort("ticker", "ts")


@pytest.fixture
def alpaca(clean_env, monkeypatch):  # noqa: F811
    with FakeAlpaca(key_id=KEY_ID, secret_key=SECRET) as server:
        server.publish_frame(published((*SESSIONS, date(2026, 4, 22))))
        monkeypatch.setenv("VOL_PIPELINE_ALPACA_DATA_URL", server.url)
        monkeypatch.setenv("APCA_API_KEY_ID", KEY_ID)
        monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
        yield server


def test_fetch_writes_both_sessions_in_the_bar_contract_and_replay_runs_them(alpaca, clean_env, tmp_path, capfd):  # noqa: F811
    out = tmp_path / "history.parquet"
    result = run_cli(["fetch", "--tickers", "aapl,MSFT", "--start", "2026-04-20", "--end", "2026-04-21", "--out", out], capfd)
    assert result["code"] == 0, result
    assert f"wrote {published().height:,} bars of 2 of 2 tickers over 2 NYSE sessions" in result["stdout"]
    bars = pl.read_parquet(out)
    assert bars.schema == pl.Schema(STORED_BAR_SCHEMA)
    assert bars.select(BAR_COLUMNS).equals(published())  # both dates included, regular hours only
    assert set(bars["feed"]) == {"iex"}
    days = {r["params"]["start"][:10] for r in alpaca.requests}
    assert days == {"2026-04-20", "2026-04-21"}
    assert not (tmp_path / "history.rejected.parquet").exists()

    replay = run_cli(["replay", "--bars", out], capfd)
    assert replay["code"] == 0, replay
    stored = open_warehouse(clean_env / "warehouse.duckdb").read("bars")
    assert stored.select(BAR_COLUMNS).equals(published()) and set(stored["feed"]) == {"iex"}
    assert stored["fetched_at"].equals(bars["fetched_at"])  # the fetch time travels with the file


def test_rows_failing_the_contract_are_written_beside_the_output_with_exit_1(alpaca, tmp_path, capfd):
    good = {"t": "2026-04-20T13:30:00Z", "o": 10.0, "h": 11.0, "l": 9.0, "c": 10.5, "v": 100, "n": 2, "vw": 10.1}
    body = {"bars": {"AAPL": [good, {**good, "t": "2026-04-20T13:31:00Z", "l": 12.0}]}, "next_page_token": None}
    alpaca.fail_next(200, json.dumps(body))
    out = tmp_path / "one.csv"
    result = run_cli(["fetch", "--tickers", "AAPL", "--start", "2026-04-20", "--end", "2026-04-20", "--out", out], capfd)
    assert result["code"] == 1, result
    assert "wrote 1 bars" in result["stdout"]
    assert "1 rows from the API rejected" in result["stderr"] and "low failed" in result["stderr"]
    rejected = pl.read_csv(tmp_path / "one.rejected.csv")
    assert rejected["ts"].to_list() == ["2026-04-20T13:31:00Z"] and rejected["low"].to_list() == [12.0]
    written = pl.read_csv(out)
    assert written.height == 1 and written["close"].to_list() == [10.5]


@pytest.mark.parametrize("argv, message", [
    (["--start", "2026-04-21", "--end", "2026-04-20"], "--end 2026-04-20 is before --start 2026-04-21"),
    (["--start", "2026-04-03", "--end", "2026-04-05"], "no NYSE session between 2026-04-03 and 2026-04-05"),
    (["--start", "2026-04-20", "--end", "2026-04-20", "--tickers", " , "], "--tickers: give at least one ticker, e.g. AAPL,MSFT"),
])
def test_a_request_that_cannot_be_made_is_one_line_and_exit_2(alpaca, tmp_path, capfd, argv, message):
    out = tmp_path / "x.csv"
    args = ["fetch", "--tickers", "AAPL", "--out", out, *argv]
    result = run_cli(args, capfd)
    assert result["code"] == 2 and result["stderr"].strip().splitlines() == [f"error: {message}"], result
    assert not out.exists() and alpaca.requests == []


def test_refused_credentials_stop_at_once_and_write_nothing(alpaca, tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("APCA_API_SECRET_KEY", "wrong-" + SECRET)
    out = tmp_path / "x.parquet"
    result = run_cli(["fetch", "--tickers", "AAPL", "--start", "2026-04-20", "--end", "2026-04-21", "--out", out], capfd)
    (line,) = result["stderr"].strip().splitlines()
    assert result["code"] == 2 and "401" in line and "APCA_API_SECRET_KEY" in line and SECRET not in line
    assert not out.exists() and len(alpaca.requests) == 1


def test_missing_credentials_name_the_settings(alpaca, tmp_path, capfd, monkeypatch):
    monkeypatch.delenv("APCA_API_KEY_ID")
    monkeypatch.delenv("APCA_API_SECRET_KEY")
    result = run_cli(["fetch", "--tickers", "AAPL", "--start", "2026-04-20", "--end", "2026-04-20",
                      "--out", tmp_path / "x.csv"], capfd)
    assert result["code"] == 2 and "APCA_API_KEY_ID" in result["stderr"] and "VOL_PIPELINE_ALPACA_SECRET" in result["stderr"]

"""Live mode end to end: the minute sensor and the minute job against a loopback server that
speaks Alpaca's bars API and publishes each minute once it has closed on a (fast) clock.

What a user relies on: closed minutes flow from the feed to recommendations on their own;
bars carry feed and fetch time; decisions are made at the wall clock, so the freshness
gates see real ages; a bar the feed corrects later is replaced, recorded as a revision and
its minute re-run; a replay of the stored bars gives the recommendations the live run gave;
the API credentials appear nowhere Dagster, the logs or the warehouse keep.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import dagster as dg
import polars as pl
import pytest

from vol_pipeline.core.bars import BAR_COLUMNS
from vol_pipeline.core.calendar import market_minutes_between, session_open_utc
from vol_pipeline.core.minute_requests import SensorCursor, minute_fingerprints
from vol_pipeline.definitions import build_definitions
from vol_pipeline.defs import sensors as sensors_module
from vol_pipeline.defs.assets import executions as executions_module
from vol_pipeline.defs.partitions import MINUTE_PARTITIONS, TRIGGER_TAG, minute_of_key, partition_key
from vol_pipeline.runs import cli_instance, materialize_ranges
from vol_pipeline.settings import Settings
from vol_pipeline.sources.synthetic import SyntheticBarSource
from vol_pipeline.storage.open import open_warehouse
from vol_pipeline_tests.fake_alpaca import FakeAlpaca
from vol_pipeline_tests.test_security import files_with, leaks, stored_by_dagster

SESSION = date(2026, 11, 23)
TICKERS = ("AAPL", "MSFT", "TSLA", "GOOGL", "AMZN", "META", "NVDA")
KEY_ID, SECRET = "live-key-id-7c1f", "live-secret-9b2e-never-shown"
LIVE_FROM = datetime(2026, 11, 23, 17, 0, tzinfo=timezone.utc)  # 12:00 New York
LIVE_MINUTES = 6
SPEED = 15.0  # market seconds per real second: a minute closes every 4 s
MINUTE = timedelta(minutes=1)


class MarketClock:
    """Wall-clock time moved onto the session and sped up; shared by server, sensor, dispatcher."""

    def __init__(self, start: datetime):
        self.start, self.real_start = start, time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self.real_start) * SPEED)


@pytest.fixture
def live(tmp_path, monkeypatch):
    for name in ("APCA_API_KEY_ID", "APCA_API_SECRET_KEY", "VOL_PIPELINE_ALPACA_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APCA_API_KEY_ID", KEY_ID)
    monkeypatch.setenv("APCA_API_SECRET_KEY", SECRET)
    clock = MarketClock(LIVE_FROM)
    monkeypatch.setattr(sensors_module, "utc_now", clock)
    monkeypatch.setattr(executions_module, "decision_clock", clock)
    with FakeAlpaca(key_id=KEY_ID, secret_key=SECRET, clock=clock) as server:
        day = SyntheticBarSource(tickers=TICKERS).session_bars(SESSION)
        server.publish_frame(day.with_columns(pl.col("volume").fill_null(0)))
        settings = Settings(home=tmp_path / "home", partition_start=date(2026, 11, 16), tickers=TICKERS,
                            watchlist=TICKERS, source="alpaca", alpaca_data_url=server.url, grace_seconds=10.0)
        yield settings, server, clock


def run_request(defs: dg.Definitions, instance: dg.DagsterInstance, request: dg.RunRequest) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("minute_job").execute_in_process(
        partition_key=request.partition_key, tags=request.tags, instance=instance, raise_on_error=False)


def test_live_minutes_flow_to_recommendations_and_a_corrected_bar_reruns_its_minute(live, tmp_path, caplog, capfd):
    settings, server, clock = live
    caplog.set_level(logging.DEBUG)
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def("minute_sensor")
    warehouse = open_warehouse(settings.warehouse_path)
    with cli_instance(settings) as instance:
        # History up to the live minutes, in one range run through the same source (its bars
        # closed long before: the server serves them).
        history = materialize_ranges(defs, instance, [(session_open_utc(SESSION), LIVE_FROM - MINUTE)])
        assert history[-1].success
        # The cursor a sensor that ran all morning would have.
        stored = warehouse.read("bars", LIVE_FROM - 120 * MINUTE, LIVE_FROM)
        seen = {m.isoformat(): f for m, f in minute_fingerprints(stored.select(BAR_COLUMNS)).items()}
        cursor = SensorCursor(last=LIVE_FROM - MINUTE, seen=seen).to_json()

        corrected = LIVE_FROM + 2 * MINUTE
        runs: list[dg.ExecuteInProcessResult] = []
        revised_at = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            result = sensor(dg.build_sensor_context(instance=instance, cursor=cursor,
                                                    resources={"bar_source": defs.resources["bar_source"]}))
            if isinstance(result, dg.SensorResult):
                cursor = result.cursor or cursor
                for added in result.dynamic_partitions_requests or []:
                    instance.add_dynamic_partitions(MINUTE_PARTITIONS, list(added.partition_keys))
                for request in result.run_requests or []:
                    closed_at = minute_of_key(request.partition_key) + MINUTE + timedelta(seconds=settings.grace_seconds)
                    assert clock() >= closed_at  # asked for only once its bar closed, plus the grace
                    runs.append(run_request(defs, instance, request))
                    assert runs[-1].success
            done = {r.dagster_run.tags["dagster/partition"] for r in runs}
            if revised_at is None and partition_key(corrected) in done:
                server.revise("AAPL", corrected, close=999.0, high=999.0)  # the feed corrects a bar
                revised_at = clock()
            if len([r for r in runs if r.dagster_run.tags[TRIGGER_TAG] == "new_minute"]) >= LIVE_MINUTES and \
                    any(r.dagster_run.tags[TRIGGER_TAG] == "revised_bars" for r in runs):
                break
            time.sleep(0.25)
        else:
            pytest.fail(f"live minutes did not flow: {[(r.dagster_run.tags['dagster/partition'], r.dagster_run.tags[TRIGGER_TAG]) for r in runs]}")

        live_minutes = [LIVE_FROM + i * MINUTE for i in range(LIVE_MINUTES)]
        new_minute_keys = [r.dagster_run.tags["dagster/partition"] for r in runs if r.dagster_run.tags[TRIGGER_TAG] == "new_minute"]
        assert new_minute_keys[:LIVE_MINUTES] == [partition_key(m) for m in live_minutes]  # in order, none skipped
        (rerun,) = [r for r in runs if r.dagster_run.tags[TRIGGER_TAG] == "revised_bars"]
        assert rerun.dagster_run.tags["dagster/partition"] == partition_key(corrected)

        # Bars: provenance, the corrected value, and the revision with old and new values.
        bars = warehouse.read("bars", LIVE_FROM, LIVE_FROM + LIVE_MINUTES * MINUTE)
        assert set(bars["feed"]) == {"iex"}
        first_fetch = bars.filter(pl.col("ts") != corrected)
        assert (first_fetch["fetched_at"] >= first_fetch["ts"] + MINUTE).all()  # read after the minute closed
        aapl = bars.filter((pl.col("ticker") == "AAPL") & (pl.col("ts") == corrected)).row(0, named=True)
        assert aapl["close"] == 999.0 and aapl["fetched_at"] >= revised_at
        (revision,) = warehouse.read("bar_revisions").iter_rows(named=True)
        original = SyntheticBarSource(tickers=("AAPL",)).fetch(corrected, corrected + MINUTE).row(0, named=True)
        assert (revision["ticker"], revision["ts"], revision["change"]) == ("AAPL", corrected, "revised")
        assert (revision["old_close"], revision["new_close"]) == (original["close"], 999.0)

        # Decisions at the wall clock: the freshness gates saw real ages.
        recs = warehouse.read("recommendations", LIVE_FROM, LIVE_FROM + LIVE_MINUTES * MINUTE)
        executions = warehouse.read("executions", LIVE_FROM, LIVE_FROM + LIVE_MINUTES * MINUTE)
        assert recs.height >= 1 and executions.height == recs.height, "the live window has no recommendation"
        grace = timedelta(seconds=settings.grace_seconds)
        assert (executions["decided_at"] >= executions["ts"] + MINUTE + grace).all()
        ages = [json.loads(g)["bar_freshness"]["observed"] for g in executions["gates"]]
        assert all(age is not None and age >= settings.grace_seconds for age in ages), ages

        stored_texts, seen_counts = stored_by_dagster(instance)
    assert seen_counts["materializations"] > 0

    # A replay of the stored bars reproduces the live recommendations.
    day_bars = warehouse.read("bars", session_open_utc(SESSION), LIVE_FROM + LIVE_MINUTES * MINUTE)
    bars_file = tmp_path / "stored.parquet"
    day_bars.write_parquet(bars_file)
    replay_settings = replace(settings, home=tmp_path / "replay", source="replay", bars_file=bars_file)
    replay_defs = build_definitions(replay_settings)
    with cli_instance(replay_settings) as replay_instance:
        minutes = market_minutes_between(session_open_utc(SESSION), LIVE_FROM + LIVE_MINUTES * MINUTE)
        assert materialize_ranges(replay_defs, replay_instance, [(minutes[0], minutes[-1])])[-1].success
    replayed = open_warehouse(replay_settings.warehouse_path).read("recommendations", LIVE_FROM, LIVE_FROM + LIVE_MINUTES * MINUTE)
    columns = ["id", "ticker", "ts", "action", "confidence", "volume_ratio", "volume_mult"]
    assert replayed.select(columns).equals(recs.select(columns))
    replayed_bars = open_warehouse(replay_settings.warehouse_path).read("bars")
    assert replayed_bars.select(BAR_COLUMNS, "feed").equals(day_bars.select(BAR_COLUMNS, "feed"))  # feed iex kept

    # The credentials: nowhere in what Dagster stored, the logs, the output or the files.
    texts = {**stored_texts, "python logging": caplog.text, "stdout/stderr": "".join(capfd.readouterr()),
             "resource config": repr(defs.resources["bar_source"])}
    found = leaks(texts, SECRET, KEY_ID) + [f"file {f}" for f in files_with(settings.home, SECRET)]
    assert found == [], "\n".join(found)

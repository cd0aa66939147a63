"""One run per minute partition at a time, through the real run queue.

A minute's original run and its revision wait in the queue together (`dagster job launch`,
as the sensor's requests are queued) and the real `dagster-daemon` dequeues them. The
loopback Alpaca server answers the first bars request with the bars as they are and holds
the answer for 8 s; meanwhile a bar is revised. Without the instance's `dagster/partition`
limit both runs start at once: the second reads the revised bar and finishes first, the first
then overwrites it with the old values (checked: the test fails without the limit). With
the limit the revision waits, runs after the original has ended, and the tables hold the
revised bar.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import dagster as dg
import polars as pl
import pytest

from vol_pipeline.core.calendar import market_minutes_back
from vol_pipeline.defs.partitions import partition_key, register_minutes
from vol_pipeline.runs import instance_yaml
from vol_pipeline.sources.synthetic import SyntheticBarSource
from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse
from vol_pipeline_tests.daemon_harness import (BIN, alpaca_workspace, daemon_env, launch_minute, running_daemon,
                                               wait_for)
from vol_pipeline_tests.fake_alpaca import FakeAlpaca

MINUTE = datetime(2026, 11, 23, 15, 36, tzinfo=timezone.utc)  # 10:36 New York
KEY = partition_key(MINUTE)
TICKERS = ("AAPL", "MSFT")
KEY_ID, SECRET = "queue-key-id", "queue-secret-key"
HOLD_S = 8.0  # how long the original's answer is held: longer than a run takes to start

pytestmark = pytest.mark.skipif(not (BIN / "dagster-daemon").exists(), reason="dagster-daemon not installed next to python")


def test_a_revision_waits_for_the_original_run_of_its_minute(tmp_path, monkeypatch):
    home, dagster_home = tmp_path / "home", tmp_path / "home" / "dagster"
    dagster_home.mkdir(parents=True)
    (dagster_home / "dagster.yaml").write_text(instance_yaml(dagster_home))
    history_start = market_minutes_back(MINUTE, 240)
    bars = SyntheticBarSource(tickers=TICKERS, seed=7)
    DuckDBWarehouse(home / "warehouse.duckdb").replace("bars", bars.fetch(history_start, MINUTE), history_start, MINUTE)

    with FakeAlpaca(KEY_ID, SECRET) as server:
        minute_bars = bars.fetch(MINUTE, MINUTE + timedelta(minutes=1))
        server.publish_frame(minute_bars.with_columns(pl.col("volume").fill_null(0)))
        original_close = minute_bars.filter(pl.col("ticker") == "AAPL")["close"][0]
        revised_close = round(original_close * 1.01, 2)
        workspace, _ = alpaca_workspace(tmp_path, home, TICKERS, server.url, "queue_test")
        env = daemon_env(dagster_home, KEY_ID, SECRET)
        monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
        instance = dg.DagsterInstance.get()  # creates the SQLite storages before the daemon opens them
        register_minutes(instance, [MINUTE])
        # Both runs wait in the queue before the daemon starts: without the limit it would
        # dequeue and launch them together.
        launch_minute(workspace, env, KEY, "new_minute")
        launch_minute(workspace, env, KEY, "revised_bars")
        server.hold_next(HOLD_S)  # the first bars request: answered with the bars as they are, 8 s late
        with running_daemon(workspace, env, tmp_path), instance:
            wait_for(lambda: server.held_answers, "the first run's bars answer")
            server.revise("AAPL", MINUTE, close=revised_close, high=max(revised_close, minute_bars["high"].max()))

            def finished():
                records = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": KEY}))
                done = [r for r in records if r.dagster_run.is_finished]
                return records if len(records) == 2 and len(done) == 2 else None

            records = wait_for(finished, "both runs to finish")

    by_trigger = {r.dagster_run.tags["vol_pipeline/trigger"]: r for r in records}
    original, revision = by_trigger["new_minute"], by_trigger["revised_bars"]
    assert original.dagster_run.status == revision.dagster_run.status == dg.DagsterRunStatus.SUCCESS
    assert revision.start_time >= original.end_time, "the revision ran while the original was running"
    stored = DuckDBWarehouse(home / "warehouse.duckdb").read("bars", MINUTE, MINUTE + timedelta(minutes=1),
                                                             equals={"ticker": "AAPL"})
    assert stored["close"].to_list() == [revised_close]

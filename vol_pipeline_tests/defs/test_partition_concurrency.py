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

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from vol_pipeline.core.calendar import market_minutes_back
from vol_pipeline.defs.partitions import partition_key, register_minutes
from vol_pipeline.runs import instance_yaml
from vol_pipeline.sources.synthetic import SyntheticBarSource
from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse
from vol_pipeline_tests.fake_alpaca import FakeAlpaca

BIN = Path(sys.executable).parent
MINUTE = datetime(2026, 11, 23, 15, 36, tzinfo=timezone.utc)  # 10:36 New York
KEY = partition_key(MINUTE)
TICKERS = ("AAPL", "MSFT")
KEY_ID, SECRET = "queue-key-id", "queue-secret-key"
HOLD_S = 8.0  # how long the original's answer is held: longer than a run takes to start
TIMEOUT_S = 180
LOCATION = '''from datetime import date
from pathlib import Path

from vol_pipeline.definitions import build_definitions
from vol_pipeline.settings import Settings

defs = build_definitions(Settings(home=Path({home!r}), partition_start=date(2026, 11, 16), tickers={tickers!r},
                                  watchlist={tickers!r}, source="alpaca", alpaca_data_url={url!r}, grace_seconds=0.0))
'''

pytestmark = pytest.mark.skipif(not (BIN / "dagster-daemon").exists(), reason="dagster-daemon not installed next to python")


def launch(workspace: Path, env: dict, trigger: str) -> None:
    tags = json.dumps({"dagster/partition": KEY, "vol_pipeline/trigger": trigger})
    subprocess.run([str(BIN / "dagster"), "job", "launch", "-w", str(workspace), "-j", "minute_job", "--tags", tags],
                   env=env, check=True, capture_output=True, timeout=120)


def wait_for(condition, what: str, timeout: float = TIMEOUT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


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
        location = tmp_path / "location.py"
        location.write_text(LOCATION.format(home=str(home), tickers=TICKERS, url=server.url))
        workspace = tmp_path / "workspace.yaml"
        workspace.write_text(f"load_from:\n  - python_file:\n      relative_path: {location}\n      location_name: queue_test\n")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VOL_PIPELINE_", "APCA_", "DAGSTER_"))}
        env.update(DAGSTER_HOME=str(dagster_home), APCA_API_KEY_ID=KEY_ID, APCA_API_SECRET_KEY=SECRET,
                   PYTHONWARNINGS="ignore")
        monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
        instance = dg.DagsterInstance.get()  # creates the SQLite storages before the daemon opens them
        register_minutes(instance, [MINUTE])
        # Both runs wait in the queue before the daemon starts: without the limit it would
        # dequeue and launch them together.
        launch(workspace, env, "new_minute")
        launch(workspace, env, "revised_bars")
        server.hold_next(HOLD_S)  # the first bars request: answered with the bars as they are, 8 s late
        daemon = subprocess.Popen([str(BIN / "dagster-daemon"), "run", "-w", str(workspace)], env=env, cwd=tmp_path,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            with instance:
                wait_for(lambda: server.held_answers, "the first run's bars answer")
                server.revise("AAPL", MINUTE, close=revised_close, high=max(revised_close, minute_bars["high"].max()))

                def finished():
                    records = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": KEY}))
                    done = [r for r in records if r.dagster_run.is_finished]
                    return records if len(records) == 2 and len(done) == 2 else None

                records = wait_for(finished, "both runs to finish")
        finally:
            os.killpg(daemon.pid, signal.SIGTERM)
            daemon.wait(timeout=60)

    by_trigger = {r.dagster_run.tags["vol_pipeline/trigger"]: r for r in records}
    original, revision = by_trigger["new_minute"], by_trigger["revised_bars"]
    assert original.dagster_run.status == revision.dagster_run.status == dg.DagsterRunStatus.SUCCESS
    assert revision.start_time >= original.end_time, "the revision ran while the original was running"
    stored = DuckDBWarehouse(home / "warehouse.duckdb").read("bars", MINUTE, MINUTE + timedelta(minutes=1),
                                                             equals={"ticker": "AAPL"})
    assert stored["close"].to_list() == [revised_close]

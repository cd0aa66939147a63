"""Minute runs start in a process loaded before they were due (vol_pipeline.launcher), through
the real `dagster-daemon`, run queue and the CLI's instance file.

One daemon, four minutes launched one after another (`dagster job launch`, as the sensor's
requests are queued), bars from the loopback Alpaca server:
1. the first run finds no loaded process (the daemon just started): a new process, as with
   Dagster's own launcher, and the pool starts loading one;
2. once that one waits for work, the next run starts in it: the same pid in the launcher's
   event and in Dagster's "Started process for run" event;
3. a source file of the code location changes: the loaded process declines (stale), the run
   starts the cold way and still succeeds;
4. a warm run held up by the feed is terminated from another process (as from the UI): the
   run ends CANCELED and writes nothing.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from vol_pipeline.core.calendar import market_minutes_back
from vol_pipeline.defs.partitions import partition_key, register_minutes
from vol_pipeline.launcher import RUN_PROCESS_TAG
from vol_pipeline.runs import instance_yaml
from vol_pipeline.sources.synthetic import SyntheticBarSource
from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse
from vol_pipeline_tests.daemon_harness import (BIN, alpaca_workspace, daemon_env, launch_minute, running_daemon,
                                               wait_for)
from vol_pipeline_tests.fake_alpaca import FakeAlpaca

FIRST = datetime(2026, 11, 23, 15, 36, tzinfo=timezone.utc)  # 10:36 New York
MINUTES = [FIRST + timedelta(minutes=i) for i in range(4)]
TICKERS = ("AAPL", "MSFT")
KEY_ID, SECRET = "warm-key-id", "warm-secret-key"

pytestmark = pytest.mark.skipif(not (BIN / "dagster-daemon").exists(), reason="dagster-daemon not installed next to python")


READ_SYSCALL = {"x86_64": "0", "aarch64": "63"}.get(platform.machine(), "0")


def waiting_spares(marker: str) -> list[int]:
    """Pids of this test's spare processes blocked reading their stdin (loaded, waiting):
    their main thread is in read(0, ...)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if "vol_pipeline.launcher.spare" in cmdline and marker in cmdline:
                if (entry / "syscall").read_text().split()[:2] == [READ_SYSCALL, "0x0"]:
                    pids.append(int(entry.name))
        except (OSError, ValueError):
            continue
    return pids


def event_messages(instance, run_id: str) -> list[str]:
    return [e.message for e in instance.all_logs(run_id) if e.message]


def test_minute_runs_start_in_loaded_processes(tmp_path, monkeypatch):
    home, dagster_home = tmp_path / "home", tmp_path / "home" / "dagster"
    dagster_home.mkdir(parents=True)
    (dagster_home / "dagster.yaml").write_text(instance_yaml(dagster_home))
    history_start = market_minutes_back(FIRST, 240)
    bars = SyntheticBarSource(tickers=TICKERS, seed=7)
    warehouse = DuckDBWarehouse(home / "warehouse.duckdb")
    warehouse.replace("bars", bars.fetch(history_start, FIRST), history_start, FIRST)
    del warehouse  # DuckDB admits one process: the runs open it next

    with FakeAlpaca(KEY_ID, SECRET) as server:
        server.publish_frame(bars.fetch(FIRST, MINUTES[-1] + timedelta(minutes=1)).with_columns(pl.col("volume").fill_null(0)))
        workspace, location = alpaca_workspace(tmp_path, home, TICKERS, server.url, "warm_test")
        env = daemon_env(dagster_home, KEY_ID, SECRET)
        monkeypatch.setenv("DAGSTER_HOME", str(dagster_home))
        instance = dg.DagsterInstance.get()  # creates the SQLite storages before the daemon opens them
        register_minutes(instance, MINUTES)
        daemon_log = tmp_path / "daemon.log"

        def run_of(minute: datetime, finished: bool = True):
            def found():
                records = instance.get_run_records(dg.RunsFilter(tags={"dagster/partition": partition_key(minute)}))
                if records and (records[0].dagster_run.is_finished or not finished):
                    return records[0].dagster_run
                return None
            return wait_for(found, f"the run of {partition_key(minute)}")

        def launch(minute: datetime) -> None:
            launch_minute(workspace, env, partition_key(minute), "new_minute")

        marker = str(dagster_home)
        try:
            with running_daemon(workspace, env, tmp_path, daemon_log), instance:
                launch(MINUTES[0])
                first = run_of(MINUTES[0])
                assert first.status == dg.DagsterRunStatus.SUCCESS
                assert first.tags[RUN_PROCESS_TAG] == "cold"
                assert any("no loaded process ready yet" in m for m in event_messages(instance, first.run_id))

                [spare] = wait_for(lambda: waiting_spares(marker), "a loaded spare process")
                launch(MINUTES[1])
                second = run_of(MINUTES[1])
                assert second.status == dg.DagsterRunStatus.SUCCESS
                assert second.tags[RUN_PROCESS_TAG] == "warm"
                messages = event_messages(instance, second.run_id)
                assert f"Started in a loaded spare process (pid {spare})" in " ".join(messages)
                assert f"Started process for run (pid: {spare})." in messages  # the run ran in it

                wait_for(lambda: waiting_spares(marker), "the next loaded spare process")
                os.utime(location, (time.time() + 5, time.time() + 5))  # an edit after it loaded
                launch(MINUTES[2])
                third = run_of(MINUTES[2])
                assert third.status == dg.DagsterRunStatus.SUCCESS
                assert third.tags[RUN_PROCESS_TAG] == "cold"
                assert any("stale 1 source file(s) changed" in m for m in event_messages(instance, third.run_id))

                [spare] = wait_for(lambda: waiting_spares(marker), "a spare loaded after the edit")
                server.hold_next(120)  # the fourth run's bars request hangs
                launch(MINUTES[3])
                fourth = run_of(MINUTES[3], finished=False)
                wait_for(lambda: server.held_answers, "the fourth run's bars request")
                assert instance.get_run_by_id(fourth.run_id).tags[RUN_PROCESS_TAG] == "warm"
                assert instance.run_launcher.terminate(fourth.run_id)  # this process did not launch it
                fourth = run_of(MINUTES[3])
                assert fourth.status == dg.DagsterRunStatus.CANCELED
                wait_for(lambda: not Path(f"/proc/{spare}").exists() or
                         (Path(f"/proc/{spare}") / "stat").read_text().split()[2] == "Z", "the run process to exit")
        except AssertionError as failure:  # the daemon's and its run processes' stderr says why
            raise AssertionError(f"{failure}\n--- daemon log (tail) ---\n{daemon_log.read_text()[-4000:]}") from None

    # The operator's view counts both kinds (doctor exits 1 here: the minutes are days old).
    doctor = subprocess.run([str(BIN / "vol-pipeline"), "doctor"], env={**env, "VOL_PIPELINE_HOME": str(home)},
                            capture_output=True, text=True, timeout=120)
    assert "last hour: 2 started in a loaded process, 2 in a new one" in doctor.stdout + doctor.stderr

    stored = DuckDBWarehouse(home / "warehouse.duckdb").read("lane_features", FIRST, MINUTES[-1] + timedelta(minutes=1))
    per_minute = stored.group_by("ts").len().sort("ts")
    assert per_minute["ts"].to_list() == MINUTES[:3] and per_minute["len"].to_list() == [len(TICKERS)] * 3

"""Processes the fault tests start, kill or race (`python -m vol_pipeline_tests.faults.workers ...`).

    write WAREHOUSE TABLE FRAME.parquet START END
        replace one window of a table (WAREHOUSE: a postgresql:// URL or a DuckDB file path).
        Prints `ready` once loaded, waits for a line on stdin, prints `writing` right before
        the replace and `done <seconds>` after it.
    run-minute HOME PARTITION_START KEY GO_FILE
        one in-process run of minute_job for partition KEY on the Dagster instance under
        HOME/dagster (the CLI's), warehouse from VOL_PIPELINE_WAREHOUSE_URL or HOME's DuckDB
        file; prints `ready` once loaded, waits for GO_FILE, prints the outcome as JSON.
    sensor-tick DAGSTER_HOME LOCATION_FILE NOW CRASH_POINT
        one sensor daemon iteration at NOW that SIGKILLs itself at Dagster's debug crash
        point CRASH_POINT (e.g. RUN_LAUNCHED): see sensor_daemon.py.

Imports are inside the commands: the writer must reach `writing` quickly.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import datetime
from pathlib import Path


def write(warehouse: str, table: str, frame_path: str, start: str, end: str) -> None:
    import polars as pl

    from vol_pipeline.storage.open import open_warehouse

    frame = pl.read_parquet(frame_path)
    is_url = warehouse.startswith("postgresql://")
    store = open_warehouse(warehouse if not is_url else "", url=warehouse if is_url else None)
    print("ready", flush=True)
    sys.stdin.readline()
    print("writing", flush=True)
    began = time.monotonic()
    store.replace(table, frame, datetime.fromisoformat(start), datetime.fromisoformat(end))
    print(f"done {time.monotonic() - began:.3f}", flush=True)


def run_minute(home: str, partition_start: str, key: str, go_file: str) -> None:
    import os
    from datetime import date

    from vol_pipeline.definitions import build_definitions
    from vol_pipeline.defs.partitions import minute_of_key, register_minutes
    from vol_pipeline.runs import QUIET_RUN_CONFIG, cli_instance, failure_message
    from vol_pipeline.settings import Settings

    settings = Settings(home=Path(home), partition_start=date.fromisoformat(partition_start),
                        warehouse_url=os.environ.get("VOL_PIPELINE_WAREHOUSE_URL") or None)
    job = build_definitions(settings).resolve_job_def("minute_job")
    with cli_instance(settings) as instance:
        register_minutes(instance, [minute_of_key(key)])
        print("ready", flush=True)
        deadline = time.monotonic() + 60
        while not Path(go_file).exists() and time.monotonic() < deadline:
            time.sleep(0.005)
        began = time.time()
        result = job.execute_in_process(partition_key=key, instance=instance, run_config=QUIET_RUN_CONFIG,
                                        raise_on_error=False)
        outcome = {"run_id": result.run_id, "success": result.success, "began": began, "ended": time.time(),
                   "message": None if result.success else failure_message(result)}
    print(json.dumps(outcome), flush=True)


def sensor_tick(dagster_home: str, location_file: str, now: str, crash_point: str) -> None:
    from vol_pipeline_tests.faults.sensor_daemon import sensor_iteration

    sensor_iteration(dagster_home, Path(location_file), datetime.fromisoformat(now), crash_point=crash_point)
    print("not crashed", flush=True)


COMMANDS = {"write": write, "run-minute": run_minute, "sensor-tick": sensor_tick}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])

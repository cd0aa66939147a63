"""Instance size after weeks of sensor-style minute runs, with and without `instance_retention`.

    .venv/bin/python benchmarks/bench_retention.py            # 30 sessions (~11,700 runs)
    .venv/bin/python benchmarks/bench_retention.py --sessions 5 --quick

What is simulated, and how. A live day is 390 single-minute runs of minute_job (tag
`dagster/partition`, as the sensor makes them), 390 minute keys and the runs' event logs. One
such run is executed for real (7 tickers, in process, the CLI's instance: SQLite with the
project's pooled event log). Its run record and its events are the template: every simulated
minute gets a copy under a new run id and its own partition key, added with Dagster's storage
calls (`run_storage.add_historical_run` with the minute's time as creation time,
`event_log_storage.store_event_batch` for the ~80 events, one run file each, asset events in
the index) and the minute key. Executing 11,700 runs for real would take hours; a copy has
the same rows, columns and byte sizes. Not simulated: sensor ticks (~17,000 a day, which
Dagster's own tick retention in dagster.yaml purges), step-log files.

Measured: the instance folder (MB, files) after the sessions with nothing pruned; then the
`instance_retention_job` run in process with the window as it would be on the last evening
(default rolling 30 days), its duration and the size after it; then one more session and the
next evening's run (a steady-state day: ~390 runs out), its duration and the size.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row, write_results  # noqa: E402


def folder(path: Path) -> tuple[float, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files) / 1e6, len(files)


def template_run(defs, instance, key: str):
    from vol_pipeline.defs.jobs import MINUTE_JOB
    from vol_pipeline.defs.partitions import minute_of_key, register_minutes
    from vol_pipeline.runs import QUIET_RUN_CONFIG

    register_minutes(instance, [minute_of_key(key)])
    result = defs.resolve_job_def(MINUTE_JOB).execute_in_process(
        instance=instance, partition_key=key, run_config=QUIET_RUN_CONFIG, tags={"vol_pipeline/trigger": "new_minute"})
    assert result.success
    run = instance.get_run_by_id(result.run_id)
    return run, instance.all_logs(result.run_id)


def simulate_session(instance, run, events, template_key: str, session_minutes: list[datetime]) -> None:
    from dagster._serdes import deserialize_value, serialize_value

    from vol_pipeline.defs.partitions import partition_key, register_minutes

    register_minutes(instance, session_minutes)
    run_text = serialize_value(run)
    events_text = [serialize_value(e) for e in events]
    for minute in session_minutes:
        key, run_id = partition_key(minute), str(uuid.uuid4())

        def copy(text: str) -> str:
            return text.replace(run.run_id, run_id).replace(template_key, key)

        instance.run_storage.add_historical_run(deserialize_value(copy(run_text)), minute.replace(tzinfo=None))
        instance.event_log_storage.store_event_batch([deserialize_value(copy(t)) for t in events_text])


def run(quick: bool = False, sessions: int | None = None, tickers: int = 7) -> list[Row]:
    from vol_pipeline.core.calendar import session_minutes_utc, sessions_between
    from vol_pipeline.definitions import build_definitions
    from vol_pipeline.defs.partitions import partition_key
    from vol_pipeline.defs.retention import RETENTION_JOB
    from vol_pipeline.runs import cli_instance
    from vol_pipeline.settings import DEFAULT_HISTORY_DAYS, Settings, default_partition_start, market_today

    sessions = sessions or (5 if quick else 30)
    today = market_today()
    days = sessions_between(today - timedelta(days=2 * sessions + 20), today - timedelta(days=1))[-(sessions + 1):]
    simulated, extra_day = days[:-1], days[-1]
    minutes_of = {d: [m.replace(tzinfo=timezone.utc) for m in session_minutes_utc(d).tolist()] for d in days}
    home = Path(tempfile.mkdtemp(prefix="bench_retention_"))
    settings = Settings(home=home, partition_start=simulated[0] - timedelta(days=1), tickers=tuple(f"T{i:04d}" for i in range(tickers)))
    defs = build_definitions(settings)
    rows: list[Row] = []
    with cli_instance(settings) as instance:
        template_minute = minutes_of[simulated[0]][30]
        run_, events = template_run(defs, instance, partition_key(template_minute))
        instance.delete_run(run_.run_id)  # its copies stand for it
        started = time.perf_counter()
        for day in simulated:
            simulate_session(instance, run_, events, partition_key(template_minute), minutes_of[day])
        print(f"simulated {len(simulated)} sessions ({len(simulated) * 390:,} runs, {len(events)} events each) "
              f"in {time.perf_counter() - started:.0f} s", flush=True)
        dagster_home = settings.dagster_home
        mb, files = folder(dagster_home)
        rows.append(Row("retention", f"{len(simulated)} sessions, no retention: instance MB", [mb], unit="MB",
                        extra={"files": files, "runs": instance.get_runs_count(), "events_per_run": len(events)}))
        print(rows[-1].name, f"{mb:.1f} MB in {files:,} files", flush=True)

        def evening(day: date, label: str) -> None:
            evening_utc = datetime.combine(day, datetime.min.time(), timezone.utc) + timedelta(hours=25, minutes=30)
            start = default_partition_start(evening_utc)
            window = Settings(home=home, partition_start=start, tickers=settings.tickers)
            began = time.perf_counter()
            result = build_definitions(window).get_job_def(RETENTION_JOB).execute_in_process(instance=instance)
            took = time.perf_counter() - began
            assert result.success
            meta = {k: v.value for e in result.all_events if e.is_successful_output
                    for k, v in e.event_specific_data.metadata.items()}
            mb_after, files_after = folder(dagster_home)
            rows.append(Row("retention", f"{label}: instance MB after instance_retention", [mb_after], unit="MB",
                            extra={"files": files_after, "window_start": str(start), "runs_deleted": meta["runs_deleted"],
                                   "keys_deleted": meta["partition_keys_deleted"], "runs_left": instance.get_runs_count()}))
            rows.append(Row("retention", f"{label}: instance_retention run", [took],
                            extra={"runs_deleted": meta["runs_deleted"]}))
            print(f"{label}: window from {start}, {meta['runs_deleted']:,} runs and {meta['partition_keys_deleted']:,} keys "
                  f"deleted in {took:.1f} s; {mb_after:.1f} MB in {files_after:,} files", flush=True)

        evening(simulated[-1], f"after {len(simulated)} sessions ({DEFAULT_HISTORY_DAYS}-day window)")
        simulate_session(instance, run_, events, partition_key(template_minute), minutes_of[extra_day])
        evening(extra_day, "the next day (steady state)")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, help="default 30, 5 with --quick")
    parser.add_argument("--tickers", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="5 sessions")
    args = parser.parse_args()
    rows = run(args.quick, args.sessions, args.tickers)
    print(write_results("retention", rows))


if __name__ == "__main__":
    main()

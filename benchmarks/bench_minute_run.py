"""Wall time of the Dagster minute job: one minute for 7 and 5,000 tickers, and a whole
session as one single-run backfill for 5,000 tickers (wall and peak RSS).

    .venv/bin/python benchmarks/bench_minute_run.py [--tickers 7,5000] [--repeats 3] [--skip-backfill]

Each case runs in a fresh process on a fresh VOL_PIPELINE_HOME (embedded DuckDB warehouse,
SQLite Dagster instance), so peak RSS is that process's. The warm-up (bars of the 240
market minutes before the measured minute, the lookback lane_features reads) is not timed.
Results go to benchmarks/results/minute_run.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
SESSION = date(2026, 11, 23)
MINUTES = [datetime(2026, 11, 23, 15, 30 + i, tzinfo=timezone.utc) for i in range(5)]  # 10:30-10:34 New York


def _settings(home: Path, n_tickers: int):
    from vol_pipeline.settings import Settings

    tickers = ("AAPL", "MSFT", "TSLA", "GOOGL", "AMZN", "META", "NVDA") if n_tickers == 7 else tuple(f"T{i:04d}" for i in range(n_tickers))
    return Settings(home=home, partition_start=SESSION - timedelta(days=7), tickers=tickers)


def case_minute(n_tickers: int, repeats: int) -> dict:
    """Child process: warm up, then time `repeats` one-minute runs and the pure compute."""
    from vol_pipeline.core.calendar import market_minutes_back, market_minutes_between
    from vol_pipeline.core.features import lane_features_between
    from vol_pipeline.core.recommendations import recommend
    from vol_pipeline.core.signals import evaluate_signals
    from vol_pipeline.definitions import build_definitions
    from vol_pipeline.runs import cli_instance, materialize_ranges
    from vol_pipeline.storage.duckdb_warehouse import DuckDBWarehouse

    home = Path(tempfile.mkdtemp(prefix="bench_minute_"))
    settings = _settings(home, n_tickers)
    defs, instance = build_definitions(settings), cli_instance(settings)
    first = MINUTES[0]
    warm = market_minutes_between(market_minutes_back(first, 240), first + timedelta(minutes=len(MINUTES)))
    materialize_ranges(defs, instance, [(warm[0], warm[-1])], selection=["bars", "bars_quarantine"])

    walls, computes = [], []
    store = DuckDBWarehouse(settings.warehouse_path)
    for minute in MINUTES[:repeats]:
        started = time.perf_counter()
        result = materialize_ranges(defs, instance, [(minute, minute)])[-1]
        walls.append(time.perf_counter() - started)
        assert result.success, result.run_id
        started = time.perf_counter()
        bars = store.read("bars", market_minutes_back(minute, 239), minute + timedelta(minutes=1))
        features = lane_features_between(bars, minute, minute + timedelta(minutes=1))
        recommend(evaluate_signals(features), store.read("recommendations", minute - timedelta(minutes=15), minute))
        computes.append(time.perf_counter() - started)
    return {
        "case": f"one minute, {n_tickers} tickers",
        "run_wall_s": statistics.median(walls),
        "compute_s": statistics.median(computes),
        "feature_rows": features.height,
        "repeats": len(walls),
    }


def case_backfill(n_tickers: int) -> dict:
    """Child process: the whole session as one run (after the previous session's bars)."""
    from vol_pipeline.core.calendar import market_minutes_back, market_minutes_between
    from vol_pipeline.definitions import build_definitions
    from vol_pipeline.runs import cli_instance, materialize_ranges

    home = Path(tempfile.mkdtemp(prefix="bench_backfill_"))
    settings = _settings(home, n_tickers)
    defs, instance = build_definitions(settings), cli_instance(settings)
    day = datetime.combine(SESSION, datetime.min.time(), timezone.utc)
    session = market_minutes_between(day, day + timedelta(days=1))
    warm = market_minutes_between(market_minutes_back(session[0], 240), session[0])
    materialize_ranges(defs, instance, [(warm[0], warm[-1])], selection=["bars", "bars_quarantine"])
    started = time.perf_counter()
    result = materialize_ranges(defs, instance, [(session[0], session[-1])])[-1]
    wall = time.perf_counter() - started
    assert result.success, result.run_id
    return {"case": f"one-session single-run backfill, {n_tickers} tickers", "run_wall_s": wall, "minutes": len(session)}


def _child(kind: str, n_tickers: int, repeats: int) -> dict:
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    command = [sys.executable, __file__, "--child", kind, "--tickers", str(n_tickers), "--repeats", str(repeats), "--out", str(out)]
    subprocess.run(command, check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    record = json.loads(out.read_text())
    record["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # max over children so far
    return record


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickers", default="7,5000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-backfill", action="store_true")
    parser.add_argument("--child", choices=["minute", "backfill"])
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.child:
        record = case_minute(int(args.tickers), args.repeats) if args.child == "minute" else case_backfill(int(args.tickers))
        Path(args.out).write_text(json.dumps(record))
        return

    records = [_child("minute", int(n), args.repeats) for n in args.tickers.split(",")]
    if not args.skip_backfill:
        records.append(_child("backfill", 5000, 1))
    machine = f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}, Python {platform.python_version()}"
    lines = ["| case | run wall (s) | compute (s) | peak RSS (MB) |", "|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r['case']} | {r['run_wall_s']:.2f} | {r.get('compute_s', float('nan')):.3f} | {r['peak_rss_mb']:.0f} |")
    table = "\n".join(lines)
    print(f"machine: {machine}\n{table}\n(peak RSS is the largest child process so far)")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "minute_run.json").write_text(json.dumps({"machine": machine, "records": records}, indent=2))
    (RESULTS / "minute_run.md").write_text(f"machine: {machine}\n\n{table}\n")


if __name__ == "__main__":
    main()

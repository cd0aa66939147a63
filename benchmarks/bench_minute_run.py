"""Minute tick and one-session backfill: the Dagster minute job at 7 / 500 / 5,000 tickers.

    .venv/bin/python benchmarks/bench_minute_run.py [--tickers 7,500,5000] [--repeats 5] [--skip-backfill] [--quick]

Minute tick (each ticker count in a fresh process, fresh VOL_PIPELINE_HOME: embedded DuckDB
warehouse, SQLite Dagster instance). The 240 market minutes before the measured ones are
materialized first (untimed: the lookback). Then, for each of `repeats` consecutive
minutes, three figures:

* compute: the work of every asset of the minute job on data in memory - lane_features'
  per-minute kernel, the watchlist (at 5-minute marks), signals, recommendations (with the
  cooldown), the dispatch gates, and each table's contract check - with the same functions and settings the assets call.
  This is the figure with the target (< 150 ms at 5,000 tickers).
* compute + warehouse I/O: the same plus every read (each ticker's trailing bars, the
  cooldown's recommendations, the dispatch inputs) and every write (one window replace
  per table), as the assets do them.
* Dagster run wall: the whole minute run (`execute_in_process`, as `vol-pipeline replay`
  does): bars from the source, all assets, checks, event log writes.

Backfill: one whole session (390 minutes, 5,000 tickers) as one single-run backfill in its
own process: wall of the run, and the process's peak RSS (ru_maxrss of the child). The
same backfill at 50 tickers shows Dagster's own cost: each of the 390 partitions records a
planned and a done materialization event per asset (12 per minute) and a check evaluation
per check (6 per minute).
Results: benchmarks/results/minute_run.{json,md}.
"""

from __future__ import annotations

import argparse
import statistics
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row, write_results  # noqa: E402

SESSION = date(2026, 11, 23)
FIRST_MINUTE = datetime(2026, 11, 23, 15, 30, tzinfo=timezone.utc)  # 10:30 New York
SEVEN = ("AAPL", "MSFT", "TSLA", "GOOGL", "AMZN", "META", "NVDA")
COMPUTE_TARGET_S = 0.150
BACKFILL_TARGET_S, BACKFILL_TARGET_MB = 30.0, 2048


def _settings(home: Path, n_tickers: int):
    from vol_pipeline.settings import Settings

    tickers = SEVEN if n_tickers == 7 else tuple(f"T{i:04d}" for i in range(n_tickers))
    return Settings(home=home, partition_start=SESSION - timedelta(days=7), tickers=tickers)


STEPS = ("lane_features", "watchlist", "signals", "recommendations", "executions")  # each with its contract check


def _step_medians(record: dict) -> str:
    """'lane_features 31, watchlist 9, ... ms' (medians of the measured minutes)."""
    steps = record.get("steps_s", {})
    return ", ".join(f"{step} {statistics.median(steps[step]) * 1000:.0f}" for step in STEPS if step in steps) + " ms"


def _one_minute(store, minute: datetime, timed: dict[str, float]) -> None:
    """Every asset's work for `minute`, as the assets do it; adds seconds to timed['compute'/'io']."""
    from vol_pipeline.core.dispatch import BAR_INPUT_COLUMNS, FEATURE_INPUT_COLUMNS, PRIOR_INPUT_COLUMNS, dispatch
    from vol_pipeline.core.window_features import BAR_COLUMNS, window_features
    from vol_pipeline.core.recommendations import recommend
    from vol_pipeline.core.signals import evaluate_signals
    from vol_pipeline.defs.assets.executions import BAR_LOOKBACK, DISPATCH, FEATURES_LOOKBACK, _new_york_day_start
    from vol_pipeline.defs.assets.lane_features import FEATURES
    from vol_pipeline.contracts import (
        LANE_FEATURES_SCHEMA, WATCHLIST_SCHEMA, check_contract, executions_schema, recommendations_schema, signals_schema,
    )
    from vol_pipeline.core.config import signal_rules
    from vol_pipeline.core.news_sentiment import stored_mentions
    from vol_pipeline.core.watchlist import WatchlistConfig, watchlist_by_mark

    RULES = signal_rules(False)  # no news source: what the default minute job runs

    end = minute + timedelta(minutes=1)

    def io(fn):
        started = time.perf_counter()
        out = fn()
        timed["io"] += time.perf_counter() - started
        return out

    def compute(fn, step: str):
        started = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - started
        timed["compute"] += elapsed
        timed[step] = timed.get(step, 0.0) + elapsed
        return out

    def read_bars(first, stop, tickers):  # the kernel's reads count as I/O, not compute
        return io(lambda: store.read("bars", first, stop, columns=BAR_COLUMNS, tickers=tickers))

    def features_of_minute():
        io_before = timed["io"]
        started = time.perf_counter()
        features = check_contract(window_features(read_bars, minute, end, FEATURES)[0], LANE_FEATURES_SCHEMA)
        elapsed = time.perf_counter() - started - (timed["io"] - io_before)
        timed["compute"] += elapsed
        timed["lane_features"] = timed.get("lane_features", 0.0) + elapsed
        return features

    features = features_of_minute()
    io(lambda: store.replace("lane_features", features, minute, end))
    news = io(lambda: store.read("news_sentiment", minute - timedelta(minutes=60), end + timedelta(minutes=1)))
    ranked = compute(lambda: check_contract(watchlist_by_mark(features, stored_mentions(news), None, WatchlistConfig()),
                                            WATCHLIST_SCHEMA), "watchlist")
    io(lambda: store.replace("watchlist", ranked, minute, end))
    signals = compute(lambda: check_contract(evaluate_signals(features, RULES), signals_schema(RULES)), "signals")
    io(lambda: store.replace("signals", signals, minute, end))
    prior = io(lambda: store.read("recommendations", minute - timedelta(minutes=RULES.cooldown_minutes), minute))
    recs = compute(lambda: check_contract(recommend(signals, prior, RULES), recommendations_schema(RULES)), "recommendations")
    io(lambda: store.replace("recommendations", recs, minute, end))
    inputs = io(lambda: (store.read("lane_features", minute - FEATURES_LOOKBACK, end, columns=FEATURE_INPUT_COLUMNS),
                         store.read("bars", minute - BAR_LOOKBACK, end, columns=BAR_INPUT_COLUMNS),
                         store.read("executions", _new_york_day_start(minute), minute, columns=PRIOR_INPUT_COLUMNS)))
    decided = compute(lambda: check_contract(dispatch(recs, *inputs[:2], None, inputs[2], DISPATCH), executions_schema(DISPATCH)),
                      "executions")
    io(lambda: store.replace("executions", decided, minute, end))


def case_minute(n_tickers: int, repeats: int) -> dict:
    """Child process: warm up, then per minute: the Dagster run, then the asset work again."""
    from vol_pipeline.core.calendar import market_minutes_back, market_minutes_between
    from vol_pipeline.definitions import build_definitions
    from vol_pipeline.runs import cli_instance, materialize_ranges
    from vol_pipeline.storage.open import open_warehouse

    home = Path(tempfile.mkdtemp(prefix="bench_minute_"))
    settings = _settings(home, n_tickers)
    defs, instance = build_definitions(settings), cli_instance(settings)
    minutes = [FIRST_MINUTE + timedelta(minutes=i) for i in range(repeats)]
    warm = market_minutes_between(market_minutes_back(minutes[0], 240), minutes[-1] + timedelta(minutes=1))
    materialize_ranges(defs, instance, [(warm[0], warm[-1])], selection=["bars", "bars_quarantine"])
    materialize_ranges(defs, instance, [(minutes[0] - timedelta(minutes=30), minutes[0] - timedelta(minutes=1))])
    store = open_warehouse(settings.warehouse_path, None, None)

    walls, computes, with_io, steps = [], [], [], {}
    for minute in minutes:
        started = time.perf_counter()
        result = materialize_ranges(defs, instance, [(minute, minute)])[-1]
        walls.append(time.perf_counter() - started)
        assert result.success, result.run_id
        timed = {"compute": 0.0, "io": 0.0}
        _one_minute(store, minute, timed)
        computes.append(timed["compute"])
        with_io.append(timed["compute"] + timed["io"])
        for step in STEPS:
            steps.setdefault(step, []).append(timed.get(step, 0.0))
    return {"tickers": n_tickers, "run_wall_s": walls, "compute_s": computes, "compute_io_s": with_io, "steps_s": steps}


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
    return {"tickers": n_tickers, "run_wall_s": wall, "minutes": len(session),
            "events": len(instance.all_logs(result.run_id)),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _child(kind: str, n_tickers: int, repeats: int) -> dict:
    out = Path(tempfile.mkstemp(suffix=".json")[1])
    command = [sys.executable, __file__, "--child", kind, "--tickers", str(n_tickers), "--repeats", str(repeats), "--out", str(out)]
    subprocess.run(command, check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return json.loads(out.read_text())


def run(quick: bool = False, tickers: tuple[int, ...] = (7, 500, 5000), repeats: int | None = None,
        backfill: bool = True) -> list[Row]:
    repeats = repeats or (2 if quick else 5)
    tickers = (7, 500) if quick else tickers
    rows = []
    for n in tickers:
        record = _child("minute", n, repeats)
        target = f"< {COMPUTE_TARGET_S * 1000:.0f} ms" if n == 5000 else "-"
        met = sorted(record["compute_s"])[len(record["compute_s"]) // 2] < COMPUTE_TARGET_S if n == 5000 else None
        rows += [
            Row("minute tick", f"{n:,} tickers: compute (all assets, data in memory)", record["compute_s"], target=target,
                met=met, note=f"each asset's work and contract check, medians: {_step_medians(record)}"),
            Row("minute tick", f"{n:,} tickers: compute + warehouse reads and writes", record["compute_io_s"],
                note="adds the trailing-bar reads and one replace per table"),
            Row("minute tick", f"{n:,} tickers: Dagster run wall (in process)", record["run_wall_s"],
                note="execute_in_process: source, assets, checks, event log"),
        ]
    if backfill and not quick:
        floor = _child("backfill", 50, 1)
        record = _child("backfill", 5000, 1)
        rows += [
            Row("backfill", "one session, 5,000 tickers, one run: wall", [record["run_wall_s"]],
                target=f"< {BACKFILL_TARGET_S:.0f} s", met=record["run_wall_s"] < BACKFILL_TARGET_S,
                note=f"{record['minutes']} minutes, single-run backfill in process"),
            Row("backfill", "one session, 5,000 tickers, one run: peak RSS", [record["peak_rss_mb"]], unit="MB",
                target=f"< {BACKFILL_TARGET_MB / 1024:.0f} GB", met=record["peak_rss_mb"] < BACKFILL_TARGET_MB,
                note="ru_maxrss of the process (includes the untimed warm-up)"),
            Row("backfill", "same session, 50 tickers: wall", [floor["run_wall_s"]],
                note=f"Dagster's own cost of {floor['minutes']} partitions: {floor['events']:,} events in SQLite"),
        ]
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickers", default="7,500,5000")
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--skip-backfill", action="store_true")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", choices=["minute", "backfill"])
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    if args.child:
        n = int(args.tickers)
        record = case_minute(n, args.repeats) if args.child == "minute" else case_backfill(n)
        Path(args.out).write_text(json.dumps(record))
        return
    rows = run(args.quick, tuple(int(n) for n in args.tickers.split(",")), args.repeats, not args.skip_backfill)
    print(write_results("minute_run", rows).read_text())


if __name__ == "__main__":
    main()

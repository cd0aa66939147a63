"""PostgreSQL warehouse write throughput of lane_features (issue target: >= 0.5M rows/s).

    .venv/bin/python benchmarks/bench_postgres.py [--url postgresql://...] [--tickers 5000] [--repeats 3]

Writes one synthetic session's lane_features (5,000 tickers: 1,705,000 rows) with
PostgresWarehouse.replace, i.e. the production path: Arrow -> binary COPY into a staging
table (ADBC) -> one transaction deleting the window and inserting with casts (NUMERIC,
JSONB). Also times the per-minute replace (5,000 rows), which a live minute run does.
Each repeat replaces the same window, so it includes the delete of the previous copy.
A scratch database is created and dropped. Results: benchmarks/results/postgres.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
SESSION = date(2026, 11, 23)


def _scratch_database(admin: str) -> str:
    import psycopg2

    name = f"vp_bench_{uuid.uuid4().hex[:8]}"
    connection = psycopg2.connect(admin)
    connection.autocommit = True
    connection.cursor().execute(f'CREATE DATABASE "{name}"')
    connection.close()
    return admin.rsplit("/", 1)[0] + f"/{name}"


def _drop(admin: str, url: str) -> None:
    import psycopg2

    connection = psycopg2.connect(admin)
    connection.autocommit = True
    connection.cursor().execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    connection.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres", help="admin URL of the server")
    parser.add_argument("--tickers", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    from vol_pipeline.core.features import lane_features
    from vol_pipeline.defs.session_partitions import session_bounds
    from vol_pipeline.sources.synthetic import SyntheticBarSource
    from vol_pipeline.storage.migrate import upgrade
    from vol_pipeline.storage.postgres_warehouse import PostgresWarehouse

    tickers = tuple(f"T{i:04d}" for i in range(args.tickers))
    bars = SyntheticBarSource(tickers=tickers, seed=7, missing_minute_rate=0.0).session_bars(SESSION)
    features = lane_features(bars)
    first_bar, close = session_bounds(SESSION)
    minute = features["ts"].max()
    one_minute = features.filter(features["ts"] == minute)

    url = _scratch_database(args.url)
    try:
        upgrade(url)
        warehouse = PostgresWarehouse(url)
        session_s, minute_s = [], []
        for _ in range(args.repeats):
            started = time.perf_counter()
            warehouse.replace("lane_features", features, first_bar, close)
            session_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            warehouse.replace("lane_features", one_minute, minute, minute + timedelta(minutes=1))
            minute_s.append(time.perf_counter() - started)
        stored = warehouse.read("lane_features", first_bar, close).height
    finally:
        _drop(args.url, url)

    session_median, minute_median = statistics.median(session_s), statistics.median(minute_s)
    result = {
        "rows": features.height, "stored_rows": stored, "repeats": args.repeats,
        "session_replace_s": session_median, "rows_per_s": features.height / session_median,
        "minute_rows": one_minute.height, "minute_replace_s": minute_median,
        "target_rows_per_s": 500_000, "met": features.height / session_median >= 500_000,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "postgres.json").write_text(json.dumps(result, indent=2))
    table = (
        "| what | median | rows/s |\n|---|---|---|\n"
        f"| lane_features session replace, {features.height:,} rows | {session_median:.2f} s | {result['rows_per_s'] / 1e6:.2f}M |\n"
        f"| lane_features minute replace, {one_minute.height:,} rows | {minute_median * 1000:.0f} ms | "
        f"{one_minute.height / minute_median / 1e6:.2f}M |\n"
    )
    (RESULTS / "postgres.md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()

"""PostgreSQL warehouse write throughput of lane_features (target: >= 80% of the floor below).

    .venv/bin/python benchmarks/bench_postgres.py [--url postgresql://...] [--tickers 5000] [--repeats 3]

Writes one synthetic session's lane_features (5,000 tickers: 1,705,000 rows) with
PostgresWarehouse.replace, i.e. the production path: lane_features is partitioned by UTC
day, so a session is COPYed into a new table, indexed and swapped in as the day's partition
in one transaction (storage/postgres_partitions.py). Each repeat replaces the same window,
so it includes dropping the previous copy; the first write into the empty window is its
own row. The per-minute replace (5,000 rows: delete + insert into the partition) is what a
live minute run does.

The "floor" rows say what this server can do at best with the same rows, without the
replace semantics: the COPY alone into a bare table, the server-side insert into a bare
table, and the COPY plus building the contract's two indexes afterwards (primary key
(ts, ticker) and idx_lane_features_volume). A scratch database is created
and dropped. The session rows are judged against the last floor, measured in the same run:
>= 80% of its rows/s. Results: benchmarks/results/postgres.{json,md}.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Row, write_results  # noqa: E402

SESSION = date(2026, 11, 23)
FLOOR_SHARE = 0.8  # of "COPY, then building both indexes", measured in the same run
ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"


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


def _timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _floor(url: str, rows) -> dict[str, float]:
    """Seconds of each bulk step on a bare table shaped like lane_features (no replace)."""
    import adbc_driver_postgresql.dbapi as adbc

    arrow = rows.to_arrow()
    with adbc.connect(url) as connection, connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS floor_copy")
        cursor.execute("DROP TABLE IF EXISTS floor_insert")
        connection.commit()
        steps = {"copy": _timed(lambda: (cursor.adbc_ingest("floor_copy", arrow, mode="create"), connection.commit()))}
        cursor.execute("CREATE TABLE floor_insert (LIKE lane_features INCLUDING DEFAULTS)")
        connection.commit()
        columns = ", ".join(f'"{c}"' for c in rows.columns)
        steps["insert"] = _timed(lambda: (cursor.execute(
            f"INSERT INTO floor_insert ({columns}) SELECT {columns} FROM floor_copy"), connection.commit()))
        steps["indexes"] = _timed(lambda: (
            cursor.execute("ALTER TABLE floor_insert ADD PRIMARY KEY (ts, ticker)"),
            cursor.execute("CREATE INDEX ON floor_insert (ticker, ts, volume_ratio)"), connection.commit()))
        cursor.execute("DROP TABLE floor_copy")
        cursor.execute("DROP TABLE floor_insert")
        connection.commit()
    return steps


def run(quick: bool = False, url: str = ADMIN_URL, n_tickers: int | None = None, repeats: int | None = None) -> list[Row]:
    from vol_pipeline.core.features import lane_features
    from vol_pipeline.defs.session_partitions import session_bounds
    from vol_pipeline.sources.synthetic import SyntheticBarSource
    from vol_pipeline.storage.migrate import upgrade
    from vol_pipeline.storage.postgres_warehouse import PostgresWarehouse
    from vol_pipeline.storage.tables import table

    n_tickers = n_tickers or (500 if quick else 5000)
    repeats = repeats or (2 if quick else 3)
    tickers = tuple(f"T{i:04d}" for i in range(n_tickers))
    bars = SyntheticBarSource(tickers=tickers, seed=7, missing_minute_rate=0.0).session_bars(SESSION)
    columns = table("lane_features").columns
    features = lane_features(bars).select(list(columns)).cast(columns)
    first_bar, close = session_bounds(SESSION)
    minute = features["ts"].max()
    one_minute = features.filter(features["ts"] == minute)

    scratch = _scratch_database(url)
    try:
        upgrade(scratch)
        warehouse = PostgresWarehouse(scratch)
        first = [_timed(lambda: warehouse.replace("lane_features", features, first_bar, close))]
        replace_s, minute_s, floors = [], [], []
        for _ in range(repeats):
            replace_s.append(_timed(lambda: warehouse.replace("lane_features", features, first_bar, close)))
            minute_s.append(_timed(lambda: warehouse.replace("lane_features", one_minute, minute, minute + timedelta(minutes=1))))
            floors.append(_floor(scratch, features))
        stored = warehouse.read("lane_features", first_bar, close).height
    finally:
        _drop(url, scratch)
    assert stored == features.height, (stored, features.height)

    n = features.height

    floor = statistics.median(n / (f["copy"] + f["indexes"]) for f in floors)

    def throughput(name: str, samples: list[float], target: bool, note: str) -> Row:
        rates = [n / s for s in samples]
        met = statistics.median(rates) >= FLOOR_SHARE * floor if target else None
        goal = f">= {FLOOR_SHARE:.0%} of the floor ({FLOOR_SHARE * floor / 1e6:.2f}M rows/s)" if target else "-"
        return Row("postgres write", name, rates, unit="rows/s", target=goal, met=met, note=note,
                   extra={"rows": n, "seconds": samples})

    rows = [
        throughput(f"lane_features session write into an empty window, {n:,} rows", first, True,
                   "production path: COPY into a new partition, index, swap in; one sample"),
        throughput(f"lane_features session replace, {n:,} rows", replace_s, True,
                   "production path incl. deleting the previous copy"),
        Row("postgres write", f"lane_features minute replace, {one_minute.height:,} rows", minute_s,
            note="what a live minute run writes"),
        throughput("floor: binary COPY into a bare table", [f["copy"] for f in floors], False, "ADBC, no indexes, no casts"),
        throughput("floor: server-side insert into a bare table", [f["insert"] for f in floors], False,
                   "INSERT SELECT from the copied rows, no indexes"),
        throughput("floor: COPY, then building both indexes", [f["copy"] + f["indexes"] for f in floors],
                   False, "the bulk-load best case on this server (a fresh table, no replace)"),
    ]
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default=ADMIN_URL, help="admin URL of the server")
    parser.add_argument("--tickers", type=int)
    parser.add_argument("--repeats", type=int)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    rows = run(args.quick, args.url, args.tickers, args.repeats)
    print(write_results("postgres", rows).read_text())


if __name__ == "__main__":
    main()

"""The whole benchmark suite: one command, one JSON and one markdown table.

    .venv/bin/python benchmarks/run_all.py            # everything (~40 min; latency alone ~21 min)
    .venv/bin/python benchmarks/run_all.py --quick    # smoke run of every benchmark
    .venv/bin/python benchmarks/run_all.py --only kernel,postgres

Runs each benchmark in turn (never two at once: on 2 cores they would slow each other),
then writes benchmarks/results/suite.json (every sample, the machine, per-benchmark wall)
and benchmarks/results/suite.md (the table the README quotes). A benchmark that fails is
reported in the table and makes the exit status 1; the others still run.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS_DIR, Row, markdown_table, write_results  # noqa: E402

# name -> module; each module has run(quick: bool) -> list[Row]
BENCHMARKS = {
    "kernel": "bench_features",
    "minute": "bench_minute_run",
    "latency": "bench_latency",
    "postgres": "bench_postgres",
    "partitions": "bench_partition_scale",
    "fetch": "bench_fetch",
    "classify": "bench_classify",
    "retention": "bench_retention",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: small sizes, few repeats")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(BENCHMARKS)}")
    args = parser.parse_args(argv)
    chosen = args.only.split(",") if args.only else list(BENCHMARKS)
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")

    rows: list[Row] = []
    walls, failures = {}, {}
    for name in chosen:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        try:
            new_rows = importlib.import_module(BENCHMARKS[name]).run(args.quick)
        except Exception:  # noqa: BLE001 - one failed benchmark must not hide the others
            failures[name] = traceback.format_exc()
            print(failures[name], file=sys.stderr)
            new_rows = [Row(name, "FAILED (see suite.json)", [float("nan")], note="the benchmark raised")]
        walls[name] = round(time.perf_counter() - started, 1)
        print(markdown_table(new_rows), flush=True)
        rows += new_rows

    path = write_results("suite", rows, {"quick": args.quick, "benchmark_wall_s": walls, "failures": failures})
    print(f"\n{path.read_text()}\nwritten to {path} and {RESULTS_DIR / 'suite.json'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

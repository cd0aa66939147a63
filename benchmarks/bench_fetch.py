"""`vol-pipeline fetch` of a month of minute bars from a loopback Alpaca server.

    .venv/bin/python benchmarks/bench_fetch.py            # a month of the seed's 7 tickers, and of 100 tickers
    .venv/bin/python benchmarks/bench_fetch.py --quick    # one week of 7 tickers

The server is the tests' `vol_pipeline_tests.fake_alpaca` (Alpaca's documented bodies and
pagination, 10,000 bars per page at most) on 127.0.0.1 in this process, holding synthetic bars
(`SyntheticBarSource`, seed 7) of every NYSE session of the month. What is timed is the real
command as a user runs it (`vol-pipeline fetch ... --out FILE.parquet`, a fresh process: imports,
one request series per session, validation, the file written). rows/s = bars written / wall;
pages/s = answers served / wall. The server shares the 2 cores with the command, so the figures
include serving JSON (the real API's network time is not modelled).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, Row, write_results  # noqa: E402

sys.path.insert(0, str(ROOT))  # vol_pipeline_tests.fake_alpaca

VOL_PIPELINE = ROOT / ".venv" / "bin" / "vol-pipeline"
MONTH = (date(2026, 10, 1), date(2026, 10, 30))  # 22 NYSE sessions
WEEK = (date(2026, 10, 5), date(2026, 10, 9))


def _tickers(count: int) -> tuple[str, ...]:
    from vol_pipeline.core.config import DEFAULT_TICKERS

    return DEFAULT_TICKERS if count == len(DEFAULT_TICKERS) else tuple(f"T{i:04d}" for i in range(count))


def measure(n_tickers: int, first: date, last: date, repeats: int) -> Row:
    import polars as pl

    from vol_pipeline.core.calendar import session_hours
    from vol_pipeline.sources.synthetic import SyntheticBarSource
    from vol_pipeline_tests.fake_alpaca import FakeAlpaca

    tickers = _tickers(n_tickers)
    sessions = session_hours(first, last)
    bars = pl.concat(SyntheticBarSource(tickers=tickers, seed=7).fetch(open_utc, close_utc)
                     for _, open_utc, close_utc in sessions.iter_rows())
    samples, pages, rows = [], 0, 0
    with FakeAlpaca("bench-key-id", "bench-secret-key") as alpaca, tempfile.TemporaryDirectory() as tmp:
        alpaca.publish_frame(bars)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("VOL_PIPELINE_", "APCA_"))}
        env.update(VOL_PIPELINE_ALPACA_DATA_URL=alpaca.url, APCA_API_KEY_ID="bench-key-id",
                   APCA_API_SECRET_KEY="bench-secret-key", VOL_PIPELINE_HOME=str(Path(tmp) / "home"))
        out = Path(tmp) / "month.parquet"
        for _ in range(repeats):
            served = len(alpaca.requests)
            started = time.perf_counter()
            done = subprocess.run([str(VOL_PIPELINE), "fetch", "--tickers", ",".join(tickers), "--start", str(first),
                                   "--end", str(last), "--out", str(out)], env=env, capture_output=True, text=True)
            samples.append(time.perf_counter() - started)
            if done.returncode != 0:
                raise RuntimeError(f"fetch exited {done.returncode}: {done.stderr.strip()}")
            pages = len(alpaca.requests) - served
            rows = pl.read_parquet(out).height
    if rows != bars.height:
        raise RuntimeError(f"fetch wrote {rows} bars, the server holds {bars.height}")
    wall = sorted(samples)[len(samples) // 2]
    return Row("fetch", f"{n_tickers} tickers x {sessions.height} sessions ({rows:,} bars, {pages} pages)", samples,
               note=f"{rows / wall:,.0f} rows/s, {pages / wall:.1f} pages/s (median wall, fresh process)",
               extra={"bars": rows, "pages": pages, "sessions": sessions.height, "rows_per_s": rows / wall,
                      "pages_per_s": pages / wall})


def run(quick: bool = False) -> list[Row]:
    if quick:
        return [measure(7, *WEEK, repeats=1)]
    return [measure(7, *MONTH, repeats=3), measure(100, *MONTH, repeats=3)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    print(write_results("fetch", run(args.quick)).read_text())


if __name__ == "__main__":
    main()

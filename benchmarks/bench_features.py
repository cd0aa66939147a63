"""Benchmark of the lane_features kernel against pandas and a per-ticker loop, in one run.

    .venv/bin/python benchmarks/bench_features.py            # 5,000 tickers x 390 bars
    .venv/bin/python benchmarks/bench_features.py --quick    # 500 tickers, 2 repeats (smoke run)

Every figure is the median of repeated runs after one untimed warm-up, and every baseline
is measured in the same run on the same bars. bars/s always counts *input* bars (the
kernel emits fewer rows: none for a ticker's first 49 bars). The per-ticker loop runs on
a subset of tickers and its bars/s is that subset's; every ticker costs the same there,
so the figure scales to the full set. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import polars as pl
import pyarrow

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))  # the reference implementations sit beside this file

from pandas_reference import pandas_lane_features  # noqa: E402
from per_ticker_reference import per_ticker_lane_features  # noqa: E402

from vol_pipeline.core.features import lane_features  # noqa: E402
from vol_pipeline.sources.synthetic import SyntheticBarSource  # noqa: E402

SESSION = date(2026, 11, 23)  # a full NYSE session: 390 one-minute bars
KERNEL_TARGET_BARS_PER_S = 10_000_000
PROCESS_TARGET_SPEEDUP = 5.0
SUITE_SPEEDUP_TARGET = 25.0  # the benchmark suite's kernel target against vectorised pandas
TOLERANCE = 1e-9  # max abs difference allowed on float columns
FLOAT_COLUMNS = ("close", "sma20", "sma50", "recent_vol", "baseline_vol", "vol_ratio",
                 "distance_sma20", "distance_sma50", "volume_ratio")
EXACT_COLUMNS = ("trend_state", "volume_current", "volume_avg_20", "volume_surge")
BUSY_SHARE = 0.05  # a run is flagged as disturbed when other processes took more of the CPU time
RESULTS_DIR = BENCH_DIR / "results"
VOL_PIPELINE = ROOT / ".venv" / "bin" / "vol-pipeline"
PYTHON = ROOT / ".venv" / "bin" / "python"


@dataclass
class Measurement:
    name: str
    seconds: list[float]  # one wall-clock time per timed repeat
    bars: int  # input bars of one repeat
    baseline: str | None = None  # name of the measurement the speedup is relative to
    target: str = "-"
    note: str = ""
    met: bool | None = None
    speedup: float | None = None

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)

    @property
    def bars_per_s(self) -> float:
        return self.bars / self.median_s


@dataclass
class Stage:
    process: str
    stage: str
    seconds: list[float]

    @property
    def median_s(self) -> float:
        return statistics.median(self.seconds)


@dataclass
class Agreement:
    name: str
    rows_compared: int
    same_rows: bool  # same (ticker, ts) keys in the same order
    max_abs_diff: dict[str, float] = field(default_factory=dict)
    mismatches: dict[str, int] = field(default_factory=dict)  # exact columns and null positions

    @property
    def ok(self) -> bool:
        return (self.same_rows and all(d <= TOLERANCE for d in self.max_abs_diff.values())
                and not any(self.mismatches.values()))


# --- data -----------------------------------------------------------------------------

def make_bars(n_tickers: int) -> pl.DataFrame:
    """One full session for tickers T0000.., no missing minutes: exactly n_tickers x 390 bars."""
    tickers = tuple(f"T{i:04d}" for i in range(n_tickers))
    source = SyntheticBarSource(tickers=tickers, seed=7, missing_minute_rate=0.0)
    bars = source.generate(SESSION, 1)
    assert bars.height == n_tickers * 390, bars.height
    return bars


# --- timing ---------------------------------------------------------------------------

def timed(fn: Callable[[], object], repeats: int, warmup: int = 1) -> list[float]:
    """Wall-clock seconds of `repeats` calls, after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        gc.collect()  # a collection left over from the previous call must not land in this one
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def timed_interleaved(fns: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Like `timed`, but the functions take turns (A B A B ...), so a burst of load from
    other processes hits all of them alike instead of one baseline."""
    for fn in fns.values():
        fn()  # warm-up
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name] += timed(fn, 1, warmup=0)
    return times


def run_process(command: list[str]) -> None:
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} exited {done.returncode}: {done.stderr.strip()}")


# --- agreement ------------------------------------------------------------------------

def compare(name: str, kernel: pl.DataFrame, other: pl.DataFrame) -> Agreement:
    """Column-by-column agreement of another implementation's rows with the kernel's."""
    kernel = kernel.sort("ticker", "ts")
    other = other.with_columns(pl.col("ts").cast(kernel.schema["ts"])).sort("ticker", "ts")
    same_rows = kernel.height == other.height and kernel.select("ticker", "ts").equals(other.select("ticker", "ts"))
    result = Agreement(name, kernel.height, same_rows)
    if not same_rows:
        return result
    for column in FLOAT_COLUMNS:
        a, b = kernel[column].cast(pl.Float64), other[column].cast(pl.Float64)
        result.max_abs_diff[column] = float((a - b).abs().max() or 0.0)
        result.mismatches[f"{column} nulls"] = int((a.is_null() != b.is_null()).sum())
    for column in EXACT_COLUMNS:
        a, b = kernel[column].cast(pl.Int64), other[column].cast(pl.Int64)
        result.mismatches[column] = int((a.ne_missing(b)).sum())
    return result


# --- the measurements -----------------------------------------------------------------

def bench_in_process(bars: pl.DataFrame, args: argparse.Namespace) -> tuple[list[Measurement], list[Agreement]]:
    n = bars.height
    shuffled = bars.sample(fraction=1.0, shuffle=True, seed=1)
    bars_pd = bars.to_pandas()
    loop_tickers = [f"T{i:04d}" for i in range(min(args.loop_tickers, bars["ticker"].n_unique()))]
    loop_bars = bars_pd[bars_pd["ticker"].isin(loop_tickers)].reset_index(drop=True)

    print(f"  polars kernel (sorted, shuffled) and pandas groupby-rolling, interleaved ({args.repeats} repeats)",
          flush=True)
    times = timed_interleaved({"sorted": lambda: lane_features(bars), "shuffled": lambda: lane_features(shuffled),
                               "pandas": lambda: pandas_lane_features(bars_pd)}, args.repeats)
    print(f"  polars kernel, sorted input, back to back ({args.repeats} repeats)", flush=True)
    back_to_back = timed(lambda: lane_features(bars), args.repeats)
    print(f"  per-ticker loop on {len(loop_tickers)} tickers ({args.loop_repeats} repeats)", flush=True)
    loop_times = timed(lambda: per_ticker_lane_features(loop_bars), args.loop_repeats,
                       warmup=0)  # seconds per call: a warm-up would only add minutes

    pandas_name = "pandas groupby-rolling"
    measurements = [
        Measurement("polars kernel `lane_features` (sorted input)", times["sorted"], n, pandas_name,
                    target=f">= {KERNEL_TARGET_BARS_PER_S / 1e6:.0f}M bars/s",
                    note="takes turns with pandas, so it starts with released memory, as a one-off call does"),
        Measurement("polars kernel `lane_features` (sorted input, back to back)", back_to_back, n, pandas_name,
                    note="repeats in a row: the allocator reuses its pages (fewer page faults); for information"),
        Measurement("polars kernel `lane_features` (shuffled input)", times["shuffled"], n, pandas_name,
                    note="includes the kernel's sort by (ticker, ts)"),
        Measurement(pandas_name, times["pandas"], n, pandas_name),
        Measurement("per-ticker loop (original style)", loop_times, len(loop_bars), pandas_name,
                    note=f"{len(loop_tickers)} of {bars['ticker'].n_unique()} tickers ({len(loop_bars):,} bars); "
                         f"bars/s scales to the full set"),
    ]

    kernel_out = lane_features(bars)
    agreements = [
        compare("pandas groupby-rolling vs kernel", kernel_out, pl.from_pandas(pandas_lane_features(bars_pd))),
        compare(f"per-ticker loop vs kernel ({len(loop_tickers)} tickers)",
                kernel_out.filter(pl.col("ticker").is_in(loop_tickers)),
                pl.from_pandas(per_ticker_lane_features(loop_bars))),
        compare("kernel on shuffled input vs sorted", kernel_out, lane_features(shuffled)),
    ]
    return measurements, agreements


def bench_processes(bars: pl.DataFrame, args: argparse.Namespace,
                    workdir: Path) -> tuple[list[Measurement], list[Agreement], list[Stage]]:
    """Whole processes: Parquet in, Parquet out, interpreter start-up and imports included."""
    bars_file = workdir / "bars.parquet"
    bars.write_parquet(bars_file)
    polars_out, pandas_out = workdir / "features_polars.parquet", workdir / "features_pandas.parquet"
    polars_cmd = [str(VOL_PIPELINE), "features", "--bars", str(bars_file), "--out", str(polars_out)]
    pandas_cmd = [str(PYTHON), str(BENCH_DIR / "pandas_features_cli.py"), "--bars", str(bars_file), "--out", str(pandas_out)]

    print(f"  vol-pipeline features and pandas processes, interleaved ({args.process_repeats} repeats)", flush=True)
    times = timed_interleaved({"polars": lambda: run_process(polars_cmd), "pandas": lambda: run_process(pandas_cmd)},
                              args.process_repeats)

    pandas_name = "pandas process (`benchmarks/pandas_features_cli.py`)"
    measurements = [
        Measurement("`vol-pipeline features` process", times["polars"], bars.height, pandas_name,
                    target=f">= {PROCESS_TARGET_SPEEDUP:g}x pandas process",
                    note="validates every row; Parquet in and out"),
        Measurement(pandas_name, times["pandas"], bars.height, pandas_name, note="no row validation; Parquet in and out"),
    ]
    agreement = compare("pandas process output vs vol-pipeline output",
                        pl.read_parquet(polars_out), pl.read_parquet(pandas_out))
    stages = bench_stages(bars_file, workdir, args.process_repeats)
    return measurements, [agreement], stages


def bench_stages(bars_file: Path, workdir: Path, repeats: int) -> list[Stage]:
    """Where a whole process spends its time: each step of both commands, timed in this process.

    Start-up is a bare interpreter importing what the command imports; the other steps
    call the functions the commands call, on the same Parquet file.
    """
    from vol_pipeline.core.bars import validate_bars
    from vol_pipeline.sources.files import read_bar_file, write_frame

    raw = read_bar_file(bars_file)
    valid = validate_bars(raw).valid
    features = lane_features(valid)
    raw_pd = pd.read_parquet(bars_file)
    features_pd = pandas_lane_features(raw_pd)
    polars_imports = "import polars, vol_pipeline.cli, vol_pipeline.core.bars, vol_pipeline.core.features, vol_pipeline.sources.files"
    pandas_imports = f"import sys; sys.path.insert(0, {str(BENCH_DIR)!r}); import pandas, pyarrow, pandas_reference"
    steps = [
        ("vol-pipeline features", "interpreter start + imports", lambda: run_process([str(PYTHON), "-c", polars_imports])),
        ("vol-pipeline features", "read Parquet", lambda: read_bar_file(bars_file)),
        ("vol-pipeline features", "validate_bars", lambda: validate_bars(raw)),
        ("vol-pipeline features", "lane_features", lambda: lane_features(valid)),
        ("vol-pipeline features", "write Parquet", lambda: write_frame(features, workdir / "stage_polars.parquet")),
        ("pandas process", "interpreter start + imports", lambda: run_process([str(PYTHON), "-c", pandas_imports])),
        ("pandas process", "read Parquet", lambda: pd.read_parquet(bars_file)),
        ("pandas process", "pandas_lane_features", lambda: pandas_lane_features(raw_pd)),
        ("pandas process", "write Parquet", lambda: features_pd.to_parquet(workdir / "stage_pandas.parquet", index=False)),
    ]
    print(f"  stage breakdown of both processes ({repeats} repeats each)", flush=True)
    return [Stage(process, stage, timed(fn, repeats)) for process, stage, fn in steps]


def judge(measurements: list[Measurement]) -> None:
    """Fill in speedups (by bars/s, so a subset run compares fairly) and the targets met."""
    by_name = {m.name: m for m in measurements}
    for m in measurements:
        m.speedup = m.bars_per_s / by_name[m.baseline].bars_per_s
        if m.target.endswith("bars/s"):
            m.met = m.bars_per_s >= KERNEL_TARGET_BARS_PER_S
        elif m.target.endswith("pandas process"):
            m.met = m.speedup >= PROCESS_TARGET_SPEEDUP


# --- reporting ------------------------------------------------------------------------

def machine() -> dict:
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor() or "unknown")
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "ram_gib": round(mem_kb / 2**20, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "polars": pl.__version__,
        "polars_threads": pl.thread_pool_size(),
        "pandas": pd.__version__,
        "numpy": np.__version__,
        "pyarrow": pyarrow.__version__,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain")),
    }


def load_average() -> float:
    """1-minute load average: other work on a 2-core machine slows every figure here."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def cpu_seconds() -> tuple[float, float]:
    """(busy CPU-seconds of the whole machine, CPU-seconds of this process and its children)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    machine_busy = (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
    own = os.times()
    return machine_busy, own.user + own.system + own.children_user + own.children_system


def wait_until_quiet(max_wait_s: float, sample_s: float = 3.0) -> float:
    """Wait (up to max_wait_s) for a sample in which the machine is under 10% busy; return that share."""
    deadline = time.monotonic() + max_wait_s
    while True:
        busy_before, _ = cpu_seconds()
        time.sleep(sample_s)
        share = (cpu_seconds()[0] - busy_before) / (sample_s * len(os.sched_getaffinity(0)))
        if share < 0.10 or time.monotonic() >= deadline:
            return share


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def _rate(bars_per_s: float) -> str:
    return f"{bars_per_s / 1e6:.2f}M" if bars_per_s >= 1e5 else f"{bars_per_s / 1e3:.1f}k"


def _speedup(ratio: float) -> str:
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.2g}x"  # the loop's ratio is ~0.001


def _disturbed(load: dict) -> bool:
    return load["other_processes_share"] > BUSY_SHARE


def _met(m: Measurement) -> str:
    return "-" if m.met is None else ("yes" if m.met else "**NO**")


def results_table(measurements: list[Measurement]) -> str:
    lines = ["| name | median s | bars/s | speedup vs pandas | target | met? | repeats | note |",
             "|---|---:|---:|---:|---|---|---:|---|"]
    for m in measurements:
        lines.append(f"| {m.name} | {m.median_s:.3f} | {_rate(m.bars_per_s)} | {_speedup(m.speedup)} | {m.target} "
                     f"| {_met(m)} | {len(m.seconds)} | {m.note} |")
    return "\n".join(lines)


def agreement_lines(agreements: list[Agreement]) -> str:
    lines = []
    for a in agreements:
        worst = max(a.max_abs_diff.values(), default=float("nan"))
        bad = {k: v for k, v in a.mismatches.items() if v}
        verdict = "ok" if a.ok else "**DISAGREES**"
        detail = f"max abs diff {worst:.3g} over {len(a.max_abs_diff)} float columns" if a.same_rows else "row keys differ"
        lines.append(f"- {a.name}: {verdict} ({a.rows_compared:,} rows; {detail}; "
                     f"exact-column/null mismatches: {bad or 0})")
    return "\n".join(lines)


def stage_table(stages: list[Stage]) -> str:
    lines = ["| process | stage | median s | share |", "|---|---|---:|---:|"]
    for process in dict.fromkeys(st.process for st in stages):
        own = [st for st in stages if st.process == process]
        total = sum(st.median_s for st in own)
        lines += [f"| {process} | {st.stage} | {st.median_s:.3f} | {st.median_s / total:.0%} |" for st in own]
        lines.append(f"| {process} | **sum of the stages** | **{total:.3f}** | |")
    return "\n".join(lines)


def report(meta: dict, measurements: list[Measurement], agreements: list[Agreement], stages: list[Stage]) -> str:
    m, load = meta["machine"], meta["disturbance"]
    return "\n".join([
        f"## lane_features benchmark, {meta['run_at']}",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB RAM, {m['os']}; "
        f"Python {m['python']}, polars {m['polars']} ({m['polars_threads']} threads), pandas {m['pandas']}, "
        f"numpy {m['numpy']}, pyarrow {m['pyarrow']}; commit {m['git_commit'] or '?'}"
        f"{' (uncommitted changes)' if m['git_dirty'] else ''}.",
        "",
        f"Disturbance: other processes used {load['other_processes_cpu_s']:.1f} CPU-s during the {load['run_wall_s']:.0f} s run "
        f"({load['other_processes_share']:.0%} of the machine; load average {load['load_average_before']:.2f} "
        f"before){' - figures disturbed, re-run on a quiet machine' if _disturbed(load) else ''}.",
        "",
        f"Data: {meta['tickers']:,} tickers x 390 bars = {meta['bars']:,} bars (one synthetic session, "
        f"no missing minutes); bars/s counts input bars. Medians of the repeats, after one warm-up (none for "
        f"the per-ticker loop). The sorted and shuffled kernel runs and pandas take turns (A B C A B C ...), "
        f"and so do the two processes, so that load from elsewhere hits them alike.",
        "",
        results_table(measurements),
        "",
        f"Agreement with the polars kernel (float tolerance {TOLERANCE:g}):",
        "",
        agreement_lines(agreements),
        "",
        "Where the whole processes spend their time (each step timed back to back in the benchmark's "
        "process; the sums differ a little from the process medians):",
        "",
        stage_table(stages),
        "",
    ])


def write_results(meta: dict, measurements: list[Measurement], agreements: list[Agreement], stages: list[Stage],
                  markdown: str) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    payload = {
        **meta,
        "measurements": [{**asdict(m), "median_s": m.median_s, "bars_per_s": m.bars_per_s} for m in measurements],
        "agreements": [{**asdict(a), "ok": a.ok} for a in agreements],
        "stages": [{**asdict(st), "median_s": st.median_s} for st in stages],
    }
    stamp = meta["run_at"].replace(":", "").replace("-", "")
    for stem in (f"bench_features-{stamp}", "latest"):
        (RESULTS_DIR / f"{stem}.json").write_text(json.dumps(payload, indent=2) + "\n")
        (RESULTS_DIR / f"{stem}.md").write_text(markdown)
    return RESULTS_DIR / f"bench_features-{stamp}.md"


# --- main -----------------------------------------------------------------------------

FULL_RUN = {"tickers": 5000, "repeats": 5, "loop_tickers": 50, "loop_repeats": 3, "process_repeats": 3}
QUICK_RUN = {"tickers": 500, "repeats": 2, "loop_tickers": 10, "loop_repeats": 2, "process_repeats": 2}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tickers", type=int, help="tickers x 390 bars (default 5000)")
    parser.add_argument("--repeats", type=int, help="timed repeats of the in-process measurements (default 5)")
    parser.add_argument("--loop-tickers", type=int, help="tickers the per-ticker loop runs on (default 50)")
    parser.add_argument("--loop-repeats", type=int, help="timed repeats of the per-ticker loop (default 3)")
    parser.add_argument("--process-repeats", type=int, help="timed repeats of each whole process (default 3)")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="first wait up to SECONDS for other processes to leave the CPUs idle")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 500 tickers, 2 repeats, loop on 10 tickers (explicit flags still win)")
    args = parser.parse_args(argv)
    defaults = QUICK_RUN if args.quick else FULL_RUN
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    return args


def run(quick: bool = False) -> list:
    """The suite's entry (benchmarks/run_all.py): the measurements as common.Row, bars/s.

    The kernel's target here is the suite's: >= 10M bars/s and >= 25x vectorised pandas."""
    from common import Row

    args = parse_args(["--quick"] if quick else [])
    bars = make_bars(args.tickers)
    measurements, agreements = bench_in_process(bars, args)
    with tempfile.TemporaryDirectory(prefix="bench_features-") as workdir:
        process_measurements, process_agreements, _ = bench_processes(bars, args, Path(workdir))
    measurements += process_measurements
    agreements += process_agreements
    judge(measurements)
    if not all(a.ok for a in agreements):
        raise AssertionError(agreement_lines(agreements))
    rows = []
    for m in measurements:
        row = Row("kernel", m.name, [m.bars / s for s in m.seconds], unit="bars/s", target=m.target, met=m.met,
                  note=m.note, extra={"seconds": m.seconds, "speedup_vs_pandas": m.speedup})
        if m.target.startswith(">= 10M"):
            row.target = ">= 10M bars/s and >= 25x pandas"
            row.met = m.bars_per_s >= KERNEL_TARGET_BARS_PER_S and (m.speedup or 0) >= SUITE_SPEEDUP_TARGET
            row.note = f"{m.speedup:.1f}x pandas; {m.note}"
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    run_at = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if args.wait_quiet:
        print(f"waiting up to {args.wait_quiet:.0f} s for the machine to be quiet", flush=True)
        print(f"  machine {wait_until_quiet(args.wait_quiet):.0%} busy when the run starts", flush=True)
    load_before = load_average()
    start_wall, (start_busy, start_own) = time.perf_counter(), cpu_seconds()
    print(f"generating {args.tickers:,} tickers x 390 bars", flush=True)
    bars = make_bars(args.tickers)

    measurements, agreements = bench_in_process(bars, args)
    with tempfile.TemporaryDirectory(prefix="bench_features-") as workdir:
        process_measurements, process_agreements, stages = bench_processes(bars, args, Path(workdir))
    measurements += process_measurements
    agreements += process_agreements
    judge(measurements)
    wall, (busy, own) = time.perf_counter() - start_wall, cpu_seconds()
    others = max(0.0, (busy - start_busy) - (own - start_own))

    meta = {"run_at": run_at, "tickers": args.tickers, "bars": bars.height, "quick": args.quick,
            "repeats": args.repeats, "machine": machine(),
            "disturbance": {"load_average_before": load_before, "run_wall_s": round(wall, 1),
                            "other_processes_cpu_s": round(others, 1),
                            "other_processes_share": round(others / (wall * len(os.sched_getaffinity(0))), 3)}}
    markdown = report(meta, measurements, agreements, stages)
    print()
    print(markdown)
    print(f"written to {write_results(meta, measurements, agreements, stages, markdown)} (and results/latest.*)")
    return 0 if all(a.ok for a in agreements) else 1


if __name__ == "__main__":
    sys.exit(main())

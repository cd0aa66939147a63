"""What every benchmark of the suite shares: result rows, the machine, the results files.

Each `bench_*.py` exposes `run(quick: bool) -> list[Row]`; `run_all.py` calls them in turn
and writes one JSON and one markdown table. A benchmark may also be run alone, and then
writes `results/<name>.{json,md}` itself through `write_results`.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
PYTHON = ROOT / ".venv" / "bin" / "python"


@dataclass
class Row:
    """One measured figure: the median of `samples` (seconds, or `unit` when given)."""

    benchmark: str  # e.g. "kernel", "minute tick"
    name: str  # what was measured, e.g. "5,000 tickers: compute"
    samples: list[float]  # one value per repeat
    unit: str = "s"
    target: str = "-"  # e.g. "< 0.150 s"; "-" when the row is a baseline or for information
    met: bool | None = None  # None when there is no target
    note: str = ""
    extra: dict = field(default_factory=dict)  # throughput, RSS, counts: anything worth keeping

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def to_json(self) -> dict:
        return {**asdict(self), "median": self.median, "repeats": len(self.samples)}


def machine() -> dict:
    cpu_model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                      if line.startswith("model name")), platform.processor() or "unknown")
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model,
        "ram_gib": round(mem_kb / 2**20, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
    }


def machine_line(info: dict) -> str:
    return (f"{info['cpus']} CPUs ({info['cpu_model']}), {info['ram_gib']} GiB RAM, {info['os']}, "
            f"Python {info['python']}, commit {info['git_commit']}")


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip()


def format_value(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if unit in ("rows/s", "bars/s"):
        return f"{value / 1e6:.2f}M {unit}" if value >= 1e5 else f"{value / 1e3:.1f}k {unit}"
    return f"{value:,.1f} {unit}"


def markdown_table(rows: list[Row]) -> str:
    lines = ["| benchmark | measured | median | target | met? | repeats | note |",
             "|---|---|---:|---|---|---:|---|"]
    for row in rows:
        met = "-" if row.met is None else ("yes" if row.met else "**NO**")
        lines.append(f"| {row.benchmark} | {row.name} | {format_value(row.median, row.unit)} | {row.target} | "
                     f"{met} | {len(row.samples)} | {row.note} |")
    return "\n".join(lines)


def write_results(stem: str, rows: list[Row], extra: dict | None = None) -> Path:
    """results/<stem>.json and .md; returns the markdown path."""
    info = machine()
    RESULTS_DIR.mkdir(exist_ok=True)
    payload = {"machine": info, "rows": [row.to_json() for row in rows], **(extra or {})}
    (RESULTS_DIR / f"{stem}.json").write_text(json.dumps(payload, indent=2, default=str) + "\n")
    markdown = f"Machine: {machine_line(info)}\n\n{markdown_table(rows)}\n"
    path = RESULTS_DIR / f"{stem}.md"
    path.write_text(markdown)
    return path

"""The pandas baseline as a whole process: Parquet in, pandas_lane_features, Parquet out.

The counterpart of `vol-pipeline features --bars IN --out OUT` for the whole-process
comparison. It does no row validation (the vol-pipeline command validates every row),
so the comparison, if anything, favours pandas.

    .venv/bin/python benchmarks/pandas_features_cli.py --bars bars.parquet --out features.parquet
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))  # pandas_reference sits beside this file
from pandas_reference import pandas_lane_features  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="lane_features with pandas (benchmark baseline)")
    parser.add_argument("--bars", required=True, help="bar file (.parquet)")
    parser.add_argument("--out", required=True, help="output file (.parquet)")
    args = parser.parse_args(argv)

    bars = pd.read_parquet(args.bars)
    features = pandas_lane_features(bars)
    features.to_parquet(args.out, index=False)
    print(f"wrote {len(features)} lane_features rows from {len(bars)} bars to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

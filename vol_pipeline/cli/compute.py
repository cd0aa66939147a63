"""The `vol-pipeline` command.

Pure-compute commands import only polars and the core layer (no Dagster, no pandera),
so they start fast. Bad input ends in one line on stderr and a non-zero exit:
2 = the input cannot be used at all; 1 = some rows were rejected (the valid rows were
still processed and the rejected ones were written next to the output with their reason).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

EXIT_REJECTED_ROWS = 1
EXIT_BAD_INPUT = 2


class CliError(Exception):
    def __init__(self, message: str, code: int = EXIT_BAD_INPUT):
        super().__init__(message)
        self.code = code


def _features(args: argparse.Namespace) -> str:
    from vol_pipeline.core.bars import validate_bars
    from vol_pipeline.core.config import FeatureConfig
    from vol_pipeline.core.errors import BadInputError
    from vol_pipeline.core.features import lane_features
    from vol_pipeline.sources.files import read_bar_file, sidecar_path, write_frame

    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise CliError(f"--out {out}: unsupported file type {out.suffix or '(none)'!r}; use .csv or .parquet")
    try:
        validation = validate_bars(read_bar_file(args.bars))
    except BadInputError as error:
        message = str(error)
        raise CliError(message if message.startswith(str(args.bars)) else f"{args.bars}: {message}") from None
    features = lane_features(validation.valid, FeatureConfig(volume_prior_bars=args.prior_20))
    write_frame(features, out)
    rejected_path = sidecar_path(out, "rejected")
    if validation.rejected.height:
        write_frame(validation.rejected, rejected_path)
        raise CliError(
            f"{args.bars}: {validation.summary()}; rejected rows with reasons in {rejected_path}; "
            f"{features.height} lane_features rows from the {validation.valid.height} valid bars written to {out}",
            EXIT_REJECTED_ROWS,
        )
    rejected_path.unlink(missing_ok=True)  # a stale sidecar from an earlier run would mislead
    tickers = features["ticker"].n_unique()
    note = f" (ignored columns: {', '.join(validation.ignored_columns)})" if validation.ignored_columns else ""
    return f"wrote {features.height} lane_features rows for {tickers} tickers from {validation.valid.height} bars to {out}{note}"


def _generate(args: argparse.Namespace) -> str:
    from vol_pipeline.sources.files import write_frame
    from vol_pipeline.sources.synthetic import SyntheticBarSource

    tickers = tuple(t.strip().upper() for t in args.tickers.split(",") if t.strip())
    if not tickers:
        raise CliError("--tickers: give at least one ticker, e.g. AAPL,MSFT")
    if args.days < 1:
        raise CliError("--days: must be >= 1")
    bars = SyntheticBarSource(tickers=tickers, seed=args.seed).generate(args.start, args.days)
    write_frame(bars, args.out)
    sessions = bars["ts"].dt.convert_time_zone("America/New_York").dt.date().n_unique()
    return f"wrote {bars.height} bars for {len(tickers)} tickers over {sessions} NYSE sessions to {args.out}"


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vol-pipeline", description="Intraday equity volume signals.")
    commands = parser.add_subparsers(dest="command", required=True)

    features = commands.add_parser("features", help="compute lane_features for a CSV/Parquet bar file")
    features.add_argument("--bars", required=True, help="bar file (.csv or .parquet)")
    features.add_argument("--out", required=True, help="output file (.csv or .parquet)")
    features.add_argument("--prior-20", action="store_true", help="average the 20 bars BEFORE the current one")
    features.set_defaults(run=_features)

    generate = commands.add_parser("generate", help="write deterministic synthetic NYSE bars")
    generate.add_argument("--tickers", default="AAPL,MSFT,TSLA,GOOGL,AMZN,META,NVDA")
    generate.add_argument("--start", type=_iso_date, required=True, help="first session on or after this date")
    generate.add_argument("--days", type=int, default=1, help="number of sessions")
    generate.add_argument("--seed", type=int, default=7)
    generate.add_argument("--out", required=True, help="output file (.csv or .parquet)")
    generate.set_defaults(run=_generate)
    return parser


def main(argv: list[str] | None = None) -> int:
    from vol_pipeline.core.errors import BadInputError

    args = build_parser().parse_args(argv)
    try:
        print(args.run(args))
    except CliError as error:
        print(f"error: {error}", file=sys.stderr)
        return error.code
    except BadInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


if __name__ == "__main__":
    sys.exit(main())

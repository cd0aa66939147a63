"""Pure-compute commands: `features` and `generate` (polars and the core layer only)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vol_pipeline.cli.errors import EXIT_REJECTED_ROWS, CliError
from vol_pipeline.core.config import parse_tickers


def features(args: argparse.Namespace) -> str:
    from vol_pipeline.core.bars import validate_bars
    from vol_pipeline.core.config import FeatureConfig
    from vol_pipeline.core.errors import BadInputError
    from vol_pipeline.core.features import lane_features
    from vol_pipeline.sources.files import read_bar_file, sidecar_path, write_frame

    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise CliError(f"--out {out}: unsupported file type {out.suffix or '(none)'!r}; use .csv or .parquet")
    try:
        watchlist = frozenset(parse_tickers(args.tickers or "")) or None
        validation = validate_bars(read_bar_file(args.bars), allowed_tickers=watchlist)
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


def generate(args: argparse.Namespace) -> str:
    from vol_pipeline.sources.files import write_frame
    from vol_pipeline.sources.synthetic import SyntheticBarSource

    tickers = parse_tickers(args.tickers)
    if not tickers:
        raise CliError("--tickers: give at least one ticker, e.g. AAPL,MSFT")
    if args.days < 1:
        raise CliError("--days: must be >= 1")
    bars = SyntheticBarSource(tickers=tickers, seed=args.seed).generate(args.start, args.days)
    write_frame(bars, args.out)
    sessions = bars["ts"].dt.convert_time_zone("America/New_York").dt.date().n_unique()
    return f"wrote {bars.height} bars for {len(tickers)} tickers over {sessions} NYSE sessions to {args.out}"



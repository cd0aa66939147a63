"""`vol-pipeline fetch`: download NYSE sessions of 1-minute bars from Alpaca into a file
that `vol-pipeline replay --bars FILE` runs.

One request series per session (its regular hours only), several symbols per request,
every page. The file is in the bar contract plus provenance (feed, fetched_at); rows
that fail the contract are written beside it as FILE.rejected.<ext>, as `features` does.
Exit codes: 0 all rows valid; 1 some rows rejected (the valid ones written); 2 bad
arguments, missing credentials, or an API failure (nothing written).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from vol_pipeline.cli.errors import EXIT_REJECTED_ROWS, CliError
from vol_pipeline.core.config import parse_tickers


def fetch(args: argparse.Namespace) -> str:
    import polars as pl
    from tqdm import tqdm

    from vol_pipeline.core.bars import REJECTED_SCHEMA, STORED_BAR_SCHEMA
    from vol_pipeline.core.calendar import session_hours
    from vol_pipeline.settings import ALPACA_DATA_URL
    from vol_pipeline.sources.alpaca import AlpacaBarSource
    from vol_pipeline.sources.errors import SOURCE_ERRORS
    from vol_pipeline.sources.files import sidecar_path, write_frame

    out = Path(args.out)
    if out.suffix.lower() not in (".csv", ".parquet"):
        raise CliError(f"--out {out}: unsupported file type {out.suffix or '(none)'!r}; use .csv or .parquet")
    tickers = tuple(dict.fromkeys(parse_tickers(args.tickers)))
    if not tickers:
        raise CliError("--tickers: give at least one ticker, e.g. AAPL,MSFT")
    if args.end < args.start:
        raise CliError(f"--end {args.end} is before --start {args.start}")
    sessions = session_hours(args.start, args.end)
    if sessions.is_empty():
        raise CliError(f"no NYSE session between {args.start} and {args.end}")
    feed = args.feed or os.environ.get("VOL_PIPELINE_ALPACA_FEED", "iex")
    data_url = os.environ.get("VOL_PIPELINE_ALPACA_DATA_URL") or ALPACA_DATA_URL

    valid, rejected = [], []
    progress = tqdm(total=sessions.height, unit="session", desc="fetch", disable=None, leave=False)
    try:
        source = AlpacaBarSource(tickers, feed=feed, data_url=data_url)
        for day, open_utc, close_utc in sessions.iter_rows():  # one window per session: few, not per row
            valid.append(source.fetch(open_utc, close_utc))
            rejected.append(source.rejected(open_utc, close_utc))
            progress.set_postfix_str(f"{day} · {sum(f.height for f in valid):,} bars · {source.stats.pages} pages", refresh=False)
            progress.update()
    except SOURCE_ERRORS as error:
        raise CliError(f"fetch stopped, nothing written: {error}") from None
    finally:
        progress.close()

    bars = pl.concat(valid).sort("ticker", "ts") if valid else pl.DataFrame(schema=STORED_BAR_SCHEMA)
    write_frame(bars, out)
    summary = (f"wrote {bars.height:,} bars of {bars['ticker'].n_unique()} of {len(tickers)} tickers over "
               f"{sessions.height} NYSE sessions ({args.start}..{args.end}, feed {feed}) to {out}")
    rejects = pl.concat(rejected).select(REJECTED_SCHEMA.keys()) if rejected else pl.DataFrame(schema=REJECTED_SCHEMA)
    rejected_path = sidecar_path(out, "rejected")
    if rejects.height:
        write_frame(rejects, rejected_path)
        first = rejects.row(0, named=True)
        raise CliError(f"{rejects.height} rows from the API rejected, e.g. {first['ticker']} {first['ts']}: "
                       f"{first['reason']}; rejected rows with reasons in {rejected_path}",
                       EXIT_REJECTED_ROWS, report=summary)
    rejected_path.unlink(missing_ok=True)  # a stale sidecar from an earlier run would mislead
    return summary


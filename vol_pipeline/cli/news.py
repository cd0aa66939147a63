"""`vol-pipeline classify`: label a news file's headlines without Dagster (polars, core, classifiers)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from vol_pipeline.cli.errors import EXIT_REJECTED_ROWS, CliError

OUT_TYPES = (".jsonl", ".csv", ".parquet")


def _universe(option: str | None) -> tuple[str, ...]:
    from vol_pipeline.core.config import DEFAULT_TICKERS, parse_tickers

    text = option or os.environ.get("VOL_PIPELINE_TICKERS", "")
    tickers = tuple(sorted(set(parse_tickers(text))))
    return tickers or DEFAULT_TICKERS


def _write(frame, out: Path) -> None:
    import polars as pl

    out.parent.mkdir(parents=True, exist_ok=True)
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        frame.write_parquet(out)
    elif suffix == ".jsonl":
        frame.write_ndjson(out)
    else:  # CSV has no lists: "AAPL;MSFT", as `read_news_file` reads them back
        frame.with_columns(pl.col(pl.List(pl.String)).list.join(";")).write_csv(out)


def classify(args: argparse.Namespace) -> str:
    from vol_pipeline.classifiers.base import default_classifier
    from vol_pipeline.classifiers.labelling import label_items
    from vol_pipeline.core.errors import BadInputError
    from vol_pipeline.sources.files import sidecar_path
    from vol_pipeline.sources.news_file import read_news_file

    out = Path(args.out)
    if out.suffix.lower() not in OUT_TYPES:
        raise CliError(f"--out {out}: unsupported file type {out.suffix or '(none)'!r}; use .jsonl, .csv or .parquet")
    universe = _universe(args.tickers)
    try:
        items, rejected, repeats = read_news_file(args.news)
    except BadInputError as error:
        raise CliError(str(error)) from None
    classifier = default_classifier()
    labelled = label_items(items, classifier, universe)
    _write(labelled, out)
    counts = labelled["label"].value_counts().sort("label").rows()
    summary = (f"labelled {labelled.height} headlines ({', '.join(f'{n} {label}' for label, n in counts) or 'none'}) "
               f"with {classifier.name} to {out}" + (f"; {repeats} repeated items kept once" if repeats else ""))
    rejected_path = sidecar_path(out, "rejected")
    if rejected.height:
        _write(rejected, rejected_path)
        example = rejected.row(0, named=True)
        raise CliError(f"{args.news}: {rejected.height} rows rejected, e.g. {example['title']!r}: {example['reason']}; "
                       f"rejected rows with reasons in {rejected_path}", EXIT_REJECTED_ROWS, report=summary)
    rejected_path.unlink(missing_ok=True)
    return summary

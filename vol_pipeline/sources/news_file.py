"""A recorded news file (JSON Lines, CSV or Parquet) as news items.

Columns: `published` (ISO 8601 with a UTC offset; `published_at` also accepted, as
`classify` writes it) and `title` are required; `summary`,
`tickers` (a list in JSONL/Parquet, "AAPL;MSFT" or "AAPL,MSFT" text in CSV), `guid`,
`link` and `feed` are optional. A missing required column or an empty or unreadable
file is a BadInputError naming it; a row whose time cannot be read is rejected with its
reason, like the checks of `core.news_items`, and every other row is kept.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from vol_pipeline.core.bars import parse_utc_text
from vol_pipeline.core.errors import BadInputError
from vol_pipeline.core.news_items import RAW_ITEM_SCHEMA, REJECTED_ITEM_SCHEMA, check_items, clean_text, event_uid

NEWS_FILE_TYPES = (".jsonl", ".csv", ".parquet")
REQUIRED = ("published", "title")
OPTIONAL = ("summary", "tickers", "guid", "link", "feed")


def _read(path: Path) -> pl.DataFrame:
    suffix = path.suffix.lower()
    if suffix not in NEWS_FILE_TYPES:
        raise BadInputError(f"{path}: unsupported news file type {suffix or '(none)'!r}; use .jsonl, .csv or .parquet")
    if not path.is_file():
        raise BadInputError(f"{path}: file not found")
    if path.stat().st_size == 0:
        raise BadInputError(f"{path}: file is empty (expected {', '.join(REQUIRED)} and optionally {', '.join(OPTIONAL)})")
    try:
        if suffix == ".csv":
            return pl.read_csv(path, infer_schema=False)
        if suffix == ".jsonl":
            return pl.read_ndjson(path, infer_schema_length=None)
        return pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError, UnicodeDecodeError, ValueError) as error:
        detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise BadInputError(f"{path}: not a readable {suffix[1:].upper()} news file ({detail})") from None


def _tickers_column(frame: pl.DataFrame) -> pl.Expr:
    if "tickers" not in frame.columns:
        return pl.lit(None, pl.List(pl.String))
    if frame.schema["tickers"] == pl.String:
        split = pl.col("tickers").str.replace_all(",", ";").str.split(";")
        return split.list.eval(pl.element().str.strip_chars().str.to_uppercase().filter(pl.element() != ""))
    return pl.col("tickers").cast(pl.List(pl.String)).list.eval(pl.element().str.to_uppercase())


def read_news_file(path: str | Path, fetched_at: datetime | None = None) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """(items with an optional `tickers` list, rejected rows with a reason, repeats dropped)."""
    path = Path(path)
    frame = _read(path)
    columns = {c.lower(): c for c in frame.columns}
    if "published" not in columns and "published_at" in columns:  # what `classify` and `export` write
        columns["published"] = columns.pop("published_at")
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        raise BadInputError(f"{path}: missing column {missing[0]!r} (required: {', '.join(REQUIRED)}; "
                            f"found: {', '.join(frame.columns) or 'none'})")
    frame = frame.rename({original: lower for lower, original in columns.items() if lower in (*REQUIRED, *OPTIONAL)})
    fetched_at = fetched_at or datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    text = {c: (pl.col(c).cast(pl.String) if c in frame.columns else pl.lit(None, pl.String))
            for c in ("guid", "link", "title", "summary", "feed")}
    published = frame.schema["published"]
    if isinstance(published, pl.Datetime):  # Parquet: naive times are as unreadable as naive text
        published_at = pl.col("published").dt.convert_time_zone("UTC") if published.time_zone else pl.lit(None)
    else:
        published_at = parse_utc_text(pl.col("published"))
    raw = frame.select(
        published_text=pl.col("published").cast(pl.String),
        published_at=published_at.cast(RAW_ITEM_SCHEMA["published_at"]),
        tickers=_tickers_column(frame),
        **text,
    )
    # Titles and summaries may carry HTML; identity needs the raw fields: one pass per row.
    titles = [clean_text(t) for t in raw["title"].to_list()]
    summaries = [clean_text(s) for s in raw["summary"].to_list()]
    uids = [event_uid(g, l, t, p) for g, l, t, p in zip(raw["guid"], raw["link"], titles, raw["published_text"])]
    items = raw.with_columns(
        event_uid=pl.Series(uids, dtype=pl.String), title=pl.Series(titles, dtype=pl.String),
        summary=pl.Series(summaries, dtype=pl.String), feed=pl.col("feed").fill_null(path.name),
        dated_by=pl.lit("published"), fetched_at=pl.lit(fetched_at, RAW_ITEM_SCHEMA["fetched_at"]),
    )
    unreadable = items.filter(pl.col("published_at").is_null())
    valid, rejected, repeats = check_items(items.filter(pl.col("published_at").is_not_null()).select(
        "event_uid", *RAW_ITEM_SCHEMA, "tickers"))
    unreadable_rejected = unreadable.with_columns(
        dated_by=pl.lit(None, pl.String),
        reason=pl.concat_str(pl.lit("published failed 'an ISO 8601 time with a UTC offset' (got "),
                             pl.col("published_text").fill_null("nothing"), pl.lit(")")))
    rejected = pl.concat([rejected.select(REJECTED_ITEM_SCHEMA.keys()),
                          unreadable_rejected.select(REJECTED_ITEM_SCHEMA.keys()).cast(REJECTED_ITEM_SCHEMA)])
    return valid, rejected, repeats

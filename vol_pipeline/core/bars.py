"""Bar contract: normalise any bar frame and split it into valid and rejected rows.

Nothing is dropped silently: every input row ends up either in `valid` or in `rejected`
with a reason naming the column and the check. The row checks are defined once here
(BAR_ROW_CHECKS) and the pandera BarsSchema is built from the same table.

Documented normalisations (not rejections):
- a `datetime` column is accepted as `ts`; column names are matched case-insensitively;
- timestamps with any UTC offset are converted to UTC; naive timestamps are rejected;
- tickers are stripped and upper-cased; rows may come in any order;
- extra columns are ignored (reported in `ignored_columns`), except the provenance columns
  `feed` (iex, sip, synthetic, replay; lower-cased) and `fetched_at` (UTC), which are kept
  and checked when present (a null is allowed: the source fills its own default);
- an exact duplicate of a valid row is kept once; the copies go to `rejected`.

Bars must fall in an NYSE regular session (the pipeline's minute partitions): a bar on a
weekend or holiday, or before the open / after the close (half days close at 13:00), is
rejected with its reason, never dropped. DST needs nothing special: sessions are looked up
by the bar's New York date and compared in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from vol_pipeline.core.calendar import with_session_hours
from vol_pipeline.core.errors import BadInputError

PRICE_COLUMNS = ("open", "high", "low", "close")
BAR_COLUMNS = ("ticker", "ts", *PRICE_COLUMNS, "volume")
BAR_SCHEMA = {
    "ticker": pl.String,
    "ts": pl.Datetime("us", "UTC"),
    **{c: pl.Float64 for c in PRICE_COLUMNS},
    "volume": pl.Int64,
}
# Where a stored bar came from and when it was read (the source's defaults fill nulls).
FEEDS = ("iex", "sip", "synthetic", "replay")
PROVENANCE_SCHEMA = {"feed": pl.String, "fetched_at": pl.Datetime("us", "UTC")}
STORED_BAR_SCHEMA = {**BAR_SCHEMA, **PROVENANCE_SCHEMA}
# Above these a value is a feed error, not a market (and the kernel's integer sums stay exact).
MAX_PRICE = 1_000_000.0
MAX_VOLUME = 10**12


@dataclass(frozen=True)
class RowCheck:
    """A named check on typed bar columns; `passes` is True (or null) where a row is fine."""

    column: str
    name: str
    passes: pl.Expr


def _price_checks(column: str) -> list[RowCheck]:
    price = pl.col(column)
    # Range checks only speak for finite values: NaN compares greater than everything.
    not_finite = price.is_finite().not_()
    return [
        RowCheck(column, "finite", price.is_finite()),
        RowCheck(column, "> 0", not_finite | (price > 0)),
        RowCheck(column, f"<= {MAX_PRICE:,.0f}", not_finite | (price <= MAX_PRICE)),
    ]


_ALL_PRICES_FINITE = pl.all_horizontal(pl.col(c).is_finite() for c in PRICE_COLUMNS)


BAR_ROW_CHECKS: tuple[RowCheck, ...] = (
    RowCheck("ticker", "not empty", pl.col("ticker").str.len_chars() > 0),
    RowCheck("ts", "on the minute", pl.col("ts").dt.truncate("1m") == pl.col("ts")),
    *(check for column in PRICE_COLUMNS for check in _price_checks(column)),
    RowCheck("low", "low <= open, close", ~_ALL_PRICES_FINITE | ((pl.col("low") <= pl.col("open")) & (pl.col("low") <= pl.col("close")))),
    RowCheck("high", "high >= open, close", ~_ALL_PRICES_FINITE | ((pl.col("high") >= pl.col("open")) & (pl.col("high") >= pl.col("close")))),
    RowCheck("volume", ">= 0", pl.col("volume") >= 0),
    RowCheck("volume", f"<= {MAX_VOLUME:.0e}", pl.col("volume") <= MAX_VOLUME),
)


@dataclass
class BarValidation:
    """Result of validate_bars: typed valid rows, and rejected rows with their reason."""

    valid: pl.DataFrame
    rejected: pl.DataFrame
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def input_rows(self) -> int:
        return self.valid.height + self.rejected.height

    def summary(self) -> str:
        """One line: counts, and the first rejected row with its reason."""
        if self.rejected.is_empty():
            return f"{self.valid.height} bars valid"
        first = self.rejected.row(0, named=True)
        shown = ", ".join(f"{k}={first[k]}" for k in BAR_COLUMNS if k in first)
        return (
            f"{self.rejected.height} of {self.input_rows} rows rejected; "
            f"e.g. row {first['source_row']}: {first['reason']} ({shown})"
        )


REJECTED_SCHEMA = {"source_row": pl.Int64, **{c: pl.String for c in BAR_COLUMNS}, "reason": pl.String}


def empty_bars() -> pl.DataFrame:
    return pl.DataFrame(schema=BAR_SCHEMA)


def validate_bars(raw: pl.DataFrame, allowed_tickers: frozenset[str] | None = None) -> BarValidation:
    """Normalise `raw` (any column types, e.g. all strings from a CSV) and split it.

    Raises BadInputError only when the frame cannot be read as bars at all (a required
    column is missing); every row-level problem becomes a rejected row instead.
    """
    renamed, ignored = _normalised_columns(raw)
    provenance = [c for c in PROVENANCE_SCHEMA if c in renamed.columns]
    frame = renamed.with_row_index("source_row", offset=1).with_columns(pl.col("source_row").cast(pl.Int64))
    # The input values as given, kept beside the typed ones; they become text only for the
    # rejected rows (turning every value of a typed Parquet file into text cost ~1 s at 2M rows).
    originals = {f"raw_{c}": pl.col(c) for c in (*BAR_COLUMNS, *provenance)}
    typed = with_session_hours(frame.with_columns(**originals).with_columns(_typed_columns(frame.schema)), "ts")
    typed = typed.with_columns(_typed_provenance(frame.schema, provenance))

    failures = [(~check.passes.fill_null(True), failure(check.column, check.name)) for check in BAR_ROW_CHECKS]
    failures += _parse_failures(frame.schema)
    failures += _session_failures()
    failures += _provenance_failures(frame.schema, provenance)
    if allowed_tickers is not None:
        failures.append((~pl.col("ticker").is_in(sorted(allowed_tickers)), failure("ticker", "in the watchlist")))
    # Which rows fail is a cheap boolean; the reason text is built for those rows only.
    flagged = typed.with_columns(failed=pl.any_horizontal(condition.fill_null(False) for condition, _ in failures))
    reasons = [pl.when(condition.fill_null(False)).then(pl.lit(text)) for condition, text in failures]
    bad = flagged.filter("failed").with_columns(reason=pl.concat_str(reasons, separator="; ", ignore_nulls=True))
    good = flagged.filter(~pl.col("failed")).with_columns(reason=pl.lit(None, pl.String))
    checked = _mark_duplicates(pl.concat([bad, good]))

    valid = checked.filter(pl.col("reason").is_null()).select(*BAR_COLUMNS, *provenance)
    if not strictly_ordered(valid):
        valid = valid.sort("ticker", "ts")
    rejected = checked.filter(pl.col("reason").is_not_null()).select(
        "source_row", *(pl.col(f"raw_{c}").cast(pl.String).alias(c) for c in BAR_COLUMNS), "reason"
    )
    valid_schema = {**BAR_SCHEMA, **{c: PROVENANCE_SCHEMA[c] for c in provenance}}
    return BarValidation(valid=valid.cast(valid_schema), rejected=rejected.cast(REJECTED_SCHEMA), ignored_columns=ignored)


def failure(column: str, check: str) -> str:
    """The reason text of one failed check, as rejected rows and error lines show it."""
    return f"{column} failed '{check}'"


def _session_failures() -> list[tuple[pl.Expr, str]]:
    ts, session_open = pl.col("ts"), pl.col("session_open")
    no_session = ts.is_not_null() & session_open.is_null()
    outside_hours = session_open.is_not_null() & ((ts < session_open) | (ts >= pl.col("session_close")))
    return [
        (no_session, failure("ts", "on an NYSE session day")),
        (outside_hours, failure("ts", "within NYSE regular hours")),
    ]


def _normalised_columns(raw: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    lowered = {c: c.strip().lower() for c in raw.columns}
    if len(set(lowered.values())) != len(lowered):
        raise BadInputError(f"column names collide when matched case-insensitively: {raw.columns}")
    frame = raw.rename(lowered)
    if "ts" not in frame.columns and "datetime" in frame.columns:
        frame = frame.rename({"datetime": "ts"})
    missing = [c for c in BAR_COLUMNS if c not in frame.columns]
    if missing:
        raise BadInputError(
            f"missing column {missing[0]!r} (required: {', '.join(BAR_COLUMNS)}; found: {', '.join(raw.columns) or 'none'})"
        )
    kept = [*BAR_COLUMNS, *(c for c in PROVENANCE_SCHEMA if c in frame.columns)]
    ignored = [c for c in frame.columns if c not in kept]
    return frame.select(kept), ignored


_TS_FORMATS = ("%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M%z")
_OFFSET_SUFFIX = r"(Z|[+-]\d{2}(:?\d{2})?)$"


def _ts_from_text(text: pl.Expr) -> pl.Expr:
    """Parse ISO-like text with a UTC offset ('Z', '+00:00', '-0500') into UTC."""
    cleaned = text.str.strip_chars().str.replace("T", " ", literal=True).str.replace(r"[Zz]$", "+00:00")
    cleaned = cleaned.str.replace(r"([+-]\d{2})$", "${1}:00")  # '+05' -> '+05:00'
    parsed = [cleaned.str.to_datetime(fmt, time_unit="us", time_zone="UTC", strict=False) for fmt in _TS_FORMATS]
    return pl.coalesce(parsed)


def _typed_columns(schema: pl.Schema) -> list[pl.Expr]:
    ts_type = schema["ts"]
    if isinstance(ts_type, pl.Datetime):
        ts = pl.col("ts").dt.cast_time_unit("us")
        ts = ts.dt.convert_time_zone("UTC") if ts_type.time_zone else pl.lit(None, pl.Datetime("us", "UTC"))
    else:
        ts = _ts_from_text(pl.col("ts").cast(pl.String))
    numbers = [_number(c, schema[c]).alias(c) for c in PRICE_COLUMNS]  # NaN/inf kept: checks name them
    volume = _number("volume", schema["volume"])
    # Only finite whole numbers become Int64. Out-of-range values are pinned just outside
    # [0, MAX_VOLUME] so the range checks still reject them: a plain cast turned 1e20 (and
    # NaN/inf, since NaN == NaN in polars) into null, i.e. a silently *valid* null volume.
    in_check_range = volume.clip(-1, MAX_VOLUME + 1)
    whole_volume = pl.when(volume.is_finite() & (volume == volume.floor())).then(in_check_range).cast(pl.Int64, strict=False)
    return [
        pl.col("ticker").cast(pl.String).str.strip_chars().str.to_uppercase(),
        ts.alias("ts"),
        *numbers,
        whole_volume.alias("volume"),
    ]


def _typed_provenance(schema: pl.Schema, present: list[str]) -> list[pl.Expr]:
    typed = []
    if "feed" in present:
        typed.append(pl.col("feed").cast(pl.String).str.strip_chars().str.to_lowercase().replace("", None))
    if "fetched_at" in present:
        kind = schema["fetched_at"]
        if isinstance(kind, pl.Datetime):
            fetched = pl.col("fetched_at").dt.cast_time_unit("us")
            fetched = fetched.dt.convert_time_zone("UTC") if kind.time_zone else pl.lit(None, PROVENANCE_SCHEMA["fetched_at"])
        else:
            fetched = _ts_from_text(pl.col("fetched_at").cast(pl.String))
        typed.append(fetched.alias("fetched_at"))
    return typed


def _provenance_failures(schema: pl.Schema, present: list[str]) -> list[tuple[pl.Expr, str]]:
    """A provenance value may be missing (the source's default applies) but not wrong."""
    reasons = []
    if "feed" in present:
        reasons.append((pl.col("feed").is_not_null() & ~pl.col("feed").is_in(FEEDS), failure("feed", f"one of {', '.join(FEEDS)}")))
    if "fetched_at" in present:
        given = pl.col("raw_fetched_at").is_not_null()
        if schema["fetched_at"] == pl.String:
            given = pl.col("raw_fetched_at").str.strip_chars() != ""
        reasons.append((given.fill_null(False) & pl.col("fetched_at").is_null(), failure("fetched_at", "a datetime with a UTC offset")))
    return reasons


def _number(column: str, dtype: pl.DataType) -> pl.Expr:
    if dtype.is_numeric():
        return pl.col(column).cast(pl.Float64)
    return pl.col(column).cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)


def _parse_failures(schema: pl.Schema) -> list[tuple[pl.Expr, str]]:
    """(condition, reason) for values missing from the input or present but not convertible.

    Text columns (CSV) are checked as text; typed columns (Parquet) by their type, where a
    value cannot fail to be a number.
    """
    raw = {c: pl.col(f"raw_{c}") for c in BAR_COLUMNS}
    text = {c: schema[c] == pl.String for c in BAR_COLUMNS}
    present = {
        c: raw[c].is_not_null() & (raw[c].str.strip_chars() != "") if text[c] else raw[c].is_not_null()
        for c in BAR_COLUMNS
    }
    # The typed ticker is the raw one stripped: the same test without stripping 2M strings again.
    present["ticker"] = pl.col("ticker").is_not_null() & (pl.col("ticker") != "")
    required = ("ticker", "ts", *PRICE_COLUMNS)  # volume may be null: the feed may have none
    reasons = [(present[c].not_(), failure(c, "not null")) for c in required]

    ts_type = schema["ts"]
    if isinstance(ts_type, pl.Datetime):
        naive = pl.lit(ts_type.time_zone is None)
    else:
        ts_text = raw["ts"].cast(pl.String).str.strip_chars().str.replace("T", " ", literal=True)
        naive_formats = [f.removesuffix("%z") for f in _TS_FORMATS]
        naive = pl.coalesce([ts_text.str.to_datetime(f, time_unit="us", strict=False) for f in naive_formats]).is_not_null()
    unparsed = present["ts"] & pl.col("ts").is_null()
    reasons.append((unparsed & naive, failure("ts", "has a UTC offset")))
    reasons.append((unparsed & naive.not_(), failure("ts", "is a datetime")))
    # ts is stored in microseconds: a sub-microsecond part (text or an ns column) would be
    # truncated away and the bar would pass 'on the minute' although its input was not.
    if isinstance(ts_type, pl.Datetime) and ts_type.time_unit != "ns":
        sub_microsecond = pl.lit(False)  # a us or ms column cannot hold a sub-microsecond part
    elif isinstance(ts_type, pl.Datetime):
        sub_microsecond = raw["ts"].dt.nanosecond() % 1000 != 0
    else:
        sub_microsecond = raw["ts"].cast(pl.String).str.contains(r"\.\d{6}\d*[1-9]")
    on_minute_after_truncation = pl.col("ts").dt.truncate("1m") == pl.col("ts")
    reasons.append((sub_microsecond & on_minute_after_truncation, failure("ts", "on the minute")))
    for column in (*PRICE_COLUMNS, "volume"):
        numeric = schema[column].is_numeric()
        value = raw[column].cast(pl.Float64) if numeric else raw[column].cast(pl.String).str.strip_chars().cast(pl.Float64, strict=False)
        if not numeric:
            reasons.append((present[column] & value.is_null(), failure(column, "is a number")))
        if column == "volume":
            reasons.append((value.is_nan() | value.is_infinite(), failure(column, "finite")))
            fractional = value.is_finite() & (value != value.floor())
            reasons.append((fractional, failure(column, "is a whole number")))
    return reasons


def _mark_duplicates(checked: pl.DataFrame) -> pl.DataFrame:
    """Duplicate (ticker, ts) among otherwise valid rows: keep one of identical copies,
    reject every copy when the copies disagree."""
    key = ["ticker", "ts"]
    valid = pl.col("reason").is_null()
    values = pl.struct(*PRICE_COLUMNS, "volume")
    copies = pl.len().over(key)
    distinct = values.n_unique().over(key)
    first_copy = pl.col("source_row") == pl.col("source_row").min().over(key)
    duplicate_reason = (
        pl.when(distinct > 1)
        .then(pl.lit(failure("ticker, ts", "unique") + " (duplicate bar with conflicting values)"))
        .when(first_copy.not_())
        .then(pl.lit(failure("ticker, ts", "unique") + " (exact copy of an earlier row, kept once)"))
    )
    valid_rows = checked.filter(valid)
    if strictly_ordered(valid_rows):
        return checked  # (ticker, ts) strictly increasing, as feeds and files usually are: no duplicates
    flagged = valid_rows.with_columns(reason=pl.when(copies > 1).then(duplicate_reason))
    return pl.concat([checked.filter(~valid), flagged])


def strictly_ordered(bars: pl.DataFrame) -> bool:
    """True when rows are in strictly increasing (ticker, ts) order.

    Costs a few ms at 2M rows, a fraction of sorting by a string column: the ticker order
    often comes from the column's sorted flag, leaving one comparison of neighbours.
    """
    if not bars["ticker"].is_sorted():
        return False
    ticker, ts = pl.col("ticker"), pl.col("ts")
    return bool(bars.select(((ts > ts.shift(1)) | (ticker != ticker.shift(1))).slice(1).all()).item())


def parse_utc_text(text: pl.Expr) -> pl.Expr:
    """Timestamps as text with a UTC offset -> UTC datetimes (null when naive or unreadable)."""
    return _ts_from_text(text.cast(pl.String))

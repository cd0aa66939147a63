"""The bad-input catalogue: one bar file holding every kind of bad or awkward row, and
the files that cannot be read at all, with what each kind must produce.

Base: synthetic bars of AAA and BBB over the last hour of Friday 2026-10-30 (EDT) and the
first hour of Monday 2026-11-02 (EST): daylight saving time ended on Sunday 2026-11-01,
so the sessions open at 13:30 and 14:30 UTC. Each bad row gets its own timestamp so it
can be found again in every output; awkward-but-valid kinds get their own ticker.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import polars as pl

from vol_pipeline.core.bars import BAR_COLUMNS
from vol_pipeline.sources.synthetic import SyntheticBarSource

FRIDAY, MONDAY = date(2026, 10, 30), date(2026, 11, 2)
FRIDAY_LAST_HOUR = datetime(2026, 10, 30, 19, 0, tzinfo=timezone.utc)  # 15:00-16:00 EDT
MONDAY_OPEN = datetime(2026, 11, 2, 14, 30, tzinfo=timezone.utc)  # 09:30 EST
BASE_TICKERS = ("AAA", "BBB")
# Valid but awkward tickers: all-zero volume, null volumes, extreme valid values, too few bars.
ZERO, NULLV, BIG, FEW = "ZERO", "NULLV", "BIG", "FEW"
WATCHLIST = (*BASE_TICKERS, ZERO, NULLV, BIG, FEW)
UNKNOWN = "ZZZZ"  # not on the watchlist


@dataclass(frozen=True)
class BadRow:
    """A row that must be rejected: its raw values (text) and the reason it must get."""

    kind: str
    ticker: str
    ts: str
    reason: str
    values: dict  # column -> raw text that differs from a plausible bar
    placed: bool = True  # has a market minute (quarantined with that partition)


def _z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _monday(minutes: int) -> datetime:
    return MONDAY_OPEN + timedelta(minutes=minutes)


PLAUSIBLE = {"open": "100", "high": "101", "low": "99", "close": "100.5", "volume": "1000"}

BAD_ROWS = (
    BadRow("negative_volume", "AAA", _z(_monday(31)), "volume failed '>= 0'", {"volume": "-5"}),
    BadRow("nan_price", "AAA", _z(_monday(32)), "close failed 'finite'", {"close": "NaN"}),
    BadRow("inf_price", "AAA", _z(_monday(33)), "high failed 'finite'", {"high": "inf"}),
    BadRow("zero_price", "AAA", _z(_monday(34)), "open failed '> 0'", {"open": "0"}),
    BadRow("negative_price", "AAA", _z(_monday(35)), "low failed '> 0'", {"low": "-1.5"}),
    BadRow("high_below_low", "AAA", _z(_monday(36)), "high failed 'high >= open, close'",
           {"high": "98", "low": "99", "open": "99", "close": "99"}),
    BadRow("null_price", "AAA", _z(_monday(37)), "close failed 'not null'", {"close": ""}),
    BadRow("text_in_price", "AAA", _z(_monday(38)), "close failed 'is a number'", {"close": "abc"}),
    BadRow("text_in_volume", "AAA", _z(_monday(39)), "volume failed 'is a number'", {"volume": "many"}),
    BadRow("fractional_volume", "AAA", _z(_monday(40)), "volume failed 'is a whole number'", {"volume": "10.5"}),
    BadRow("extreme_price", "AAA", _z(_monday(41)), "close failed '<= 1,000,000'",
           {"high": "2000000", "close": "2000000"}),
    BadRow("extreme_volume", "AAA", _z(_monday(42)), "volume failed '<= 1e+12'", {"volume": "10000000000000"}),
    BadRow("ts_not_on_the_minute", "AAA", "2026-11-02T15:13:30Z", "ts failed 'on the minute'", {}),
    BadRow("naive_ts", "AAA", "2026-11-02 15:14:00", "ts failed 'has a UTC offset'", {}, placed=False),
    BadRow("unreadable_ts", "AAA", "next tuesday", "ts failed 'is a datetime'", {}, placed=False),
    # 13:30 UTC is 09:30 on Friday (EDT) but 08:30 on Monday (EST): before the open.
    BadRow("dst_before_the_open", "AAA", "2026-11-02T13:30:00Z", "ts failed 'within NYSE regular hours'", {},
           placed=False),
    BadRow("after_the_close", "AAA", "2026-10-30T20:00:00Z", "ts failed 'within NYSE regular hours'", {},
           placed=False),
    BadRow("dst_change_sunday", "AAA", "2026-11-01T15:00:00Z", "ts failed 'on an NYSE session day'", {},
           placed=False),
    BadRow("holiday", "AAA", "2026-09-07T15:00:00Z", "ts failed 'on an NYSE session day'", {},  # Labor Day
           placed=False),
    BadRow("unknown_ticker", UNKNOWN, _z(_monday(45)), "ticker failed 'in the watchlist'", {}),
)
# Two copies of BBB's bar at Monday +20 min: the second disagrees, so both are rejected.
CONFLICT_AT = _monday(20)
CONFLICT_REASON = "ticker, ts failed 'unique' (duplicate bar with conflicting values)"
# An exact copy of BBB's bar at Monday +21 min: kept once, the copy rejected.
COPY_AT = _monday(21)
COPY_REASON = "ticker, ts failed 'unique' (exact copy of an earlier row, kept once)"


def base_bars() -> pl.DataFrame:
    """The valid base: AAA and BBB, Friday's last hour and Monday's first hour."""
    bars = SyntheticBarSource(tickers=BASE_TICKERS, seed=11).generate(FRIDAY, 2)
    ts = pl.col("ts")
    friday = (ts >= FRIDAY_LAST_HOUR) & (ts < FRIDAY_LAST_HOUR + timedelta(hours=1))
    monday = (ts >= MONDAY_OPEN) & (ts < MONDAY_OPEN + timedelta(hours=1))
    return bars.filter(friday | monday)


def awkward_valid_bars(base: pl.DataFrame) -> pl.DataFrame:
    """Valid rows of the awkward kinds, each on its own ticker (Monday's hour of AAA's shape)."""
    aaa = base.filter((pl.col("ticker") == "AAA") & (pl.col("ts") >= MONDAY_OPEN))
    zero = aaa.with_columns(ticker=pl.lit(ZERO), volume=pl.lit(0, pl.Int64))
    null_every_7th = pl.when(pl.int_range(pl.len()) % 7 == 3).then(None).otherwise(pl.col("volume"))
    nullv = aaa.with_columns(ticker=pl.lit(NULLV), volume=null_every_7th)
    # Near the limits yet valid: the highest price scaled to 900,000 (< 1,000,000), volume 1e11 (< 1e12).
    scale = 900_000 / aaa["high"].max()
    big = aaa.with_columns(pl.lit(BIG).alias("ticker"), *(pl.col(c) * scale for c in ("open", "high", "low", "close")),
                           volume=pl.lit(10**11, pl.Int64))
    few = aaa.head(10).with_columns(ticker=pl.lit(FEW))  # fewer than the 50-bar lookback
    return pl.concat([zero, nullv, big, few])


def expected_valid() -> pl.DataFrame:
    """What every path must accept, sorted by ticker and ts."""
    base = base_bars()
    conflicted = (pl.col("ticker") == "BBB") & (pl.col("ts") == CONFLICT_AT)
    return pl.concat([base.filter(~conflicted), awkward_valid_bars(base)]).sort("ticker", "ts")


def _as_text(bars: pl.DataFrame) -> pl.DataFrame:
    """Bars as CSV text. BBB's timestamps carry New York offsets (-04:00 on Friday, -05:00 on
    Monday): a documented normalisation to UTC, not a rejection."""
    local = pl.col("ts").dt.convert_time_zone("America/New_York").dt.strftime("%Y-%m-%dT%H:%M:%S%:z")
    ts = pl.when(pl.col("ticker") == "BBB").then(local).otherwise(pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return bars.with_columns(ts=ts).with_columns(pl.all().cast(pl.String))


def catalogue_rows() -> pl.DataFrame:
    """Every row of the catalogue file, as text, shuffled (row order is not an error)."""
    base = base_bars()
    bbb = base.filter(pl.col("ticker") == "BBB")
    conflict = bbb.filter(pl.col("ts") == CONFLICT_AT).with_columns(close=pl.col("close") + 0.01,
                                                                    high=pl.col("high") + 0.01)
    copy = bbb.filter(pl.col("ts") == COPY_AT)
    bad = pl.DataFrame([{"ticker": r.ticker, "ts": r.ts, **PLAUSIBLE, **r.values} for r in BAD_ROWS])
    text = pl.concat([_as_text(pl.concat([base, awkward_valid_bars(base), conflict, copy])), bad.select(BAR_COLUMNS)])
    return text.sample(fraction=1.0, shuffle=True, seed=5).with_columns(vwap=pl.lit("1.0"))  # + an extra column


def write_catalogue(folder: Path) -> Path:
    path = folder / "catalogue.csv"
    catalogue_rows().write_csv(path)
    return path


# Files that cannot be used at all: exit 2 / a failed run, one line naming the file and what is wrong.
UNUSABLE_FILES = {
    # name: (file name, content, fragments the error must contain)
    "empty_file": ("empty.csv", b"", ["empty.csv", "file is empty"]),
    "not_csv_or_parquet": ("bars.json", b'{"ticker": "AAA"}', ["bars.json", "unsupported file type '.json'"]),
    "csv_named_parquet": ("bars.parquet", b"ticker,ts,open\nAAA,2026-11-02T14:30:00Z,1\n",
                          ["bars.parquet", "not a readable Parquet file"]),
    "missing_column": ("no_close.csv", b"ticker,ts,open,high,low,volume\nAAA,2026-11-02T14:30:00Z,1,1,1,5\n",
                       ["no_close.csv", "missing column 'close'"]),
}


def write_unusable(folder: Path) -> dict[str, Path]:
    paths = {}
    for name, (file_name, content, _) in UNUSABLE_FILES.items():
        path = folder / name / file_name
        path.parent.mkdir(parents=True)
        path.write_bytes(content)
        paths[name] = path
    return paths

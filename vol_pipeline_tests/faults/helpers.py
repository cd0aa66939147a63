"""Shared pieces of the fault tests: big table frames, window reads, URLs, comparisons."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit

import polars as pl
from polars.testing import assert_frame_equal

from vol_pipeline.storage.tables import TABLES, Table

UTC = timezone.utc
MINUTE = timedelta(minutes=1)
T0 = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # 09:30 New York
PASSWORD = "fault-test-pw"


def lane_feature_rows(tickers: int, minutes: int, version: int) -> pl.DataFrame:
    """tickers x minutes lane_features rows from T0, every value tied to `version`, so two
    versions of a window never share a row and a mix of them is visible."""
    tbl = TABLES["lane_features"]
    grid = pl.DataFrame({"m": pl.arange(0, minutes, eager=True)}).join(
        pl.DataFrame({"t": pl.arange(0, tickers, eager=True)}), how="cross")
    i = pl.col("m") * tickers + pl.col("t")
    values = {
        pl.Float64: i.cast(pl.Float64) / 7 + version * 1000.0,
        pl.Int64: i.cast(pl.Int64) + version * 10_000_000,
        pl.Int32: (i % 3 - 1).cast(pl.Int32),
        pl.Boolean: (i + version) % 2 == 0,
    }
    columns = []
    for name, dtype in tbl.columns.items():
        if name == "ticker":
            columns.append(pl.format("T{}", pl.col("t")).alias(name))
        elif name == "ts":
            columns.append((pl.lit(T0) + pl.duration(minutes=pl.col("m"))).alias(name))
        elif name == "volume_ratio":  # NUMERIC(10,4) in PostgreSQL: sixteenths are exact in 4 decimals
            columns.append(((i % 5_000 + version * 16).cast(pl.Float64) * 0.0625).alias(name))
        else:
            columns.append(values[dtype.base_type()].alias(name))
    return grid.select(columns).cast(tbl.columns).sort("ticker", "ts")


def with_netloc(url: str, port: int) -> str:
    """`url` pointing at 127.0.0.1:`port`, with a password in it (to prove it is never shown):
    the URL's own, else PASSWORD (the local server trusts; libpq sends it only if asked)."""
    parts = urlsplit(url)
    auth = f"{parts.username or 'postgres'}:{parts.password or PASSWORD}"
    return urlunsplit(parts._replace(netloc=f"{auth}@127.0.0.1:{port}"))


def password_of(url: str) -> str:
    return urlsplit(url).password or ""


def target(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 5432


def normalised(frame: pl.DataFrame, tbl: Table) -> pl.DataFrame:
    """Read order, and JSON columns as canonical text (JSONB reorders keys)."""
    canonical = lambda text: json.dumps(json.loads(text), sort_keys=True)  # noqa: E731
    keys = (["ticker"] if "ticker" in tbl.columns else []) + [tbl.partition_column]
    frame = frame.with_columns(pl.col(c).map_elements(canonical, return_dtype=pl.String) for c in tbl.json_columns)
    return frame.sort([*keys, *(c for c in tbl.columns if c not in keys)], nulls_last=True)


def assert_same_rows(got: pl.DataFrame, expected: pl.DataFrame, name: str) -> None:
    tbl = TABLES[name]
    try:
        assert_frame_equal(normalised(got, tbl), normalised(expected, tbl), rel_tol=1e-12, abs_tol=1e-12)
    except AssertionError as error:
        raise AssertionError(f"{name}: {error}") from None


def which_version(got: pl.DataFrame, versions: dict[str, pl.DataFrame]) -> str | None:
    """The name of the version `got` equals exactly (same rows, same values), else None."""
    for label, frame in versions.items():
        if got.height == frame.height and got.sort("ticker", "ts").equals(frame):
            return label
    return None

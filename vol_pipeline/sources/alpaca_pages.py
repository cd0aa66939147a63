"""One page of Alpaca's /v2/stocks/bars answer -> raw bar rows (no HTTP here).

The documented body: {"bars": {"AAPL": [{"t": RFC3339, "o", "h", "l", "c", "v", "n",
"vw"}, ...], ...}, "next_page_token": str | null}. Rows come out in the bar contract's
names (ticker, ts, open, high, low, close, volume) but unchecked: bar validation names
any bad value later, so a wrong value rejects its row, never the page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import polars as pl

FIELDS = {"t": "ts", "o": "open", "h": "high", "l": "low", "c": "close", "v": "volume"}
_TYPED_ROW = pl.Struct({"t": pl.String, **{k: pl.Float64 for k in ("o", "h", "l", "c", "v")}})
RAW_SCHEMA = {"ticker": pl.String, "ts": pl.String, **{name: pl.Float64 for name in ("open", "high", "low", "close", "volume")}}


class MalformedPage(ValueError):
    """The body is not the documented shape; the message says what is wrong."""


@dataclass(frozen=True)
class Page:
    rows: pl.DataFrame  # RAW_SCHEMA, or every column text when some value was not a number
    next_token: str | None


def parse_page(body: bytes) -> Page:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise MalformedPage(f"body is not JSON ({error}); it starts {body[:60]!r}") from None
    if not isinstance(data, dict):
        raise MalformedPage(f"body is JSON {type(data).__name__}, not an object with 'bars'")
    bars = data.get("bars")
    if bars is None:
        bars = {}  # Alpaca sends "bars": null when nothing matched
    if not isinstance(bars, dict):
        raise MalformedPage(f"'bars' is {type(bars).__name__}, not an object of symbol -> bars")
    token = data.get("next_page_token")
    if token is not None and not isinstance(token, str):
        raise MalformedPage(f"'next_page_token' is {type(token).__name__}, not a string or null")
    for symbol, rows in bars.items():
        if not isinstance(rows, list):
            raise MalformedPage(f"bars of {symbol!r} are {type(rows).__name__}, not a list")
    return Page(_rows(bars), token or None)


def _rows(bars: dict[str, list]) -> pl.DataFrame:
    if not bars:
        return pl.DataFrame(schema=RAW_SCHEMA)
    try:  # the documented types: built in one go by polars
        nested = pl.DataFrame({"ticker": list(bars), "rows": list(bars.values())},
                              schema={"ticker": pl.String, "rows": pl.List(_TYPED_ROW)}, strict=True)
    except (pl.exceptions.PolarsError, TypeError, ValueError):
        return _text_rows(bars)
    return nested.explode("rows").drop_nulls("rows").unnest("rows").rename(FIELDS).select(RAW_SCHEMA.keys())


def _text_rows(bars: dict[str, list]) -> pl.DataFrame:
    """Some value is not of its documented type: keep every value as text, so validation
    rejects exactly the rows that are wrong and shows their values."""
    def text(value) -> str | None:
        return None if value is None else value if isinstance(value, str) else json.dumps(value)

    records = [
        [symbol, *(text(row.get(key)) if isinstance(row, dict) else None for key in FIELDS)]
        for symbol, rows in bars.items() for row in rows
    ]
    return pl.DataFrame(records, schema={name: pl.String for name in RAW_SCHEMA}, orient="row")

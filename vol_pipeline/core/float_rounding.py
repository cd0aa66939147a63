"""Python's `round(x, d)` and `f"{x:.{d}f}"` for a Float64 column, exactly and vectorised.

The original rounded Python floats: `round(current / average, 4)` for volume_ratio and
`f"{ratio:.2f}"` in the assessment text. Both round the float's exact binary value to the
nearest d-decimal number, ties (possible only for values like 1/32) to even. Polars'
`round` and `(x * 10**d).round()` round an inexact product, so within an ulp of a tie they
can disagree with Python (about 1 in 10 of the exact 4-dp ties).

Method, for |x| * 10**d below 2**52: let k = floor(fl(|x| * 10**d)). The only question is
whether |x| * 10**d is above, at or below k + 1/2, i.e. whether |x| * 5**d is above, at or
below H = (2k + 1) / 2**(d + 1), an exact double. Splitting |x| into a 26-bit high part
and the rest (Veltkamp) makes both parts times 5**d (<= 10 bits) exact, so the comparison
is exact: near the tie the difference high*5**d - H is exact too (Sterbenz), and away
from it its sign cannot be wrong. Cheap float operations only, no division or logarithm.
"""

from __future__ import annotations

from typing import TypeVar

import polars as pl

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)

MAX_DECIMALS = 4  # 5**d must fit in 10 bits for the split products to be exact
SPLITTER = 2.0**27 + 1  # Veltkamp's constant for doubles: a 26-bit high part
_TEMP = ("_r_abs", "_r_floor", "_r_high")


def with_rounded_units(frame: Frame, column: str, decimals: int, name: str) -> Frame:
    """Adds `name`: round(column, decimals) * 10**decimals as Int64, exactly as Python
    rounds a float with |value| * 10**decimals < 2**52 (null stays null; NaN and
    infinities give null)."""
    if not 0 <= decimals <= MAX_DECIMALS:
        raise ValueError(f"decimals must be in [0, {MAX_DECIMALS}]")
    magnitude, floor_, high = pl.col("_r_abs"), pl.col("_r_floor"), pl.col("_r_high")
    five = 5.0**decimals
    tie = (2 * floor_ + 1) * 2.0 ** -(decimals + 1)
    # Exact: |x| * 5**d - H  compared with 0, as (high * 5**d - H) vs -(low * 5**d).
    high_gap, low_part = high * five - tie, (magnitude - high) * five
    above = high_gap > -low_part
    at_tie = high_gap == -low_part
    odd = (floor_ % 2) == 1
    units = (floor_ + (above | (at_tie & odd)).cast(pl.Float64)).cast(pl.Int64, strict=False)
    return (
        frame.with_columns(_r_abs=pl.col(column).abs())
        .with_columns(_r_floor=(magnitude * 10.0**decimals).floor(), _r_high=_veltkamp_high(magnitude))
        .with_columns(units.alias(name))
        .with_columns(
            pl.when(pl.col(column).is_nan()).then(None)
            .when(pl.col(column) < 0).then(-pl.col(name))
            .otherwise(pl.col(name))
            .alias(name)
        )
        .drop(_TEMP)
    )


def _veltkamp_high(value: pl.Expr) -> pl.Expr:
    """The top 26 bits of a double's significand (value - high is exact)."""
    split = value * SPLITTER
    return split - (split - value)


def with_fixed_text(frame: Frame, column: str, decimals: int, name: str) -> Frame:
    """Adds `name`: f"{column:.{decimals}f}" for a column of floats (null stays null)."""
    units = pl.col(name)
    whole = (units.abs() // 10**decimals).cast(pl.String)
    value = pl.col(column)
    # Python keeps the sign of a negative value that rounds to 0, and of -0.0 itself.
    negative = (value < 0) | ((value == 0) & (1.0 / value < 0))
    sign = pl.when(negative).then(pl.lit("-")).otherwise(pl.lit(""))
    parts = [sign, whole]
    if decimals:
        parts += [pl.lit("."), (units.abs() % 10**decimals).cast(pl.String).str.zfill(decimals)]
    return with_rounded_units(frame, column, decimals, name).with_columns(pl.concat_str(parts).alias(name))

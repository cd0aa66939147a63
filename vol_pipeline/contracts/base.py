"""What every table contract is built from: column and row-check helpers, and the one
validation entry point (`check_contract`) whose error names column, check and example rows.

Validate eagerly (DataFrames): pandera runs only schema-level checks on a LazyFrame.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from vol_pipeline.contracts.precheck import POLARS_EXPR, passes

UTC_TS = pl.Datetime("us", "UTC")
# Float tolerance for recomputed formulas (values are stored as float64).
FORMULA_TOLERANCE = 1e-9


class ContractError(ValueError):
    """A frame broke its schema; the message names column, check and example rows."""


def expr_check(name: str, expr: pl.Expr) -> pa.Check:
    """A row-wise check from a polars expression (null counts as passing)."""
    check = pa.Check(lambda data: data.lazyframe.select(expr.fill_null(True)), name=name)
    setattr(check, POLARS_EXPR, expr)  # lets the one-pass pre-check evaluate it too
    return check


def column(dtype, nullable: bool = False, checks: list[pa.Check] | None = None, unique: bool = False) -> pa.Column:
    return pa.Column(dtype, nullable=nullable, checks=checks or [], unique=unique)


def unit_interval(nullable: bool) -> pa.Column:
    return column(pl.Float64, nullable=nullable, checks=[pa.Check.in_range(0.0, 1.0)])


def equals(actual: pl.Expr, expected: pl.Expr) -> pl.Expr:
    """Equal within FORMULA_TOLERANCE, and null exactly where the expected value is null."""
    either_null = actual.is_null() | expected.is_null()
    return pl.when(either_null).then(actual.is_null() == expected.is_null()).otherwise(
        (actual - expected).abs() < FORMULA_TOLERANCE
    )


def check_contract(frame: pl.DataFrame, schema: pa.DataFrameSchema, examples: int = 3) -> pl.DataFrame:
    """Validate `frame` eagerly; raise ContractError naming column, check and example rows.

    A frame that passes the one-pass pre-check is valid as it is; anything else goes
    through pandera, which decides and describes the failures."""
    if passes(frame, schema):
        return frame
    try:
        return schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as errors:
        raise ContractError(describe_failures(schema.name, errors.failure_cases, frame, examples)) from None


def describe_failures(table: str, failure_cases: pl.DataFrame, frame: pl.DataFrame, examples: int = 3) -> str:
    """'lane_features: 2 checks failed: column 'x' check 'y' on 5 rows, e.g. {...}; ...'"""
    parts = []
    grouped = failure_cases.group_by("column", "check", maintain_order=True).agg(pl.col("index"), pl.col("failure_case"))
    for name, check, indexes, cases in grouped.iter_rows():
        rows = [i for i in indexes if i is not None][:examples]
        shown = [frame.row(i, named=True) for i in rows] if rows else cases[:examples]
        where = "row check" if name == table else f"column {name!r}"
        parts.append(f"{where} failed check {check!r} on {len(indexes)} row(s), e.g. {shown}")
    return f"{table}: {len(parts)} check(s) failed: " + "; ".join(parts)

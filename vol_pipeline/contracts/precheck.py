"""A one-pass pre-check of a pandera.polars schema: the fast path of `check_contract`.

pandera validates check by check, each a separate polars query: ~30-50 ms per schema even
on a few thousand rows, which is most of a minute run's compute. This module evaluates the
same rules (strict columns, dtypes, nullability, uniqueness, the built-in and expression
checks) as one polars `select`. It may only say "passes" when pandera would pass too: any
rule it does not know makes it answer "not sure", and pandera then decides (and writes the
error message) as before.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

POLARS_EXPR = "polars_expr"  # the attribute contracts/base.py sets on its expression checks


def _builtin(check: pa.Check, column: pl.Expr) -> pl.Expr | None:
    stats = check.statistics or {}
    if check.name == "greater_than":
        return column > stats["min_value"]
    if check.name == "greater_than_or_equal_to":
        return column >= stats["min_value"]
    if check.name == "isin":
        return column.is_in(list(stats["allowed_values"]))
    if check.name == "in_range":
        low = column >= stats["min_value"] if stats["include_min"] else column > stats["min_value"]
        high = column <= stats["max_value"] if stats["include_max"] else column < stats["max_value"]
        return low & high
    return None


def passes(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> bool:
    """True only if every rule of `schema` holds on `frame`; False means "ask pandera"."""
    if schema.strict and set(frame.columns) != set(schema.columns):
        return False
    rules: list[pl.Expr] = []
    for name, column in schema.columns.items():
        if name not in frame.columns or frame.schema[name] != column.dtype.type:
            return False
        values = pl.col(name)
        if not column.nullable:
            rules.append(values.null_count() == 0)
            if frame.schema[name].is_float():  # pandera counts NaN as null
                rules.append(~values.is_nan().any())
        if column.unique:
            rules.append(values.n_unique() == pl.len())
        for check in column.checks:
            rule = _builtin(check, values)
            if rule is None:
                return False
            rules.append(rule.fill_null(True).all())  # pandera skips nulls of nullable columns
    for check in schema.checks:
        rule = getattr(check, POLARS_EXPR, None)
        if rule is None:
            return False
        rules.append(rule.fill_null(True).all())
    if frame.height == 0:
        return True
    keys = list(schema.unique or [])
    if keys:
        rules.append(_strictly_increasing(keys))  # true for the sorted frames the kernels emit
    if not rules:
        return True
    try:
        verdicts = frame.select(rule.alias(f"rule_{i}") for i, rule in enumerate(rules)).row(0)
        if keys and not verdicts[-1]:  # not sorted: count distinct keys (a hash of every row)
            verdicts = (*verdicts[:-1], frame.select(pl.struct(keys).n_unique() == pl.len()).item())
    except pl.exceptions.PolarsError:  # e.g. a strict cast of NaN inside a rule
        return False
    return all(verdicts)


def _strictly_increasing(keys: list[str]) -> pl.Expr:
    """Each row's key tuple is greater than the previous row's: the keys are then unique."""
    later = pl.lit(False)
    for key in reversed(keys):
        column, previous = pl.col(key), pl.col(key).shift(1)
        later = (column > previous) | ((column == previous) & later)
    return later.slice(1).fill_null(False).all()

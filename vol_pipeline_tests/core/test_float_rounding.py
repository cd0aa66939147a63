"""core.float_rounding against Python itself: round(x, d) and f"{x:.{d}f}" on floats."""

from __future__ import annotations

import random

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vol_pipeline.core.float_rounding import with_fixed_text, with_rounded_units


def rounded(values: list[float | None], decimals: int) -> pl.DataFrame:
    frame = pl.DataFrame({"x": values}, schema={"x": pl.Float64})
    frame = with_rounded_units(frame, "x", decimals, "units")
    return with_fixed_text(frame, "x", decimals, "text")


def python_units(value: float, decimals: int) -> int:
    return round(round(value, decimals) * 10**decimals)


def ties_and_near_ties() -> list[float]:
    """Exact ties a double can hold (k/32), the doubles nearest the 4-dp ties, and the
    original's ratios current / (sum / 20) around 2.0, where the float lands either side."""
    random.seed(7)
    values = [k / 32 for k in range(640)]
    values += [(2 * k + 1) / 20_000 for k in range(0, 400_000, 97)]
    values += [c / (s / 20) for c in range(39_990, 40_010) for s in range(399_990, 400_010)]
    values += [random.uniform(0, 20) for _ in range(20_000)]
    return values + [-v for v in values[:2_000]]


@pytest.mark.parametrize("decimals", [0, 1, 2, 3, 4])
def test_matches_python_round_and_format_at_ties(decimals):
    values = ties_and_near_ties()
    frame = rounded(values, decimals)
    assert frame["units"].to_list() == [python_units(v, decimals) for v in values]
    assert frame["text"].to_list() == [f"{v:.{decimals}f}" for v in values]


def test_plain_polars_rounding_misses_ties_that_this_gets_right():
    # Why the module exists: (x * 10**4).round() disagrees with Python near ties.
    values = [(2 * k + 1) / 20_000 for k in range(0, 400_000, 97)]
    plain = (pl.Series(values) * 10**4).round(0, mode="half_to_even").cast(pl.Int64).to_list()
    assert sum(a != python_units(v, 4) for a, v in zip(plain, values)) > 100
    assert rounded(values, 4)["units"].to_list() == [python_units(v, 4) for v in values]


@settings(max_examples=300, deadline=None)
@given(value=st.floats(min_value=-1e10, max_value=1e10, allow_nan=False), decimals=st.integers(0, 4))
def test_matches_python_on_any_float(value, decimals):
    row = rounded([value], decimals).row(0, named=True)
    assert (row["units"], row["text"]) == (python_units(value, decimals), f"{value:.{decimals}f}")


def test_null_nan_and_infinities_give_null():
    frame = rounded([None, float("nan"), float("inf"), float("-inf"), 0.0], 2)
    assert frame["units"].to_list() == [None, None, None, None, 0]
    assert frame["text"].to_list() == [None, None, None, None, "0.00"]


def test_refuses_more_decimals_than_it_can_keep_exact():
    with pytest.raises(ValueError, match="decimals must be in"):
        with_rounded_units(pl.DataFrame({"x": [1.0]}), "x", 5, "units")


def test_lazy_frames_and_the_temporary_columns_are_dropped():
    lazy = with_rounded_units(pl.LazyFrame({"x": [1.23456]}), "x", 4, "units")
    assert lazy.collect().columns == ["x", "units"]
    assert lazy.collect()["units"].to_list() == [12346]

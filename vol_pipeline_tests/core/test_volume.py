"""Volume multiplier table, assessment strings and final confidence (DESIGN §4, reference §9.1)."""

from __future__ import annotations

import math

import polars as pl
import pytest

from vol_pipeline.core.config import SignalRuleSet
from vol_pipeline.core.volume import (
    final_confidence,
    multiplier_bucket,
    volume_assessment,
    volume_multiplier,
    with_assessment_text,
)

# Independent plain-Python reference of the Phase 12 table (strict "<" boundaries).
REFERENCE_TABLE = (
    (0.5, 0.0, "VOLUME_TOO_LOW"),
    (1.2, 0.3, "WEAK_VOLUME"),
    (1.5, 0.6, "BELOW_AVG_VOLUME"),
    (2.0, 1.0, "GOOD_VOLUME"),
    (3.0, 1.2, "STRONG_VOLUME"),
)


def reference(ratio: float | None) -> tuple[float, str]:
    if ratio is None:
        return 0.5, "NO_VOLUME_DATA"
    for below, multiplier, assessment in REFERENCE_TABLE:
        if ratio < below:
            return multiplier, assessment
    return 1.3, "VOLUME_SURGE"


def evaluate(ratios: list[float | None], rules: SignalRuleSet = SignalRuleSet()) -> pl.DataFrame:
    frame = pl.DataFrame({"volume_ratio": ratios}, schema={"volume_ratio": pl.Float64})
    return frame.with_columns(
        mult=volume_multiplier(pl.col("volume_ratio"), rules),
        assessment=volume_assessment(pl.col("volume_ratio"), rules),
    ).pipe(with_assessment_text, rules, "text")


BOUNDARY_CASES = [
    (0.0, 0.0, "VOLUME_TOO_LOW"),
    (0.4999, 0.0, "VOLUME_TOO_LOW"),
    (0.5, 0.3, "WEAK_VOLUME"),
    (1.1999, 0.3, "WEAK_VOLUME"),
    (1.2, 0.6, "BELOW_AVG_VOLUME"),
    (1.4999, 0.6, "BELOW_AVG_VOLUME"),
    (1.5, 1.0, "GOOD_VOLUME"),
    (1.9999, 1.0, "GOOD_VOLUME"),
    (2.0, 1.2, "STRONG_VOLUME"),
    (2.9999, 1.2, "STRONG_VOLUME"),
    (3.0, 1.3, "VOLUME_SURGE"),
    (20.0, 1.3, "VOLUME_SURGE"),
    (None, 0.5, "NO_VOLUME_DATA"),
]


@pytest.mark.parametrize(("ratio", "multiplier", "assessment"), BOUNDARY_CASES)
def test_multiplier_at_and_below_each_boundary(ratio, multiplier, assessment):
    assert reference(ratio) == (multiplier, assessment)  # the reference itself is right
    row = evaluate([ratio]).row(0, named=True)
    assert row["mult"] == multiplier
    assert row["assessment"] == assessment


def test_multiplier_matches_reference_on_a_grid():
    ratios: list[float | None] = [i / 1000 for i in range(0, 5001, 7)] + [None, 0.5, 1.2, 1.5, 2.0, 3.0]
    frame = evaluate(ratios)
    assert frame.schema["mult"] == pl.Float64
    for ratio, mult, assessment in frame.select("volume_ratio", "mult", "assessment").iter_rows():
        assert (mult, assessment) == reference(ratio), ratio


@pytest.mark.parametrize(
    ("ratio", "text"),
    [
        (0.87, "WEAK_VOLUME (ratio 0.87)"),
        (0.5, "WEAK_VOLUME (ratio 0.50)"),
        (0.04, "VOLUME_TOO_LOW (ratio 0.04)"),
        (0.0, "VOLUME_TOO_LOW (ratio 0.00)"),
        (1.2345, "BELOW_AVG_VOLUME (ratio 1.23)"),
        (1.7, "GOOD_VOLUME (ratio 1.70)"),
        (2.999, "STRONG_VOLUME (ratio 3.00)"),  # label from the ratio, text rounded
        (4.3779, "VOLUME_SURGE (ratio 4.38)"),
        (12.0, "VOLUME_SURGE (ratio 12.00)"),
        (None, "NO_VOLUME_DATA"),
    ],
)
def test_assessment_text_format(ratio, text):
    assert evaluate([ratio])["text"].to_list() == [text]


def test_assessment_text_is_the_originals_fstring_for_every_4dp_ratio():
    # Every value volume_ratio can take under the original rule, 0.0000 .. 20.0000, as the
    # float the original formatted: half-to-even on ratio*100 differed on 824 of them.
    ratios = [k / 10_000 for k in range(200_001)]
    texts = evaluate(ratios)["text"].to_list()
    mismatched = [(r, t) for r, t in zip(ratios, texts) if t != f"{reference(r)[1]} (ratio {r:.2f})"]
    assert mismatched == []
    assert evaluate([1.015])["text"].item() == "WEAK_VOLUME (ratio 1.01)"  # the float is 1.01499...


@pytest.mark.parametrize(
    ("base", "mult", "expected"),
    [
        (0.6, 1.3, 0.78),
        (0.5, 0.3, 0.15),
        (0.9, 0.0, 0.0),
        (0.7, 1.0, 0.7),
        (0.9, 1.3, 1.0),  # capped
        (0.8, 1.2, 0.96),
        (0.85, 1.2, 1.0),  # 1.02 capped
        (1.0, 1.3, 1.0),
        (0.4, 0.5, 0.2),
    ],
)
def test_final_confidence_is_capped_product(base, mult, expected):
    frame = pl.DataFrame({"base": [base], "mult": [mult]})
    value = frame.select(final_confidence(pl.col("base"), pl.col("mult"))).item()
    assert value == pytest.approx(min(1.0, base * mult), abs=1e-12)
    assert value == pytest.approx(expected, abs=1e-12)
    assert value <= 1.0


def test_final_confidence_of_a_missing_base_is_missing():
    # min(1, null * m) has no value: a missing base must not become full confidence.
    frame = pl.DataFrame({"base": [None, 0.5], "mult": [1.3, 1.3]}, schema={"base": pl.Float64, "mult": pl.Float64})
    values = frame.select(final_confidence(pl.col("base"), pl.col("mult")).alias("c"))["c"].to_list()
    assert values[0] is None
    assert values[1] == pytest.approx(0.65)


def test_final_confidence_over_the_table():
    bases = [0.0, 0.25, 0.5, 0.636, 0.77, 0.9, 1.0]
    ratios = [0.3, 0.5, 1.3, 1.6, 2.5, 3.5, None]
    rows = [(b, r) for b in bases for r in ratios]
    frame = pl.DataFrame(rows, schema={"base": pl.Float64, "volume_ratio": pl.Float64}, orient="row")
    out = frame.with_columns(
        conf=final_confidence(pl.col("base"), volume_multiplier(pl.col("volume_ratio")))
    )
    for base, ratio, conf in out.iter_rows():
        assert math.isclose(conf, min(1.0, base * reference(ratio)[0]), abs_tol=1e-12), (base, ratio)


@pytest.mark.parametrize(
    ("mult", "bucket"),
    [(0.0, "kill"), (0.3, "reduced"), (0.5, "reduced"), (0.6, "reduced"), (1.0, "normal"), (1.2, "boosted"), (1.3, "boosted")],
)
def test_multiplier_bucket(mult, bucket):
    frame = pl.DataFrame({"mult": [mult]})
    assert frame.select(multiplier_bucket(pl.col("mult"))).item() == bucket


def test_buckets_of_every_table_multiplier():
    ratios = [0.1, 0.7, 1.3, 1.7, 2.5, 4.0, None]
    frame = evaluate(ratios).with_columns(bucket=multiplier_bucket(pl.col("mult")))
    assert frame["bucket"].to_list() == ["kill", "reduced", "reduced", "normal", "boosted", "boosted", "reduced"]


def test_custom_rule_set_table_is_used():
    from vol_pipeline.core.config import VolumeTier

    rules = SignalRuleSet(
        version="test",
        volume_tiers=(VolumeTier(1.0, 0.0, "LOW"), VolumeTier(2.0, 1.0, "OK")),
        surge_multiplier=1.5,
        surge_assessment="HIGH",
        null_volume_multiplier=0.25,
    )
    frame = evaluate([0.99, 1.0, 1.99, 2.0, None], rules)
    assert frame["mult"].to_list() == [0.0, 1.0, 1.0, 1.5, 0.25]
    assert frame["assessment"].to_list() == ["LOW", "OK", "OK", "HIGH", "NO_VOLUME_DATA"]

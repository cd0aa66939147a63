"""The one-pass pre-check never passes a frame pandera would reject, and it knows every
rule of the project's schemas (else check_contract silently falls back to slow pandera)."""

from __future__ import annotations

import datetime
import math

import pandera.errors
import pandera.polars as pa
import polars as pl
import pytest

from vol_pipeline.contracts.precheck import passes
from vol_pipeline.core.dispatch import DispatchConfig, dispatch
from vol_pipeline.core.features import lane_features
from vol_pipeline.core.recommendations import recommend
from vol_pipeline.core.signals import evaluate_signals
from vol_pipeline.contracts import BARS_SCHEMA, LANE_FEATURES_SCHEMA, RECOMMENDATIONS_SCHEMA, SIGNALS_SCHEMA, executions_schema
from vol_pipeline.sources.synthetic import SyntheticBarSource
from vol_pipeline.sources.base import with_provenance


@pytest.fixture(scope="module")
def valid() -> dict[str, tuple[pl.DataFrame, pa.DataFrameSchema]]:
    bars = SyntheticBarSource(tickers=("AAPL", "MSFT", "TSLA"), seed=7).generate(datetime.date(2026, 11, 23), 2)
    features = lane_features(bars)
    signals = evaluate_signals(features)
    recommendations = recommend(signals)
    executions = dispatch(recommendations, features, bars, None, None, DispatchConfig())
    return {
        "bars": (with_provenance(bars, "synthetic", pl.col("ts") + datetime.timedelta(minutes=1)), BARS_SCHEMA),
        "lane_features": (features, LANE_FEATURES_SCHEMA),
        "signals": (signals, SIGNALS_SCHEMA),
        "recommendations": (recommendations, RECOMMENDATIONS_SCHEMA),
        "executions": (executions, executions_schema(DispatchConfig())),
    }


def pandera_accepts(frame: pl.DataFrame, schema: pa.DataFrameSchema) -> bool:
    try:
        schema.validate(frame, lazy=True)
        return True
    except pandera.errors.SchemaErrors:
        return False


BAD_VALUES = {
    pl.Float64: [None, -1.0, 0.0, math.nan, math.inf, 1e30, 0.12345],
    pl.Int64: [None, -1, 0, 10**15],
    pl.Int32: [None, -2, 2],
    pl.String: [None, "", "BOGUS", "{}"],
    pl.Boolean: [None, True, False],
}


@pytest.mark.parametrize("name", ["bars", "lane_features", "signals", "recommendations", "executions"])
def test_valid_output_takes_the_fast_path(valid, name):
    frame, schema = valid[name]
    assert frame.height > 0
    assert passes(frame, schema), f"{name}: the pre-check does not know one of the schema's rules"


@pytest.mark.parametrize("name", ["bars", "lane_features", "signals", "recommendations", "executions"])
def test_the_pre_check_is_never_more_lenient_than_pandera(valid, name):
    """Every column of the first, a middle and the last row set to each awkward value:
    whenever the pre-check says "passes", pandera must agree."""
    frame, schema = valid[name]
    tried = disagreements = 0
    for index in (0, frame.height // 2, frame.height - 1):
        for column, dtype in frame.schema.items():
            for value in BAD_VALUES.get(dtype.base_type(), [None]):
                row = pl.int_range(pl.len()) == index
                tampered = frame.with_columns(pl.when(row).then(pl.lit(value, dtype)).otherwise(pl.col(column)).alias(column))
                tried += 1
                if passes(tampered, schema) and not pandera_accepts(tampered, schema):
                    disagreements += 1
    assert tried > 50
    assert disagreements == 0


def test_a_duplicate_key_row_is_not_passed(valid):
    frame, schema = valid["lane_features"]
    assert not passes(pl.concat([frame, frame.head(1)]), schema)  # unsorted: counted
    assert not passes(pl.concat([frame, frame.head(1)]).sort("ticker", "ts"), schema)  # sorted, not strictly
    assert passes(frame.reverse(), schema)  # unique but unsorted: counted, passes


def test_schema_shape_problems_are_left_to_pandera(valid):
    frame, schema = valid["bars"]
    assert not passes(frame.drop("volume"), schema)
    assert not passes(frame.with_columns(extra=pl.lit(1)), schema)
    assert not passes(frame.with_columns(pl.col("volume").cast(pl.Float64)), schema)
    assert not passes(frame.with_columns(pl.col("ts").dt.replace_time_zone(None)), schema)


def test_a_rule_it_does_not_know_is_left_to_pandera():
    schema = pa.DataFrameSchema({"x": pa.Column(pl.Int64, checks=[pa.Check(lambda data: data.lazyframe.select(pl.col("x") > 0))])})
    assert not passes(pl.DataFrame({"x": [1, 2]}), schema)
    assert pandera_accepts(pl.DataFrame({"x": [1, 2]}), schema)

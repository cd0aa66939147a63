"""The pandera contracts accept the pipeline's output and reject tampered frames by name."""

from __future__ import annotations

import datetime

import polars as pl
import pytest

from vol_pipeline.core.features import lane_features
from vol_pipeline.core.recommendations import recommend
from vol_pipeline.core.signals import evaluate_signals
from vol_pipeline.contracts import (
    BARS_SCHEMA,
    LANE_FEATURES_SCHEMA,
    RECOMMENDATIONS_SCHEMA,
    SIGNALS_SCHEMA,
    ContractError,
    check_contract,
)
from vol_pipeline.sources.base import with_provenance
from vol_pipeline.sources.synthetic import SyntheticBarSource


@pytest.fixture(scope="module")
def pipeline() -> dict[str, pl.DataFrame]:
    bars = SyntheticBarSource(tickers=("AAPL", "MSFT"), seed=7).generate(datetime.date(2026, 11, 23), 2)
    features = lane_features(bars)
    signals = evaluate_signals(features)
    recommendations = recommend(signals)
    stored = with_provenance(bars, "synthetic", pl.col("ts") + datetime.timedelta(minutes=1))
    return {"bars": stored, "features": features, "signals": signals, "recommendations": recommendations}


def tamper(frame: pl.DataFrame, index: int, **values) -> pl.DataFrame:
    """`frame` with the given columns replaced at row `index` (dtypes kept)."""
    row_no = pl.int_range(pl.len()) == index
    return frame.with_columns(
        pl.when(row_no).then(pl.lit(value, dtype=frame.schema[name])).otherwise(pl.col(name)).alias(name)
        for name, value in values.items()
    )


def first_index(frame: pl.DataFrame, condition: pl.Expr) -> int:
    indexes = frame.with_row_index("i").filter(condition)["i"]
    assert len(indexes) > 0, f"no row with {condition}"
    return int(indexes[0])


def rejected_message(frame: pl.DataFrame, schema) -> str:
    with pytest.raises(ContractError) as info:
        check_contract(frame, schema)
    return str(info.value)


# --- valid output passes ----------------------------------------------------------------------
def test_pipeline_output_satisfies_every_schema(pipeline):
    assert pipeline["recommendations"].height > 0
    check_contract(pipeline["bars"], BARS_SCHEMA)
    check_contract(pipeline["features"], LANE_FEATURES_SCHEMA)
    check_contract(pipeline["signals"], SIGNALS_SCHEMA)
    check_contract(pipeline["recommendations"], RECOMMENDATIONS_SCHEMA)


# --- lane_features -----------------------------------------------------------------------------
def test_lane_features_rejects_surge_inconsistent_with_ratio(pipeline):
    features = pipeline["features"]
    calm = first_index(features, pl.col("volume_ratio") < 1.5)
    message = rejected_message(tamper(features, calm, volume_surge=True), LANE_FEATURES_SCHEMA)
    assert message.startswith("lane_features:")
    assert "volume_surge consistent with volume_ratio" in message

    busy = first_index(features, pl.col("volume_ratio") > 2.5)
    message = rejected_message(tamper(features, busy, volume_surge=False), LANE_FEATURES_SCHEMA)
    assert "volume_surge consistent with volume_ratio" in message


def test_lane_features_rejects_ratio_above_20(pipeline):
    features = pipeline["features"]
    index = first_index(features, pl.col("volume_ratio").is_not_null())
    message = rejected_message(tamper(features, index, volume_ratio=25.0, volume_surge=True), LANE_FEATURES_SCHEMA)
    assert "volume_ratio <= 20" in message
    assert "volume_surge consistent" not in message  # only the broken check is named
    assert "25.0" in message  # the example row is shown


def test_lane_features_rejects_null_ratio_with_an_average(pipeline):
    features = pipeline["features"]
    index = first_index(features, pl.col("volume_avg_20").is_not_null())
    message = rejected_message(tamper(features, index, volume_ratio=None, volume_surge=None), LANE_FEATURES_SCHEMA)
    assert "volume_avg_20, volume_ratio, volume_surge null together" in message


def test_lane_features_rejects_wrong_trend_state(pipeline):
    features = pipeline["features"]
    index = first_index(features, pl.col("trend_state") == 1)
    message = rejected_message(tamper(features, index, trend_state=-1), LANE_FEATURES_SCHEMA)
    assert "trend_state is the sign of sma20 - sma50" in message


# --- signals ------------------------------------------------------------------------------------
def test_signals_reject_hold_with_an_instrument(pipeline):
    signals = pipeline["signals"]
    index = first_index(signals, pl.col("action") == "HOLD")
    message = rejected_message(tamper(signals, index, instrument_type="CALL"), SIGNALS_SCHEMA)
    assert message.startswith("signals:")
    assert "HOLD exactly when no instrument" in message


def test_signals_reject_a_trade_without_an_instrument(pipeline):
    signals = pipeline["signals"]
    index = first_index(signals, pl.col("action") == "BUY")
    message = rejected_message(tamper(signals, index, instrument_type=None), SIGNALS_SCHEMA)
    assert "HOLD exactly when no instrument" in message


def test_signals_reject_confidence_off_the_formula(pipeline):
    signals = pipeline["signals"]
    index = first_index(signals, pl.col("confidence").is_between(0.1, 0.9))
    bumped = signals["confidence"][index] + 0.05
    message = rejected_message(tamper(signals, index, confidence=bumped), SIGNALS_SCHEMA)
    assert "confidence = min(1, base_confidence * multiplier(volume_ratio))" in message


def test_signals_reject_confidence_without_a_base(pipeline):
    # A NO_SETUP row has no base confidence; a confidence of 1.0 there is not min(1, base*mult).
    signals = pipeline["signals"]
    index = first_index(signals, pl.col("rule") == "NO_SETUP")
    message = rejected_message(tamper(signals, index, confidence=1.0), SIGNALS_SCHEMA)
    assert "confidence" in message


# --- recommendations ---------------------------------------------------------------------------
def test_recommendations_reject_confidence_off_the_formula(pipeline):
    recs = pipeline["recommendations"]
    index = first_index(recs, pl.col("confidence").is_between(0.1, 0.9))
    bumped = recs["confidence"][index] + 0.05
    message = rejected_message(tamper(recs, index, confidence=bumped), RECOMMENDATIONS_SCHEMA)
    assert message.startswith("recommendations:")
    assert "confidence = min(1, base_confidence * multiplier(volume_ratio))" in message
    assert recs["id"][index] in message  # example row shown


def test_recommendations_reject_multiplier_off_the_table(pipeline):
    recs = pipeline["recommendations"]
    index = first_index(recs, pl.col("volume_mult") == 0.3)
    message = rejected_message(tamper(recs, index, volume_mult=1.0), RECOMMENDATIONS_SCHEMA)
    assert "volume_mult = multiplier(volume_ratio)" in message


def test_recommendations_reject_a_hold(pipeline):
    recs = pipeline["recommendations"]
    message = rejected_message(tamper(recs, 0, action="HOLD"), RECOMMENDATIONS_SCHEMA)
    assert "'action'" in message


def test_contract_error_is_one_value_error(pipeline):
    features = pipeline["features"]
    index = first_index(features, pl.col("volume_ratio") < 1.5)
    with pytest.raises(ValueError):
        check_contract(tamper(features, index, volume_surge=True), LANE_FEATURES_SCHEMA)

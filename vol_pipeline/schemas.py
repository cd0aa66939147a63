"""pandera.polars schemas: the single source of every asset table's column contract.

Validate eagerly (DataFrames): pandera runs only schema-level checks on a LazyFrame.
`check_contract` turns failures into one readable error naming the column, the check and
example rows.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from vol_pipeline.contract_precheck import POLARS_EXPR, passes
from vol_pipeline.core.bars import BAR_ROW_CHECKS, FEEDS, STORED_BAR_SCHEMA
from vol_pipeline.core.config import FeatureConfig, SignalRuleSet
from vol_pipeline.core.volume import final_confidence, volume_multiplier

UTC_TS = pl.Datetime("us", "UTC")
# Float tolerance for recomputed formulas (values are stored as float64).
FORMULA_TOLERANCE = 1e-9


class ContractError(ValueError):
    """A frame broke its schema; the message names column, check and example rows."""


def _expr_check(name: str, expr: pl.Expr) -> pa.Check:
    """A row-wise check from a polars expression (null counts as passing)."""
    check = pa.Check(lambda data: data.lazyframe.select(expr.fill_null(True)), name=name)
    setattr(check, POLARS_EXPR, expr)  # lets the one-pass pre-check evaluate it too
    return check


def _column(dtype, nullable: bool = False, checks: list[pa.Check] | None = None, unique: bool = False) -> pa.Column:
    return pa.Column(dtype, nullable=nullable, checks=checks or [], unique=unique)


# --- bars -------------------------------------------------------------------------------
BARS_SCHEMA = pa.DataFrameSchema(
    {
        "ticker": _column(pl.String),
        "ts": _column(UTC_TS),
        **{c: _column(pl.Float64) for c in ("open", "high", "low", "close")},
        "volume": _column(pl.Int64, nullable=True),
        # Provenance: which feed the bar came from and when it was read.
        "feed": _column(pl.String),
        "fetched_at": _column(UTC_TS),
    },
    checks=[*(_expr_check(f"{check.column}: {check.name}", check.passes) for check in BAR_ROW_CHECKS),
            _expr_check(f"feed: one of {', '.join(FEEDS)}", pl.col("feed").is_in(FEEDS))],
    unique=["ticker", "ts"],
    strict=True,
    name="bars",
)
assert set(BARS_SCHEMA.columns) == set(STORED_BAR_SCHEMA)


# --- lane_features ----------------------------------------------------------------------
def lane_features_schema(config: FeatureConfig = FeatureConfig()) -> pa.DataFrameSchema:
    ratio, surge = pl.col("volume_ratio"), pl.col("volume_surge")
    volume_trio = [pl.col(c).is_null() for c in ("volume_avg_20", "volume_ratio", "volume_surge")]
    checks = [
        _expr_check("volume_surge consistent with volume_ratio (ratio > 2 => surge => ratio >= 2)",
                    ((ratio > 2.0) <= surge) & (surge <= (ratio >= 2.0))),
        _expr_check("volume_avg_20, volume_ratio, volume_surge null together",
                    pl.all_horizontal(volume_trio) | ~pl.any_horizontal(volume_trio)),
        _expr_check("volume_ratio has 4 decimals", ((ratio * 10_000).round() - ratio * 10_000).abs() < 1e-6),
        _expr_check("trend_state is the sign of sma20 - sma50",
                    pl.col("trend_state") == (pl.col("sma20") - pl.col("sma50")).sign().cast(pl.Int32)),
    ]
    if not config.volume_prior_bars:
        # The current bar is inside its own 20-bar average, so the ratio is at most 20.
        checks.append(_expr_check("volume_ratio <= 20 (current bar in its own average)", ratio <= 20.0))
    non_negative = [pa.Check.ge(0)]
    return pa.DataFrameSchema(
        {
            "ticker": _column(pl.String),
            "ts": _column(UTC_TS),
            "close": _column(pl.Float64, checks=[pa.Check.gt(0)]),
            "sma20": _column(pl.Float64, checks=[pa.Check.gt(0)]),
            "sma50": _column(pl.Float64, checks=[pa.Check.gt(0)]),
            "recent_vol": _column(pl.Float64, checks=non_negative),
            "baseline_vol": _column(pl.Float64, checks=non_negative),
            "vol_ratio": _column(pl.Float64, nullable=True, checks=non_negative),
            "distance_sma20": _column(pl.Float64),
            "distance_sma50": _column(pl.Float64),
            "trend_state": _column(pl.Int32, checks=[pa.Check.isin([-1, 0, 1])]),
            "volume_current": _column(pl.Int64, nullable=True, checks=non_negative),
            "volume_avg_20": _column(pl.Int64, nullable=True, checks=non_negative),
            "volume_ratio": _column(pl.Float64, nullable=True, checks=non_negative),
            "volume_surge": _column(pl.Boolean, nullable=True),
        },
        checks=checks,
        unique=["ticker", "ts"],
        strict=True,
        name="lane_features",
    )


LANE_FEATURES_SCHEMA = lane_features_schema()


# --- signals and recommendations ----------------------------------------------------------
def _equals(actual: pl.Expr, expected: pl.Expr) -> pl.Expr:
    """Equal within FORMULA_TOLERANCE, and null exactly where the expected value is null."""
    either_null = actual.is_null() | expected.is_null()
    return pl.when(either_null).then(actual.is_null() == expected.is_null()).otherwise(
        (actual - expected).abs() < FORMULA_TOLERANCE
    )


def _confidence_checks(rules: SignalRuleSet) -> list[pa.Check]:
    expected_mult = volume_multiplier(pl.col("volume_ratio"), rules)
    expected_conf = final_confidence(pl.col("base_confidence"), expected_mult)
    return [
        _expr_check("volume_mult = multiplier(volume_ratio)", _equals(pl.col("volume_mult"), expected_mult)),
        _expr_check("confidence = min(1, base_confidence * multiplier(volume_ratio))",
                    _equals(pl.col("confidence"), expected_conf)),
    ]


def _unit_interval(nullable: bool) -> pa.Column:
    return _column(pl.Float64, nullable=nullable, checks=[pa.Check.in_range(0.0, 1.0)])


def signals_schema(rules: SignalRuleSet = SignalRuleSet()) -> pa.DataFrameSchema:
    hold = pl.col("action") == "HOLD"
    return pa.DataFrameSchema(
        {
            "ticker": _column(pl.String),
            "ts": _column(UTC_TS),
            "rule_version": _column(pl.String),
            "rule": _column(pl.String, checks=[pa.Check.isin(["BULLISH_ENTRY", "BEARISH_ENTRY", "NO_SETUP", "VOLUME_TOO_LOW"])]),
            "action": _column(pl.String, checks=[pa.Check.isin(["BUY", "SELL", "HOLD"])]),
            "instrument_type": _column(pl.String, nullable=True, checks=[pa.Check.isin(["CALL", "PUT", "STOCK"])]),
            "direction": _column(pl.String, nullable=True, checks=[pa.Check.isin(["LONG", "SHORT"])]),
            "close": _column(pl.Float64),
            "sma20": _column(pl.Float64),
            "sma50": _column(pl.Float64),
            "distance_sma20": _column(pl.Float64),
            "trend_state": _column(pl.Int32),
            "recent_vol": _column(pl.Float64),
            "vol_ratio": _column(pl.Float64, nullable=True),
            "vol_regime": _column(pl.String, checks=[pa.Check.isin(["compressed", "normal", "high", "unknown"])]),
            "sentiment_score": _column(pl.Float64, checks=[pa.Check.in_range(-1.0, 1.0)]),
            "news_count": _column(pl.Int64, checks=[pa.Check.ge(0)]),
            "sentiment_strength": _unit_interval(False),
            "trend_alignment": _unit_interval(True),
            "setup_quality": _unit_interval(False),
            "vol_appropriateness": _unit_interval(False),
            "base_confidence": _unit_interval(True),
            "volume_ratio": _column(pl.Float64, nullable=True, checks=[pa.Check.ge(0)]),
            "volume_mult": _column(pl.Float64),
            "volume_assessment": _column(pl.String),
            "confidence": _unit_interval(True),
        },
        checks=[
            *_confidence_checks(rules),
            _expr_check("HOLD exactly when no instrument", hold == pl.col("instrument_type").is_null()),
            _expr_check("VOLUME_TOO_LOW exactly when a direction meets multiplier 0",
                        (pl.col("rule") == "VOLUME_TOO_LOW") == (pl.col("direction").is_not_null() & (pl.col("volume_mult") == 0))),
        ],
        unique=["ticker", "ts"],
        strict=True,
        name="signals",
    )


def recommendations_schema(rules: SignalRuleSet = SignalRuleSet()) -> pa.DataFrameSchema:
    reason = pl.col("reason")
    return pa.DataFrameSchema(
        {
            "id": _column(pl.String, unique=True),
            "ticker": _column(pl.String),
            "ts": _column(UTC_TS),
            "action": _column(pl.String, checks=[pa.Check.isin(["BUY", "SELL"])]),
            "instrument_type": _column(pl.String, checks=[pa.Check.isin(["CALL", "PUT", "STOCK"])]),
            "rule": _column(pl.String, checks=[pa.Check.isin(["BULLISH_ENTRY", "BEARISH_ENTRY"])]),
            "rule_version": _column(pl.String),
            "base_confidence": _unit_interval(False),
            "volume_ratio": _column(pl.Float64, nullable=True, checks=[pa.Check.ge(0)]),
            "volume_mult": _column(pl.Float64, checks=[pa.Check.gt(0)]),
            "volume_assessment": _column(pl.String),
            "confidence": _unit_interval(False),
            "reason": _column(pl.String),
        },
        checks=[
            *_confidence_checks(rules),
            _expr_check("reason has volume.volume_mult = volume_mult",
                        reason.str.json_path_match("$.volume.volume_mult").cast(pl.Float64) == pl.col("volume_mult")),
            _expr_check("reason has the rule-set version",
                        reason.str.json_path_match("$.version") == pl.col("rule_version")),
        ],
        unique=["ticker", "ts"],
        strict=True,
        name="recommendations",
    )


SIGNALS_SCHEMA = signals_schema()
RECOMMENDATIONS_SCHEMA = recommendations_schema()


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
    for column, check, indexes, cases in grouped.iter_rows():
        rows = [i for i in indexes if i is not None][:examples]
        shown = [frame.row(i, named=True) for i in rows] if rows else cases[:examples]
        where = "row check" if column == table else f"column {column!r}"
        parts.append(f"{where} failed check {check!r} on {len(indexes)} row(s), e.g. {shown}")
    return f"{table}: {len(parts)} check(s) failed: " + "; ".join(parts)

"""Volume multiplier, assessment and final confidence (reference §9.1, DESIGN §4).

Expressions over a `volume_ratio` column so they run vectorised inside any frame; the
table itself lives in SignalRuleSet.volume_tiers (strict "<" boundaries).
"""

from __future__ import annotations

import polars as pl

from vol_pipeline.core.config import SignalRuleSet
from vol_pipeline.core.float_rounding import Frame, with_fixed_text

KILL_ASSESSMENT = "VOLUME_TOO_LOW"


def _by_tier(ratio: pl.Expr, rules: SignalRuleSet, pick, surge, null) -> pl.Expr:
    chain = pl.when(ratio.is_null()).then(pl.lit(null))
    for tier in rules.volume_tiers:
        chain = chain.when(ratio < tier.below).then(pl.lit(pick(tier)))
    return chain.otherwise(pl.lit(surge))


def volume_multiplier(ratio: pl.Expr, rules: SignalRuleSet = SignalRuleSet()) -> pl.Expr:
    """Multiplier for a volume_ratio: the Phase 12 table; a null ratio gets 0.5."""
    return _by_tier(
        ratio, rules, lambda t: t.multiplier, rules.surge_multiplier, rules.null_volume_multiplier
    ).cast(pl.Float64)


def volume_assessment(ratio: pl.Expr, rules: SignalRuleSet = SignalRuleSet()) -> pl.Expr:
    """Assessment code: VOLUME_TOO_LOW, WEAK_VOLUME, ..., VOLUME_SURGE, NO_VOLUME_DATA."""
    return _by_tier(ratio, rules, lambda t: t.assessment, rules.surge_assessment, rules.null_volume_assessment)


def with_assessment_text(frame: Frame, rules: SignalRuleSet = SignalRuleSet(), name: str = "assessment_text") -> Frame:
    """Adds `name`: the original's string f"{code} (ratio {volume_ratio:.2f})", e.g.
    'WEAK_VOLUME (ratio 0.87)', formatted as Python formats the float (1.015 -> '1.01');
    the bare code when the ratio is null."""
    code = volume_assessment(pl.col("volume_ratio"), rules)
    text = pl.format("{} (ratio {})", code, pl.col(name))
    return with_fixed_text(frame, "volume_ratio", 2, name).with_columns(
        pl.when(pl.col("volume_ratio").is_null()).then(code).otherwise(text).alias(name))


def final_confidence(base_confidence: pl.Expr, multiplier: pl.Expr) -> pl.Expr:
    """confidence = min(1, base_confidence * multiplier); null when either input is null.

    (`min_horizontal` would skip a null product and return 1.0.)
    """
    return (base_confidence * multiplier).clip(upper_bound=1.0)


def multiplier_bucket(multiplier: pl.Expr) -> pl.Expr:
    """The seed report's buckets: kill (0), reduced (<1), normal (1), boosted (>1); null stays null."""
    return (
        pl.when(multiplier.is_null()).then(pl.lit(None, pl.String))
        .when(multiplier == 0).then(pl.lit("kill"))
        .when(multiplier < 1).then(pl.lit("reduced"))
        .when(multiplier == 1).then(pl.lit("normal"))
        .otherwise(pl.lit("boosted"))
    )

"""Blocking asset checks, evaluated on the frame an asset is about to write.

Each check sees exactly the rows of the partition (or backfill range) being written, so
it never loads other partitions. A failed check is recorded, and the asset then fails
with the check's message instead of writing: bad rows never reach the warehouse and
nothing downstream runs on them.
"""

from __future__ import annotations

from typing import Iterator

import dagster as dg
import pandera.polars as pa
import polars as pl

from vol_pipeline.core.config import SignalRuleSet
from vol_pipeline.core.volume import final_confidence, volume_multiplier
from vol_pipeline.schemas import ContractError, check_contract

CONTRACT = "pandera_contract"
CONFIDENCE_FORMULA = "confidence_formula"


def contract_spec(asset: str, partitions: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    # partitions_def: a single-minute run records the result against its own partition.
    return dg.AssetCheckSpec(
        CONTRACT, asset=asset, blocking=True, partitions_def=partitions,
        description=f"Every row written to {asset} satisfies its pandera.polars contract (vol_pipeline/schemas.py).",
    )


def confidence_spec(asset: str, partitions: dg.PartitionsDefinition) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        CONFIDENCE_FORMULA, asset=asset, blocking=True, partitions_def=partitions,
        description="Recomputes confidence = min(1, base_confidence * multiplier(volume_ratio)) on every recommendation.",
    )


def _result(asset: str, check: str, failure: str | None, rows: int) -> dg.AssetCheckResult:
    metadata = {"rows_checked": rows}
    if failure:
        metadata["failure"] = dg.MetadataValue.text(failure)
    return dg.AssetCheckResult(asset_key=asset, check_name=check, passed=failure is None, metadata=metadata)


def contract_result(asset: str, frame: pl.DataFrame, schema: pa.DataFrameSchema) -> dg.AssetCheckResult:
    try:
        check_contract(frame, schema)
        failure = None
    except ContractError as error:
        failure = str(error)
    return _result(asset, CONTRACT, failure, frame.height)


def confidence_result(asset: str, frame: pl.DataFrame, rules: SignalRuleSet) -> dg.AssetCheckResult:
    expected = final_confidence(pl.col("base_confidence"), volume_multiplier(pl.col("volume_ratio"), rules))
    off = frame.filter((pl.col("confidence") - expected).abs().fill_null(1.0) > 1e-9)
    failure = None
    if off.height:
        example = off.select("id", "base_confidence", "volume_ratio", "volume_mult", "confidence").row(0, named=True)
        failure = f"{off.height} of {frame.height} recommendation(s) off the formula, e.g. {example}"
    return _result(asset, CONFIDENCE_FORMULA, failure, frame.height)


def yield_checked(results: list[dg.AssetCheckResult]) -> Iterator[dg.AssetCheckResult]:
    """Yield the check results; stop the asset (before it writes) if any failed."""
    yield from results
    failures = [r.metadata["failure"].value for r in results if not r.passed]
    if failures:
        raise dg.Failure(description="; ".join(failures))

"""Blocking asset checks, evaluated on the frame an asset is about to write.

Each check sees exactly the rows of the partition (or backfill range) being written, so
it never loads other partitions. A failed check is recorded, and the asset then fails
with the check's message instead of writing: bad rows never reach the warehouse and
nothing downstream runs on them.
"""

from __future__ import annotations

import time
from typing import Iterable, Iterator

import dagster as dg
import pandera.polars as pa
import polars as pl

from vol_pipeline.core.config import SignalRuleSet
from vol_pipeline.core.volume import final_confidence, volume_multiplier
from vol_pipeline.contracts import ContractError, check_contract

CONTRACT = "pandera_contract"
CONFIDENCE_FORMULA = "confidence_formula"


def contract_spec(asset: str, partitions: dg.PartitionsDefinition | None) -> dg.AssetCheckSpec:
    # partitions_def: a single-minute run records the result against its own partition.
    return dg.AssetCheckSpec(
        CONTRACT, asset=asset, blocking=True, partitions_def=partitions,
        description=f"Every row written to {asset} satisfies its pandera.polars contract (vol_pipeline/contracts/).",
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


def checked_outputs(
    context: dg.AssetExecutionContext, results: list[dg.AssetCheckResult], outputs: Iterable[dg.Output]
) -> Iterator[dg.Output | dg.AssetCheckResult | dg.AssetCheckEvaluation]:
    """Write `outputs` only if every check passed, then record the checks against what was
    written. `outputs` may be a generator: it then runs only when the checks passed.

    The checks ran on the frames before anything was written, so a failure stops the asset
    (nothing written, nothing downstream). They are recorded after the outputs so that each
    evaluation targets the materialization it checked (the UI shows a check green only then).
    A range run records one evaluation per minute: Dagster's own AssetCheckResult would
    record one for the whole range without a partition, and the minutes would stay PLANNED.
    """
    failures = [r.metadata["failure"].value for r in results if not r.passed]
    if failures:
        yield from _recorded(context, results, targets={})
        raise dg.Failure(description="; ".join(failures))
    yield from outputs
    if not _is_range(context):
        yield from results  # one partition: Dagster records it against that partition
        return
    yield from (dg.Output(None, output_name=context.assets_def.get_output_name_for_asset_check_key(key))
                for key in {_check_key(context, r) for r in results})
    assets = {r.asset_key for r in results}
    yield from _recorded(context, results, targets={asset: _latest_materializations(context, asset) for asset in assets})


def _check_key(context: dg.AssetExecutionContext, result: dg.AssetCheckResult) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(result.asset_key or context.assets_def.key, result.check_name)


def _is_range(context: dg.AssetExecutionContext) -> bool:
    return context.has_partition_key_range and context.partition_key_range.start != context.partition_key_range.end


def _recorded(context, results, targets) -> Iterator[dg.AssetCheckResult | dg.AssetCheckEvaluation]:
    if not _is_range(context):
        yield from results
        return
    keys = context.partition_keys
    for result in results:
        key = _check_key(context, result)
        spec = context.assets_def.get_spec_for_check_key(key)
        asset_targets = targets.get(key.asset_key, {})
        # The check ran once over the whole range: its counts are the window's, not the minute's.
        metadata = {("window_" + name if name == "rows_checked" else name): value for name, value in result.metadata.items()}
        metadata["window"] = dg.MetadataValue.text(f"{keys[0]}...{keys[-1]} ({len(keys)} minutes)")
        for minute in keys:
            yield dg.AssetCheckEvaluation(
                asset_key=key.asset_key, check_name=key.name, passed=result.passed, metadata=metadata,
                target_materialization_data=asset_targets.get(minute), severity=result.severity,
                blocking=spec.blocking, partition=minute,
            )


def _latest_materializations(context: dg.AssetExecutionContext, asset: dg.AssetKey) -> dict:
    """Partition -> this run's materialization of it (one query for the whole range)."""
    from dagster._core.definitions.asset_checks.asset_check_evaluation import (
        AssetCheckEvaluationTargetMaterializationData,
    )
    from dagster._core.events import DagsterEventType

    storage_ids = context.instance.event_log_storage.get_latest_storage_id_by_partition(
        asset, DagsterEventType.ASSET_MATERIALIZATION, set(context.partition_keys))
    now = time.time()
    return {minute: AssetCheckEvaluationTargetMaterializationData(storage_id=storage_id, run_id=context.run.run_id, timestamp=now)
            for minute, storage_id in storage_ids.items()}

"""The session report as Dagster metadata: headline numbers and the report's tables."""

from __future__ import annotations

import dagster as dg


def _table(rows: list[dict], columns: dict[str, str]) -> dg.TableMetadataValue:
    """A metadata table; `columns`: name -> type ('string', 'int', 'float')."""
    schema = dg.TableSchema(columns=[dg.TableColumn(name, kind) for name, kind in columns.items()])
    records = [dg.TableRecord({name: row.get(name) for name in columns}) for row in rows]
    return dg.MetadataValue.table(records=records, schema=schema)


def _maybe_float(value: float | None) -> dg.MetadataValue:
    return dg.MetadataValue.float(value) if value is not None else dg.MetadataValue.null()


def report_metadata(report: dict) -> dict:
    dispatch, outcomes, confidence = report["dispatch"], report["outcomes"], report["confidence"]
    gates = [{"gate": gate, "skips": n} for gate, n in dispatch["skips_by_gate"].items()]
    quartiles = [
        {"scope": scope, **{k: stats.get(k) for k in ("count", "min", "p25", "median", "p75", "max")}}
        for scope, stats in confidence.items()
    ]
    return {
        "recommendations": report["recommendations"]["count"],
        "executions_simulated": dispatch["simulated"],
        "execution_rate": _maybe_float(dispatch["execution_rate"]),
        "trades": outcomes["trades"],
        "wins": outcomes["wins"],
        "losses": outcomes["losses"],
        "flat_trades": outcomes["flat"],
        "win_rate": _maybe_float(outcomes["win_rate"]),
        "win_rate_basis": outcomes["win_rate_basis"],
        "pnl": float(outcomes["pnl"]),
        "skips_by_gate": _table(gates, {"gate": "string", "skips": "int"}),
        "confidence": _table(quartiles, {"scope": "string", "count": "int", "min": "float", "p25": "float",
                                         "median": "float", "p75": "float", "max": "float"}),
        "multiplier_buckets": _table(report["multiplier_buckets"], {
            "bucket": "string", "signals": "int", "share": "float", "expected_share": "float", "difference": "float"}),
        "win_rate_by_bucket": _table(report["win_rate_by_bucket"], {
            "bucket": "string", "trades": "int", "wins": "int", "losses": "int", "flat": "int",
            "win_rate": "float", "pnl": "float"}),
        "what_if": _table(report["what_if"], {
            "variant": "string", "recommendations": "int", "executions": "int", "execution_rate": "float",
            "trades": "int", "wins": "int", "losses": "int", "flat": "int", "win_rate": "float", "pnl": "float",
            "confidence_p25": "float", "confidence_median": "float", "confidence_p75": "float"}),
    }

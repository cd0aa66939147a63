"""The seed's 24-hour checklist: each item passing and failing on small session reports."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest

from vol_pipeline.core.checklist import BUCKET_TOLERANCE, CHECKLIST, ERROR, WARN, ChecklistItem, seed_checklist
from vol_pipeline.core.report import session_report
from vol_pipeline.storage.tables import table

SESSION = date(2026, 11, 23)
T0 = datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc)
TABLES = ("bars", "lane_features", "signals", "recommendations", "executions", "outcomes")


def frame(name: str, rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=table(name).columns)


def signals(kill: int, reduced: int, normal: int, boosted: int) -> pl.DataFrame:
    """Directional signals with the given number per multiplier bucket (plus one HOLD that never counts)."""
    mults = [0.0] * kill + [0.3] * reduced + [1.0] * normal + [1.2] * boosted
    rows = [{"ticker": "AAPL", "ts": T0 + timedelta(minutes=i), "direction": "LONG", "base_confidence": 0.6,
             "volume_mult": m, "confidence": min(1.0, 0.6 * m)} for i, m in enumerate(mults)]
    rows.append({"ticker": "AAPL", "ts": T0, "direction": None, "volume_mult": 0.0})
    return frame("signals", rows)


def recommendations(*confidences: float, reasons: list[str] | None = None) -> pl.DataFrame:
    with_volume = json.dumps({"volume": {"volume_ratio": 1.7, "volume_mult": 1.0, "assessment": "GOOD_VOLUME"}})
    reasons = reasons or [with_volume] * len(confidences)
    return frame("recommendations", [
        {"id": f"AAPL-{i}", "ticker": "AAPL", "ts": T0 + timedelta(minutes=15 * i), "action": "BUY",
         "instrument_type": "CALL", "base_confidence": c, "volume_mult": 1.0, "confidence": c, "reason": r}
        for i, (c, r) in enumerate(zip(confidences, reasons, strict=True))
    ])


def executions(*statuses: str) -> pl.DataFrame:
    return frame("executions", [
        {"recommendation_id": f"AAPL-{i}", "ticker": "AAPL", "ts": T0 + timedelta(minutes=15 * i), "status": s,
         "failed_gates": None if s == "SIMULATED" else "confidence"}
        for i, s in enumerate(statuses)
    ])


def healthy_frames() -> dict[str, pl.DataFrame]:
    """A session on which every item passes."""
    return {
        "bars": frame("bars", [{"ticker": t, "ts": T0, "close": 100.0} for t in ("AAPL", "MSFT")]),
        "lane_features": frame("lane_features", [{"ticker": t, "ts": T0, "volume_ratio": 1.7} for t in ("AAPL", "MSFT")]),
        "signals": signals(kill=1, reduced=5, normal=3, boosted=1),  # exactly the seed's shares
        "recommendations": recommendations(0.4, 0.6),
        "executions": executions("SIMULATED", "SKIPPED"),
        "outcomes": table("outcomes").empty(),
    }


def report(**changes: pl.DataFrame) -> dict:
    frames = healthy_frames() | changes
    return session_report(SESSION, *(frames[name] for name in TABLES))


def items(rep: dict, failed_runs: list[str] | None = None) -> dict[str, ChecklistItem]:
    return {item.name: item for item in seed_checklist(rep, failed_runs or [])}


def failing(rep: dict, failed_runs: list[str] | None = None) -> list[str]:
    return [name for name, item in items(rep, failed_runs).items() if not item.passed]


# --- the healthy session and the severities -------------------------------------------------------
def test_healthy_session_passes_every_item_in_checklist_order():
    checklist = seed_checklist(report(), [])
    assert [item.name for item in checklist] == list(CHECKLIST)
    assert [item.name for item in checklist if not item.passed] == []
    assert {item.name: item.detail for item in checklist} == {
        "volume_features_present": "2 of 2 tickers",
        "reason_has_volume": "0 of 2 without it",
        "no_run_errors": "none",
        "execution_rate_positive": "1 of 2 recommendations simulated",
        "confidence_varies_in_range": "median 0.50, 2 distinct values",
        "multiplier_distribution": "within tolerance",
    }


def test_severities():
    assert {name: item.severity for name, item in items(report()).items()} == {
        "volume_features_present": ERROR,
        "reason_has_volume": ERROR,
        "no_run_errors": ERROR,
        "execution_rate_positive": WARN,
        "confidence_varies_in_range": WARN,
        "multiplier_distribution": WARN,
    }
    assert (ERROR, WARN) == ("ERROR", "WARN")
    assert all(item.description == CHECKLIST[name][1] for name, item in items(report()).items())


# --- ERROR items -----------------------------------------------------------------------------------
def test_volume_features_missing_names_the_tickers():
    bars = frame("bars", [{"ticker": t, "ts": T0, "close": 100.0} for t in ("AAPL", "MSFT", "TSLA")])
    features = frame("lane_features", [
        {"ticker": "AAPL", "ts": T0, "volume_ratio": 1.7},
        {"ticker": "MSFT", "ts": T0, "volume_ratio": None},  # row present, ratio null
    ])  # TSLA: no features row
    item = items(report(bars=bars, lane_features=features))["volume_features_present"]
    assert not item.passed and item.severity == ERROR
    assert item.detail == "missing for MSFT, TSLA"
    assert failing(report(bars=bars, lane_features=features)) == ["volume_features_present"]


def test_reason_without_volume_block_fails():
    reasons = [json.dumps({"volume": {"volume_ratio": 1.7, "volume_mult": 1.0}}), json.dumps({"rule": "BULLISH_ENTRY"})]
    item = items(report(recommendations=recommendations(0.4, 0.6, reasons=reasons)))["reason_has_volume"]
    assert not item.passed and item.severity == ERROR
    assert item.detail == "1 of 2 without it"


def test_failed_runs_fail_and_are_named():
    item = items(report(), ["run-a1", "run-b2"])["no_run_errors"]
    assert not item.passed and item.severity == ERROR
    assert item.detail == "failed runs: run-a1, run-b2"
    assert failing(report(), ["run-a1"]) == ["no_run_errors"]


# --- WARN items ------------------------------------------------------------------------------------
def test_execution_rate_zero_fails():
    item = items(report(executions=executions("SKIPPED", "SKIPPED")))["execution_rate_positive"]
    assert not item.passed and item.severity == WARN
    assert item.detail == "0 of 2 recommendations simulated"


def test_execution_rate_undefined_without_recommendations_fails():
    rep = report(recommendations=table("recommendations").empty(), executions=table("executions").empty())
    assert rep["dispatch"]["execution_rate"] is None
    checks = items(rep)
    assert not checks["execution_rate_positive"].passed
    assert checks["execution_rate_positive"].detail == "0 of 0 recommendations simulated"
    assert not checks["confidence_varies_in_range"].passed
    assert checks["confidence_varies_in_range"].detail == "no recommendations"


def test_constant_confidence_fails():
    item = items(report(recommendations=recommendations(0.5, 0.5)))["confidence_varies_in_range"]
    assert not item.passed and item.severity == WARN
    assert item.detail == "median 0.50, 1 distinct values"


@pytest.mark.parametrize(("confidences", "passed"), [
    ((0.1, 0.3, 0.9), True),  # median exactly 0.30: in range
    ((0.1, 0.7, 0.9), True),  # median exactly 0.70: in range
    ((0.1, 0.29, 0.9), False),
    ((0.1, 0.71, 0.9), False),
])
def test_confidence_median_range_is_inclusive(confidences, passed):
    recs = recommendations(*confidences)
    rep = report(recommendations=recs, executions=executions("SIMULATED", "SKIPPED", "SKIPPED"))
    assert rep["confidence"]["recommendations_after"]["median"] == confidences[1]
    assert items(rep)["confidence_varies_in_range"].passed is passed


def test_multiplier_distribution_off_names_the_buckets():
    item = items(report(signals=signals(kill=0, reduced=2, normal=6, boosted=2)))["multiplier_distribution"]
    assert not item.passed and item.severity == WARN
    assert item.detail == "reduced 20% (expected 50%); normal 60% (expected 30%)"


def test_no_directional_signals_fails_the_multiplier_distribution():
    rep = report(signals=signals(kill=0, reduced=0, normal=0, boosted=0))
    item = items(rep)["multiplier_distribution"]
    assert not item.passed
    assert item.detail == "no directional signals"


def test_bucket_tolerance_is_15_points():
    assert BUCKET_TOLERANCE == 0.15
    # 50 signals: kill 26% is 16 points above its 10%; the others stay within.
    item = items(report(signals=signals(kill=13, reduced=22, normal=11, boosted=4)))["multiplier_distribution"]
    assert not item.passed
    assert item.detail == "kill 26% (expected 10%)"


@pytest.mark.parametrize(("counts", "bucket"), [
    ((5, 9, 5, 1), "kill"),  # kill 25% = 10% + 15
    ((2, 7, 8, 3), "reduced"),  # reduced 35% = 50% - 15
    ((1, 13, 5, 1), "reduced"),  # reduced 65% = 50% + 15
    ((2, 8, 9, 1), "normal"),  # normal 45% = 30% + 15
    ((3, 11, 3, 3), "normal"),  # normal 15% = 30% - 15
    ((2, 8, 5, 5), "boosted"),  # boosted 25% = 10% + 15
], ids=["kill+15", "reduced-15", "reduced+15", "normal+15", "normal-15", "boosted+15"])
def test_exactly_15_points_off_is_within_tolerance(counts, bucket):
    """Every other bucket is within 10 points; the named one is off by exactly 15 of 20 signals."""
    assert sum(counts) == 20
    rep = report(signals=signals(*counts))
    row = next(r for r in rep["multiplier_buckets"] if r["bucket"] == bucket)
    assert abs(row["difference"]) == pytest.approx(0.15)
    item = items(rep)["multiplier_distribution"]
    assert item.passed, item.detail

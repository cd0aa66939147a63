"""Session report: counts, rates, gates, confidence distributions, multiplier buckets, win rates
and coverage on a hand-made session whose answers are known; then a synthetic session end to end."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import polars as pl
import pytest

from vol_pipeline.core.dispatch import dispatch
from vol_pipeline.core.exits import trade_outcomes
from vol_pipeline.core.features import lane_features
from vol_pipeline.core.recommendations import recommend
from vol_pipeline.core.report import EXPECTED_BUCKET_SHARES, HISTOGRAM_BINS, distribution, session_report
from vol_pipeline.core.trade_stats import WIN_RATE_BASIS, trade_stats
from vol_pipeline.core.signals import evaluate_signals
from vol_pipeline.sources.synthetic import SyntheticBarSource
from vol_pipeline.storage.tables import table

SESSION = date(2026, 11, 23)
T0 = datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc)  # 09:30 New York
CLOSE = datetime(2026, 11, 23, 21, 0, tzinfo=timezone.utc)  # 16:00 New York
TABLES = ("bars", "lane_features", "signals", "recommendations", "executions", "outcomes")


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def frame(name: str, rows: list[dict]) -> pl.DataFrame:
    """A frame with the stored table's columns; columns not given are null."""
    return pl.DataFrame(rows, schema=table(name).columns)


def empty(name: str) -> pl.DataFrame:
    return table(name).empty()


def report_of(**frames: pl.DataFrame) -> dict:
    """session_report over the given frames; the other tables empty."""
    return session_report(SESSION, *(frames.get(name, empty(name)) for name in TABLES))


def reason(volume_mult: float) -> str:
    return json.dumps({"rule": "BULLISH_ENTRY", "volume": {
        "volume_ratio": 1.7, "volume_mult": volume_mult, "assessment": "GOOD_VOLUME (ratio 1.70)"}})


def rec(rid: str, minute: int, action: str, instrument: str, mult: float, base: float, conf: float,
        reason_json: str | None = None) -> dict:
    ticker = rid.split("-")[0]
    return {"id": rid, "ticker": ticker, "ts": at(minute), "action": action, "instrument_type": instrument,
            "rule": "BULLISH_ENTRY", "rule_version": "test", "base_confidence": base, "volume_mult": mult,
            "confidence": conf, "reason": reason(mult) if reason_json is None else reason_json}


def execution(rid: str, status: str, failed_gates: str | None = None) -> dict:
    ticker, minute = rid.split("-")
    return {"recommendation_id": rid, "ticker": ticker, "ts": at(int(minute)), "decided_at": at(int(minute) + 1),
            "action": "BUY_CALL", "status": status, "failed_gates": failed_gates}


def outcome(rid: str, exit_reason: str, pnl: float, r_multiple: float) -> dict:
    return {"recommendation_id": rid, "ticker": rid.split("-")[0], "action": "BUY_CALL",
            "exit_reason": exit_reason, "pnl": pnl, "r_multiple": r_multiple, "win": pnl > 0}


def signal(direction: str | None, base: float | None, mult: float, conf: float | None) -> dict:
    return {"ticker": "AAPL", "ts": T0, "direction": direction, "base_confidence": base,
            "volume_mult": mult, "confidence": conf}


# Directional signals (base confidence, multiplier, final confidence):
# buckets kill 2, reduced 3, normal 4, boosted 1 of 10.
DIRECTIONAL = [
    (0.60, 0.0, 0.0), (0.50, 0.0, 0.0),  # kill
    (0.60, 0.3, 0.18), (0.70, 0.6, 0.42), (0.80, 0.5, 0.40),  # reduced
    (0.65, 1.0, 0.65), (0.65, 1.0, 0.65), (0.75, 1.0, 0.75), (0.55, 1.0, 0.55),  # normal
    (0.90, 1.2, 1.0),  # boosted, clipped to 1.0
]


@pytest.fixture(scope="module")
def frames() -> dict[str, pl.DataFrame]:
    bars = frame("bars", [
        {"ticker": t, "ts": at(m), "open": 100.0, "high": 100.0, "low": 100.0, "close": 100.0, "volume": 1000}
        for t in ("AAPL", "MSFT", "TSLA", "NVDA") for m in (0, 1)
    ])
    features = frame("lane_features", [
        {"ticker": "AAPL", "ts": at(0), "volume_ratio": 1.7},
        {"ticker": "AAPL", "ts": at(1), "volume_ratio": 1.5},
        {"ticker": "MSFT", "ts": at(0), "volume_ratio": 0.9},
        {"ticker": "TSLA", "ts": at(0), "volume_ratio": None},  # a features row, but no volume ratio
        {"ticker": "GOOGL", "ts": at(0), "volume_ratio": 1.1},  # no bars: not part of the coverage
        # NVDA: bars but no features row at all
    ])
    signals = frame("signals", [signal("LONG", *row) for row in DIRECTIONAL] + [
        # Non-directional rows carry a multiplier (and here a stray confidence) that must not count.
        signal(None, 0.95, 0.0, 0.95),
        signal(None, None, 1.3, None),
    ])
    recommendations = frame("recommendations", [
        rec("AAPL-0", 0, "BUY", "CALL", 1.2, 0.75, 0.90),
        rec("AAPL-20", 20, "BUY", "PUT", 1.0, 0.75, 0.75),
        rec("MSFT-0", 0, "BUY", "CALL", 0.3, 0.60, 0.18, json.dumps({"volume": {"volume_ratio": 0.9}})),
        rec("MSFT-20", 20, "SELL", "STOCK", 0.6, 0.70, 0.42, json.dumps({"rule": "BEARISH_ENTRY"})),
        rec("TSLA-5", 5, "BUY", "CALL", 1.0, 0.72, 0.72),  # never decided
        rec("NVDA-0", 0, "BUY", "CALL", 1.0, 0.80, 0.80),
    ])
    executions = frame("executions", [
        execution("AAPL-0", "SIMULATED"),
        execution("AAPL-20", "SIMULATED"),
        execution("MSFT-0", "SKIPPED", "confidence"),
        execution("MSFT-20", "SKIPPED", "confidence,action_allowed"),
        execution("NVDA-0", "SIMULATED"),
    ])
    outcomes = frame("outcomes", [
        outcome("AAPL-0", "TARGET", 50.0, 2.0),  # boosted
        outcome("AAPL-20", "STOP", -20.0, -1.0),  # normal
        outcome("NVDA-0", "TARGET", 40.0, 2.0),  # normal
    ])
    return {"bars": bars, "lane_features": features, "signals": signals, "recommendations": recommendations,
            "executions": executions, "outcomes": outcomes}


@pytest.fixture(scope="module")
def report(frames) -> dict:
    return report_of(**frames)


# --- recommendations and dispatch -----------------------------------------------------------------
def test_recommendation_counts_by_combined_action(report):
    recs = report["recommendations"]
    assert recs["count"] == 6
    assert recs["tickers"] == 4
    assert recs["by_action"] == {"BUY_CALL": 4, "BUY_PUT": 1, "SELL_STOCK": 1}


def test_reason_without_volume_multiplier_is_counted(report):
    # MSFT-0 has a volume block without volume_mult, MSFT-20 has no volume block at all.
    assert report["recommendations"]["without_volume_in_reason"] == 2


def test_dispatch_counts_and_execution_rate(report):
    d = report["dispatch"]
    assert (d["decisions"], d["simulated"], d["skipped"]) == (5, 3, 2)
    assert d["undecided_recommendations"] == 1  # TSLA-5
    assert d["execution_rate"] == pytest.approx(3 / 6)  # simulated / recommendations, not / decisions


def test_skips_by_gate_split_comma_separated_gates(report):
    assert report["dispatch"]["skips_by_gate"] == {"action_allowed": 1, "confidence": 2}


def test_execution_rate_undefined_without_recommendations():
    d = report_of()["dispatch"]
    assert d["execution_rate"] is None
    assert (d["decisions"], d["simulated"], d["undecided_recommendations"], d["skips_by_gate"]) == (0, 0, 0, {})


def test_execution_rate_all_skipped_is_zero(frames):
    skipped = frames["executions"].with_columns(status=pl.lit("SKIPPED"), failed_gates=pl.lit("confidence"))
    d = report_of(recommendations=frames["recommendations"], executions=skipped)["dispatch"]
    assert d["execution_rate"] == 0.0
    assert d["skips_by_gate"] == {"confidence": 5}


# --- confidence distributions -------------------------------------------------------------------
def test_distribution_quartiles_and_histogram():
    stats = distribution(pl.Series([1.0, 0.25, None, 0.0, 0.75, 0.5]))
    assert stats["count"] == 5  # the null is dropped
    assert (stats["min"], stats["p25"], stats["median"], stats["p75"], stats["max"]) == (0.0, 0.25, 0.5, 0.75, 1.0)
    assert stats["mean"] == pytest.approx(0.5)
    assert stats["distinct"] == 5
    # 0.0 in the first bin, 1.0 in the last (not an 11th).
    assert stats["histogram"] == [1, 0, 1, 0, 0, 1, 0, 1, 0, 1]
    assert stats["share_in_expected_range"] == pytest.approx(1 / 5)  # only 0.5 is in [0.3, 0.7]


def test_distribution_linear_quartiles_between_values():
    stats = distribution(pl.Series([0.2, 0.4, 0.6, 0.8]))
    assert stats["p25"] == pytest.approx(0.35)
    assert stats["median"] == pytest.approx(0.5)
    assert stats["p75"] == pytest.approx(0.65)


def test_distribution_expected_range_is_inclusive_and_bins_are_tenths():
    stats = distribution(pl.Series([0.3, 0.7, 0.29, 0.71, 0.1, 0.99]))
    assert stats["share_in_expected_range"] == pytest.approx(2 / 6)
    assert stats["histogram"] == [0, 1, 1, 1, 0, 0, 0, 2, 0, 1]


def test_distribution_of_nothing():
    assert distribution(pl.Series([None, None], dtype=pl.Float64)) == {"count": 0, "histogram": [0] * HISTOGRAM_BINS}


def test_signal_confidence_before_and_after_over_directional_signals_only(report):
    before, after = report["confidence"]["signals_before"], report["confidence"]["signals_after"]
    assert before["count"] == after["count"] == 10  # the two non-directional rows are left out
    assert before["histogram"] == [0, 0, 0, 0, 0, 2, 4, 2, 1, 1]
    assert (before["min"], before["median"], before["max"]) == (0.5, 0.65, 0.9)
    assert before["p25"] == pytest.approx(0.6)
    assert before["p75"] == pytest.approx(0.7375)
    assert before["mean"] == pytest.approx(0.67)
    assert before["share_in_expected_range"] == pytest.approx(0.7)
    # After the multiplier: the two kills sit at 0.0 (first bin), the clipped boost at 1.0 (last bin).
    assert after["histogram"] == [2, 1, 0, 0, 2, 1, 2, 1, 0, 1]
    assert (after["min"], after["max"]) == (0.0, 1.0)
    assert after["median"] == pytest.approx((0.42 + 0.55) / 2)
    assert after["p25"] == pytest.approx(0.18 + 0.25 * (0.40 - 0.18))
    assert after["p75"] == pytest.approx(0.65)


def test_recommendation_confidence_before_and_after(report):
    before, after = report["confidence"]["recommendations_before"], report["confidence"]["recommendations_after"]
    assert before["count"] == after["count"] == 6
    assert after["max"] == 0.90 and after["min"] == 0.18
    assert before["median"] == pytest.approx(0.735)  # of 0.60, 0.70, 0.72, 0.75, 0.75, 0.80


# --- multiplier buckets -------------------------------------------------------------------------
def test_multiplier_buckets_share_expected_and_difference(report):
    rows = {row["bucket"]: row for row in report["multiplier_buckets"]}
    assert [row["bucket"] for row in report["multiplier_buckets"]] == ["kill", "reduced", "normal", "boosted"]
    assert {b: rows[b]["signals"] for b in rows} == {"kill": 2, "reduced": 3, "normal": 4, "boosted": 1}
    assert sum(rows[b]["signals"] for b in rows) == 10  # directional signals only
    for bucket, share in {"kill": 0.2, "reduced": 0.3, "normal": 0.4, "boosted": 0.1}.items():
        assert rows[bucket]["share"] == pytest.approx(share)
        assert rows[bucket]["expected_share"] == EXPECTED_BUCKET_SHARES[bucket]
        assert rows[bucket]["difference"] == pytest.approx(share - EXPECTED_BUCKET_SHARES[bucket])
    assert EXPECTED_BUCKET_SHARES == {"kill": 0.10, "reduced": 0.50, "normal": 0.30, "boosted": 0.10}


def test_bucket_boundaries():
    # kill = 0, reduced = (0, 1), normal = 1, boosted > 1
    mults = [0.0, 1e-9, 0.999, 1.0, 1.0000001, 1.3]
    signals = frame("signals", [signal("SHORT", 0.5, m, 0.5 * m) for m in mults])
    rows = {row["bucket"]: row["signals"] for row in report_of(signals=signals)["multiplier_buckets"]}
    assert rows == {"kill": 1, "reduced": 2, "normal": 1, "boosted": 2}


def test_buckets_without_directional_signals_are_undefined():
    signals = frame("signals", [signal(None, None, 1.0, None)])
    for row in report_of(signals=signals)["multiplier_buckets"]:
        assert (row["signals"], row["share"], row["difference"]) == (0, None, None)


# --- outcomes and win rates ---------------------------------------------------------------------
def test_win_rate_and_trade_stats(report):
    out = report["outcomes"]
    assert (out["trades"], out["wins"], out["losses"], out["flat"], out["no_bars"]) == (3, 2, 1, 0, 0)
    assert out["win_rate"] == pytest.approx(2 / 3)
    assert out["win_rate_basis"].startswith("wins / (wins + losses)")
    assert out["pnl"] == pytest.approx(70.0)
    assert out["mean_r"] == pytest.approx(1.0)
    assert out["by_exit_reason"] == {"STOP": 1, "TARGET": 2}


def test_win_rate_by_bucket_joins_the_recommendation_multiplier(report):
    rows = {row["bucket"]: row for row in report["win_rate_by_bucket"]}
    assert [row["bucket"] for row in report["win_rate_by_bucket"]] == ["kill", "reduced", "normal", "boosted"]
    assert (rows["boosted"]["trades"], rows["boosted"]["wins"], rows["boosted"]["win_rate"]) == (1, 1, 1.0)
    assert rows["boosted"]["pnl"] == pytest.approx(50.0)
    assert (rows["normal"]["trades"], rows["normal"]["wins"], rows["normal"]["win_rate"]) == (2, 1, 0.5)
    assert rows["normal"]["pnl"] == pytest.approx(20.0)
    for bucket in ("kill", "reduced"):
        assert rows[bucket] == {"bucket": bucket, "trades": 0, "wins": 0, "losses": 0, "flat": 0, "no_bars": 0,
                                "win_rate": None, "pnl": 0.0}


def test_flat_and_no_bars_trades_are_counted_apart_from_wins_and_losses():
    # A recommendation in the session's last minute exits NO_BARS at its entry: P&L 0.
    outcomes = frame("outcomes", [
        outcome("AAPL-0", "TARGET", 50.0, 2.0),
        outcome("AAPL-20", "STOP", -20.0, -1.0),
        outcome("NVDA-0", "MAX_HOLD", 0.0, 0.0),  # closed exactly at its entry
        outcome("NVDA-389", "NO_BARS", 0.0, 0.0),
    ])
    stats = trade_stats(outcomes)
    assert {key: stats[key] for key in ("trades", "wins", "losses", "flat", "no_bars")} == {
        "trades": 4, "wins": 1, "losses": 1, "flat": 2, "no_bars": 1}
    assert stats["win_rate"] == 0.5  # 1 / (1 + 1): the flat trades are neither
    assert stats["win_rate_basis"] == WIN_RATE_BASIS


def test_trade_stats_without_trades():
    assert trade_stats(empty("outcomes")) == {
        "trades": 0, "wins": 0, "losses": 0, "flat": 0, "no_bars": 0, "win_rate": None,
        "win_rate_basis": WIN_RATE_BASIS, "pnl": 0.0, "mean_r": None}


# --- coverage ------------------------------------------------------------------------------------
def test_coverage_lists_tickers_with_bars_but_no_volume_ratio(report):
    cov = report["coverage"]
    assert cov["bars"] == 8
    assert cov["tickers_with_bars"] == 4
    assert cov["tickers_with_volume_features"] == 2  # AAPL, MSFT; GOOGL has no bars
    assert cov["tickers_missing_volume_features"] == ["NVDA", "TSLA"]
    assert (cov["feature_rows"], cov["feature_rows_with_volume"]) == (5, 4)


# --- the whole dict ------------------------------------------------------------------------------
def test_report_is_json_serialisable(report):
    assert report["session"] == "2026-11-23"
    assert json.loads(json.dumps(report, allow_nan=False)) == report


def test_empty_session_report_is_json_serialisable():
    empty_report = report_of()
    assert json.loads(json.dumps(empty_report, allow_nan=False)) == empty_report


# --- end to end on a synthetic session ------------------------------------------------------------
@pytest.fixture(scope="module")
def synthetic() -> dict:
    bars = SyntheticBarSource(tickers=("AAPL", "MSFT", "TSLA")).session_bars(SESSION)
    features = lane_features(bars)
    signals = evaluate_signals(features)
    recommendations = recommend(signals)
    executions = dispatch(recommendations, features, bars, None)
    outcomes = trade_outcomes(executions, bars, CLOSE)
    tables = {"bars": bars, "lane_features": features, "signals": signals, "recommendations": recommendations,
              "executions": executions, "outcomes": outcomes}
    return {"tables": tables, "report": report_of(**tables)}


def test_synthetic_session_is_consistent(synthetic):
    tables, report = synthetic["tables"], synthetic["report"]
    recs, dispatched, outcomes = report["recommendations"], report["dispatch"], report["outcomes"]
    directional = tables["signals"].filter(pl.col("direction").is_not_null()).height

    assert recs["count"] > 0 and dispatched["simulated"] > 0  # the session is not trivial
    assert dispatched["decisions"] == recs["count"]
    assert dispatched["undecided_recommendations"] == 0
    assert dispatched["simulated"] + dispatched["skipped"] == dispatched["decisions"]
    assert dispatched["execution_rate"] == pytest.approx(dispatched["simulated"] / recs["count"])
    assert sum(dispatched["skips_by_gate"].values()) >= dispatched["skipped"]  # a skip fails >= 1 gate
    assert sum(recs["by_action"].values()) == recs["count"]
    assert recs["without_volume_in_reason"] == 0

    assert outcomes["trades"] == dispatched["simulated"]
    assert outcomes["wins"] + outcomes["losses"] + outcomes["flat"] == outcomes["trades"]
    assert sum(outcomes["by_exit_reason"].values()) == outcomes["trades"]
    assert sum(row["trades"] for row in report["win_rate_by_bucket"]) == outcomes["trades"]
    assert sum(row["wins"] for row in report["win_rate_by_bucket"]) == outcomes["wins"]

    buckets = {row["bucket"]: row["signals"] for row in report["multiplier_buckets"]}
    assert sum(buckets.values()) == directional
    assert buckets["kill"] == tables["signals"].filter(pl.col("rule") == "VOLUME_TOO_LOW").height
    assert sum(row["share"] for row in report["multiplier_buckets"]) == pytest.approx(1.0)
    for key in ("signals_before", "signals_after"):
        assert report["confidence"][key]["count"] == directional
        assert sum(report["confidence"][key]["histogram"]) == directional
    for key in ("recommendations_before", "recommendations_after"):
        assert sum(report["confidence"][key]["histogram"]) == recs["count"]

    cov = report["coverage"]
    assert (cov["tickers_with_bars"], cov["tickers_with_volume_features"]) == (3, 3)
    assert cov["tickers_missing_volume_features"] == []
    assert cov["bars"] == tables["bars"].height
    assert json.loads(json.dumps(report, allow_nan=False)) == report

"""The report as text: rates, what-if and checklist lines, n/a for undefined rates."""

from __future__ import annotations

import copy
import json
from datetime import date, datetime, timezone

import polars as pl
import pytest

from vol_pipeline.core.checklist import seed_checklist
from vol_pipeline.core.dispatch import dispatch
from vol_pipeline.core.exits import trade_outcomes
from vol_pipeline.core.features import lane_features
from vol_pipeline.core.recommendations import recommend
from vol_pipeline.core.report import session_report
from vol_pipeline.core.report_text import render
from vol_pipeline.core.signals import evaluate_signals
from vol_pipeline.core.trade_stats import WIN_RATE_BASIS
from vol_pipeline.core.what_if import what_if
from vol_pipeline.sources.synthetic import SyntheticBarSource
from vol_pipeline.storage.tables import table

SESSION = date(2026, 11, 23)
CLOSE = datetime(2026, 11, 23, 21, 0, tzinfo=timezone.utc)
TABLES = ("bars", "lane_features", "signals", "recommendations", "executions", "outcomes")


def line(text: str, needle: str) -> str:
    """The one line of `text` containing `needle`."""
    found = [ln for ln in text.splitlines() if needle in ln]
    assert len(found) == 1, (needle, found)
    return found[0]


def checklist_dicts(report: dict, failed_runs: list[str]) -> list[dict]:
    """As the session_report asset stores them."""
    return [{"name": i.name, "severity": i.severity, "passed": i.passed, "detail": i.detail}
            for i in seed_checklist(report, failed_runs)]


@pytest.fixture(scope="module")
def empty_report() -> dict:
    return session_report(SESSION, *(table(name).empty() for name in TABLES))


@pytest.fixture
def numbers_report(empty_report) -> dict:
    """The empty session's report with known numbers filled in."""
    rep = copy.deepcopy(empty_report)
    rep["dispatch"].update(execution_rate=0.4, simulated=2, skipped=3, skips_by_gate={"confidence": 3})
    rep["outcomes"].update(trades=3, wins=1, losses=1, flat=1, no_bars=1, win_rate=0.5, pnl=1234.5,
                           by_exit_reason={"NO_BARS": 1, "STOP": 1, "TARGET": 1})
    rep["recommendations"].update(count=5, by_action={"BUY_CALL": 4, "BUY_PUT": 1})
    rep["win_rate_by_bucket"][3].update(trades=3, wins=1, losses=1, flat=1, no_bars=1, win_rate=0.5, pnl=1234.5)
    rep["what_if"] = [
        {"variant": "multiplier on", "recommendations": 5, "executions": 2, "execution_rate": 0.4,
         "trades": 2, "wins": 1, "losses": 1, "flat": 0, "win_rate": 0.5, "pnl": 1234.5},
        {"variant": "multiplier off", "recommendations": 0, "executions": 0, "execution_rate": None,
         "trades": 0, "wins": 0, "losses": 0, "flat": 0, "win_rate": None, "pnl": 0.0},
    ]
    rep["checklist"] = checklist_dicts(rep, ["run-42"])
    return rep


def test_rate_lines(numbers_report):
    text = render(numbers_report)
    assert text.splitlines()[0] == "Session report 2026-11-23"
    assert line(text, "execution rate:").strip() == "execution rate: 40.0% (2 simulated, 3 skipped)"
    assert line(text, "  trades:").strip() == (
        "trades: 3 (1 won, 1 lost, 1 flat, of which 1 had no bar after the decision); P&L 1,234.50; "
        "exits: NO_BARS 1, STOP 1, TARGET 1")
    # The flat trade is neither a win nor a loss, and the line says how the rate is taken.
    assert line(text, "  win rate:").strip() == (
        "win rate: 50.0% = wins / (wins + losses); flat trades (P&L 0, including NO_BARS exits) are left out")
    assert line(text, "  recommendations:").strip() == "recommendations: 5 (BUY_CALL 4, BUY_PUT 1)"
    assert line(text, "skips by gate:").strip() == "skips by gate: confidence 3"
    assert "boosted 50.0% (1/1/1)" in line(text, "win rate by multiplier bucket (won/lost/flat)")
    assert "kill n/a (0/0/0)" in line(text, "win rate by multiplier bucket")


def test_what_if_lines_for_both_variants(numbers_report):
    text = render(numbers_report)
    assert "what-if, volume multiplier on vs off:" in text
    assert line(text, "multiplier on:").strip() == (
        "multiplier on: 5 recommendations, 2 executions (execution rate 40.0%), win rate 50.0% (1 won, 1 lost of 2 trades), P&L 1,234.50")
    assert line(text, "multiplier off:").strip() == (
        "multiplier off: 0 recommendations, 0 executions (execution rate n/a), win rate n/a (0 won, 0 lost of 0 trades), P&L 0.00")


def test_with_news_the_what_if_shows_sentiment_off_and_confidence_quartiles(numbers_report):
    rep = copy.deepcopy(numbers_report)
    quartiles = {"confidence_p25": 0.31, "confidence_median": 0.5, "confidence_p75": 0.962}
    rep["what_if"] = [{**rep["what_if"][0], **quartiles},
                      {**rep["what_if"][0], "variant": "sentiment off", "recommendations": 160, **quartiles}]
    text = render(rep)
    assert "what-if, volume multiplier and sentiment on vs off:" in text
    assert line(text, "multiplier on:").strip().endswith("P&L 1,234.50, confidence median 0.50 (p25 0.31, p75 0.96)")
    assert line(text, "sentiment off:").strip().startswith("sentiment off: 160 recommendations")


def test_checklist_lines(numbers_report):
    text = render(numbers_report)
    assert "24-hour checklist:" in text
    assert line(text, "no_run_errors").strip() == "[ERROR] no_run_errors: failed runs: run-42"
    assert line(text, "volume_features_present").strip() == "[ok] volume_features_present: 0 of 0 tickers"
    assert line(text, "multiplier_distribution").strip() == "[WARN] multiplier_distribution: no directional signals"
    assert line(text, "execution_rate_positive").strip() == "[ok] execution_rate_positive: 2 of 5 recommendations simulated"
    for item in numbers_report["checklist"]:
        assert f"] {item['name']}: {item['detail']}" in text


def test_undefined_rates_are_na(empty_report):
    text = render(empty_report)
    assert line(text, "execution rate:").strip() == "execution rate: n/a (0 simulated, 0 skipped)"
    assert line(text, "  win rate:").strip().startswith("win rate: n/a = wins / (wins + losses)")
    assert line(text, "  trades:").strip().startswith("trades: 0 (0 won, 0 lost, 0 flat")
    assert line(text, "multiplier buckets").endswith("kill n/a (10%), reduced n/a (50%), normal n/a (30%), boosted n/a (10%)")
    assert "confidence of recommendations: none" in text
    # Without what-if and checklist entries, neither section is printed.
    assert "what-if" not in text and "checklist" not in text


def test_render_a_stored_synthetic_report():
    """The full path of the session_report asset: report + what_if + checklist, through JSON, rendered."""
    bars = SyntheticBarSource(tickers=("AAPL", "MSFT")).session_bars(SESSION)
    features = lane_features(bars)
    signals = evaluate_signals(features)
    recs = recommend(signals)
    executions = dispatch(recs, features, bars, None)
    outcomes = trade_outcomes(executions, bars, CLOSE)
    rep = session_report(SESSION, bars, features, signals, recs, executions, outcomes)
    rep["what_if"] = what_if(features, bars, CLOSE).to_dicts()
    rep["checklist"] = checklist_dicts(rep, [])
    text = render(json.loads(json.dumps(rep)))

    rate = rep["dispatch"]["execution_rate"]
    assert f"execution rate: {rate:.1%} ({rep['dispatch']['simulated']} simulated" in text
    win_rate = rep["outcomes"]["win_rate"]
    assert line(text, "  win rate:").strip() == (
        f"win rate: {'n/a' if win_rate is None else f'{win_rate:.1%}'} = {WIN_RATE_BASIS}")
    assert line(text, "  trades:").strip().startswith(
        f"trades: {rep['outcomes']['trades']} ({rep['outcomes']['wins']} won, {rep['outcomes']['losses']} lost, "
        f"{rep['outcomes']['flat']} flat")
    for row in rep["what_if"]:
        assert line(text, f"{row['variant']}:").strip().startswith(
            f"{row['variant']}: {row['recommendations']} recommendations, {row['executions']} executions")
    assert len([ln for ln in text.splitlines() if ln.startswith("    [")]) == 6
    assert line(text, "no_run_errors").strip() == "[ok] no_run_errors: none"


def test_the_report_says_whether_sentiment_reached_the_signals():
    bars = SyntheticBarSource(tickers=("AAPL", "MSFT")).session_bars(SESSION)
    features = lane_features(bars)
    without = evaluate_signals(features)
    rep = session_report(SESSION, bars, features, without, recommend(without), *(table(n).empty() for n in ("executions", "outcomes")))
    assert rep["sentiment"] == {"on": False, "signals": without.height, "signals_with_news": 0, "mean_abs_score": None}
    assert line(render(rep), "  sentiment:").strip() == (
        f"sentiment: off (none of the {without.height} signals had news; without a news source sentiment scores 0 "
        "and its gate is off)")

    news = pl.DataFrame({"ticker": ["AAPL"], "sentiment_score": [-0.8], "news_count": [2]})
    with_news = evaluate_signals(features, sentiment=news)
    rep = session_report(SESSION, bars, features, with_news, recommend(with_news), *(table(n).empty() for n in ("executions", "outcomes")))
    aapl = with_news.filter(pl.col("ticker") == "AAPL").height
    assert rep["sentiment"]["on"] and rep["sentiment"]["signals_with_news"] == aapl
    assert line(render(rep), "  sentiment:").strip() == f"sentiment: on ({aapl} of {with_news.height} signals had news, mean |score| 0.80)"


def test_a_report_stored_before_the_sentiment_section_still_renders(empty_report):
    rep = copy.deepcopy(empty_report)
    rep.pop("sentiment")
    assert "sentiment:" not in render(rep) and "win rate:" in render(rep)

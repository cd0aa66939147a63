"""The session report as plain text lines (what `vol-pipeline report` and the demo print)."""

from __future__ import annotations

from vol_pipeline.core.trade_stats import WIN_RATE_BASIS


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{key} {n}" for key, n in counts.items()) or "none"


def _distribution(stats: dict) -> str:
    if not stats["count"]:
        return "none"
    return (f"median {stats['median']:.2f} (p25 {stats['p25']:.2f}, p75 {stats['p75']:.2f}, "
            f"range {stats['min']:.2f}-{stats['max']:.2f}; {stats['share_in_expected_range']:.0%} in 30-70%)")


def _sentiment(sentiment: dict) -> str:
    if not sentiment["on"]:
        return (f"  sentiment: off (none of the {sentiment['signals']} signals had news; without a news "
                "source sentiment scores 0 and its gate is off)")
    return (f"  sentiment: on ({sentiment['signals_with_news']} of {sentiment['signals']} signals had news, "
            f"mean |score| {sentiment['mean_abs_score']:.2f})")


def render(report: dict) -> str:
    """Every section of a stored report (core.report + what_if + checklist), one line each."""
    coverage, recs, dispatch = report["coverage"], report["recommendations"], report["dispatch"]
    outcomes, confidence = report["outcomes"], report["confidence"]
    lines = [
        f"Session report {report['session']}",
        f"  tickers: {coverage['tickers_with_bars']} with bars, {coverage['tickers_with_volume_features']} "
        f"with volume features; {coverage['bars']} bars",
        f"  recommendations: {recs['count']} ({_counts(recs['by_action'])})",
        f"  execution rate: {_pct(dispatch['execution_rate'])} ({dispatch['simulated']} simulated, "
        f"{dispatch['skipped']} skipped)",
        f"  skips by gate: {_counts(dispatch['skips_by_gate'])}",
        *(f"  {gate} observed ages: {_ages(ages)}" for gate, ages in dispatch.get("freshness_ages", {}).items()),
        f"  confidence of directional signals before the volume multiplier: {_distribution(confidence['signals_before'])}",
        f"  confidence of directional signals after the volume multiplier: {_distribution(confidence['signals_after'])}",
        f"  confidence of recommendations: {_distribution(confidence['recommendations_after'])}",
        "  multiplier buckets (directional signals, seed expectation): " + ", ".join(
            f"{row['bucket']} {_pct(row['share'])} ({row['expected_share']:.0%})" for row in report["multiplier_buckets"]),
        *([_sentiment(report["sentiment"])] if "sentiment" in report else []),
        f"  trades: {outcomes['trades']} ({outcomes['wins']} won, {outcomes['losses']} lost, {outcomes['flat']} flat, "
        f"of which {outcomes['no_bars']} had no bar after the decision); P&L {outcomes['pnl']:,.2f}; "
        f"exits: {_counts(outcomes['by_exit_reason'])}",
        f"  win rate: {_pct(outcomes['win_rate'])} = {WIN_RATE_BASIS}",
        "  win rate by multiplier bucket (won/lost/flat): " + ", ".join(
            f"{row['bucket']} {_pct(row['win_rate'])} ({row['wins']}/{row['losses']}/{row['flat']})"
            for row in report["win_rate_by_bucket"]),
    ]
    if report.get("what_if"):
        with_news = any(row["variant"].startswith("sentiment") for row in report["what_if"])
        lines.append("  what-if, volume multiplier" + (" and sentiment" if with_news else "") + " on vs off:")
        lines += [
            f"    {row['variant']}: {row['recommendations']} recommendations, {row['executions']} executions "
            f"(execution rate {_pct(row['execution_rate'])}), win rate {_pct(row['win_rate'])} "
            f"({row['wins']} won, {row['losses']} lost of {row['trades']} trades), P&L {row['pnl']:,.2f}{_confidence(row)}"
            for row in report["what_if"]
        ]
    if report.get("checklist"):
        lines.append("  24-hour checklist:")
        lines += [
            f"    [{'ok' if item['passed'] else item['severity']}] {item['name']}: {item['detail']}"
            for item in report["checklist"]
        ]
    return "\n".join(lines)


def _confidence(row: dict) -> str:
    """Recommendation confidence quartiles of a what-if row (absent in reports stored before them)."""
    if row.get("confidence_median") is None:
        return ""
    return (f", confidence median {row['confidence_median']:.2f} "
            f"(p25 {row['confidence_p25']:.2f}, p75 {row['confidence_p75']:.2f})")


def _ages(ages: dict) -> str:
    if ages["median_s"] is None:
        return f"none observed ({ages['decisions']} decisions)"
    return (f"median {ages['median_s']:.1f} s, p95 {ages['p95_s']:.1f} s, max {ages['max_s']:.1f} s; "
            f"{ages['failed']} of {ages['decisions']} failed ({ages['missing']} without data)")

"""PNG charts of a session report, embedded in markdown metadata the Dagster UI renders.

Drawn from the report dict only (no table reads); matplotlib's Agg backend, no display.
"""

from __future__ import annotations

import base64
import io

from vol_pipeline.core.report import HISTOGRAM_BINS


def _markdown_png(figure, title: str) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(figure)
    return f"![{title}](data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()})"


def _axes(title: str):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 3))
    axes.set_title(title, fontsize=10)
    return figure, axes


def _paired_bars(axes, labels: list[str], left: list[float], right: list[float], names: tuple[str, str]) -> None:
    positions = range(len(labels))
    axes.bar([p - 0.2 for p in positions], left, width=0.4, label=names[0])
    axes.bar([p + 0.2 for p in positions], right, width=0.4, label=names[1])
    axes.set_xticks(list(positions), labels, fontsize=8)
    axes.legend(fontsize=8)


def confidence_chart(report: dict) -> str:
    figure, axes = _axes("Directional signals: confidence before / after the volume multiplier")
    labels = [f"{i / HISTOGRAM_BINS:.1f}" for i in range(HISTOGRAM_BINS)]
    confidence = report["confidence"]
    _paired_bars(axes, labels, confidence["signals_before"]["histogram"], confidence["signals_after"]["histogram"],
                 ("before (base)", "after (x multiplier)"))
    axes.set_xlabel("confidence bin (lower edge)", fontsize=8)
    axes.set_ylabel("signals", fontsize=8)
    return _markdown_png(figure, "confidence")


def bucket_chart(report: dict) -> str:
    figure, axes = _axes("Multiplier buckets: observed share vs the seed's expectation")
    rows = report["multiplier_buckets"]
    _paired_bars(axes, [r["bucket"] for r in rows], [r["share"] or 0 for r in rows], [r["expected_share"] for r in rows],
                 ("observed", "expected"))
    axes.set_ylabel("share of directional signals", fontsize=8)
    return _markdown_png(figure, "multiplier buckets")


def win_rate_chart(report: dict) -> str:
    figure, axes = _axes("Win rate by multiplier bucket: wins / (wins + losses), flat trades left out")
    rows = report["win_rate_by_bucket"]
    positions = range(len(rows))
    axes.bar(list(positions), [r["win_rate"] or 0 for r in rows])
    for position, row in zip(positions, rows):
        axes.annotate(f"{row['wins']}/{row['wins'] + row['losses']}", (position, (row["win_rate"] or 0) + 0.02), ha="center", fontsize=8)
    axes.set_xticks(list(positions), [r["bucket"] for r in rows], fontsize=8)
    axes.set_ylim(0, 1.1)
    axes.set_ylabel("win rate", fontsize=8)
    return _markdown_png(figure, "win rate by bucket")


def report_charts(report: dict) -> str:
    """All charts as one markdown document."""
    return "\n\n".join((confidence_chart(report), bucket_chart(report), win_rate_chart(report)))


def rule_comparison_chart(totals: list[dict]) -> str:
    """Execution rate and P&L per rule set over the whole range (the comparison's total rows)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [row["rules"] for row in totals]
    figure, (rate_axes, pnl_axes) = plt.subplots(1, 2, figsize=(9, 3 + 0.1 * len(names)))
    positions = list(range(len(names)))
    rates = [(row["execution_rate"] or 0) * 100 for row in totals]
    pnl = [row["pnl"] for row in totals]
    rate_axes.barh(positions, rates)
    rate_axes.set_title("Execution rate (executions / recommendations)", fontsize=10)
    rate_axes.set_xlabel("%", fontsize=8)
    pnl_axes.barh(positions, pnl, color=["tab:green" if value >= 0 else "tab:red" for value in pnl])
    pnl_axes.axvline(0, color="black", linewidth=0.8)
    pnl_axes.set_title("P&L over the range", fontsize=10)
    pnl_axes.set_xlabel("$", fontsize=8)
    for axes in (rate_axes, pnl_axes):
        axes.set_yticks(positions, names, fontsize=8)
        axes.invert_yaxis()  # first rule set on top, as in the table
    pnl_axes.tick_params(labelleft=False)
    rate_axes.set_xlim(0, max(rates + [1.0]) * 1.3)  # room for the labels
    reach = max([abs(value) for value in pnl] + [1.0]) * 1.4
    pnl_axes.set_xlim(-reach if min(pnl + [0.0]) < 0 else 0, reach if max(pnl + [0.0]) > 0 else reach * 0.2)
    for position, row in zip(positions, totals):
        rate_axes.annotate(f"{row['executions']}/{row['recommendations']}", (rates[position], position),
                           xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
        pnl_axes.annotate(f"{pnl[position]:,.0f}", (pnl[position], position), xytext=(3 if pnl[position] >= 0 else -3, 0),
                          textcoords="offset points", va="center", ha="left" if pnl[position] >= 0 else "right", fontsize=8)
    figure.tight_layout()
    return _markdown_png(figure, "rule comparison")

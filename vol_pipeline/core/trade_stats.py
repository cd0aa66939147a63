"""Win/loss counts and the win rate of trade outcomes: one definition for every report.

A trade is a win when its P&L is above 0, a loss when below, and flat at exactly 0. Flat
trades include every NO_BARS exit (no bar after the decision: a recommendation in the
session's last minute, or a ticker that stopped trading), which never had a chance to win
or lose, so the win rate leaves them out: win_rate = wins / (wins + losses).
"""

from __future__ import annotations

import polars as pl

WIN_RATE_BASIS = "wins / (wins + losses); flat trades (P&L 0, including NO_BARS exits) are left out"


def count_aggregations() -> list[pl.Expr]:
    """Aggregations over outcome rows: trades, wins, losses, flat, no_bars and pnl."""
    pnl = pl.col("pnl")
    return [
        pl.len().cast(pl.Int64).alias("trades"),
        (pnl > 0).sum().cast(pl.Int64).alias("wins"),
        (pnl < 0).sum().cast(pl.Int64).alias("losses"),
        (pnl == 0).sum().cast(pl.Int64).alias("flat"),
        (pl.col("exit_reason") == "NO_BARS").sum().cast(pl.Int64).alias("no_bars"),
        pnl.sum().cast(pl.Float64).alias("pnl"),
    ]


def win_rate(wins: pl.Expr, losses: pl.Expr) -> pl.Expr:
    """wins / (wins + losses); null when no trade won or lost."""
    decided = wins + losses
    return pl.when(decided > 0).then(wins / decided)


def trade_stats(outcomes: pl.DataFrame) -> dict:
    """trades, wins, losses, flat, no_bars, win_rate (and its basis), pnl and mean R multiple."""
    counts = outcomes.select(count_aggregations()).with_columns(
        win_rate=win_rate(pl.col("wins"), pl.col("losses"))).row(0, named=True)
    return {
        **{key: counts[key] for key in ("trades", "wins", "losses", "flat", "no_bars", "win_rate")},
        "win_rate_basis": WIN_RATE_BASIS,
        "pnl": float(counts["pnl"] or 0.0),
        "mean_r": outcomes["r_multiple"].mean() if outcomes.height else None,
    }

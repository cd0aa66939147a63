"""Trade outcomes: walk each simulated execution forward over the session's later bars.

One call covers one trading session. The walk is a single join of executions with the
later bars of their ticker, so nothing loops over rows or tickers.

Rules (reference §8 gives the levels: stop at 2 x recent_vol, 2:1 target, 240 min hold):
- The trade is live from the first bar whose start `ts >= decided_at`, and watches the bars
  with `ts < min(decided_at + max_hold_minutes, session_close)`.
- Long (BUY_CALL, BUY_STOCK): a bar touches the stop when low <= stop_loss_price and the
  target when high >= take_profit_price. Short (BUY_PUT, SELL_STOCK) is mirrored: stop when
  high >= stop_loss_price, target when low <= take_profit_price.
- The first bar touching either level ends the trade. A touched level fills at the level,
  except when the bar OPENS beyond it (a gap): then it fills at the open, the first price
  actually tradeable.
- Both levels touched in one bar: bars carry no intrabar path, so the STOP is assumed to
  fill first (conservative; ExitConfig.stop_first_when_both). The one exception is a bar
  that opens beyond a level: the open is known to come first, so that level wins.
- No level touched: exit at the close of the last bar in the window. exit_reason is
  MAX_HOLD when the hold expires no later than the session close, else SESSION_CLOSE
  (pass 13:00 New York as `session_close` on a half day). Missing bars at the end of the
  window do not change the reason: the last bar available is used.
- No bar at all in the window: exit at the entry price at decided_at, reason NO_BARS,
  bars_held 0, pnl 0 (win False).
- exit_ts is the END of the exit bar (bar start + 1 minute); for NO_BARS it is decided_at.
- pnl = (exit - entry) * qty long, (entry - exit) * qty short; r_multiple =
  pnl / (|entry - stop| * qty), null when that risk is 0; win = pnl > 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from vol_pipeline.core.actions import LONG_ACTIONS, PRICED_ACTIONS

EXIT_REASONS: tuple[str, ...] = ("STOP", "TARGET", "MAX_HOLD", "SESSION_CLOSE", "NO_BARS")
TRADE_COLUMNS: tuple[str, ...] = (
    "recommendation_id", "ticker", "action", "decided_at", "entry_price", "qty", "stop_loss_price",
    "take_profit_price", "max_hold_minutes",
)
BAR_LENGTH = timedelta(minutes=1)
UTC_TS = pl.Datetime("us", "UTC")

OUTCOME_COLUMNS: tuple[str, ...] = (
    "recommendation_id", "ticker", "action", "entry_ts", "entry_price", "exit_ts", "exit_price",
    "exit_reason", "bars_held", "pnl", "r_multiple", "win",
)


@dataclass(frozen=True)
class ExitConfig:
    """How ambiguous bars resolve. True: a bar touching both stop and target exits at the stop."""

    stop_first_when_both: bool = True


def trade_outcomes(
    executions: pl.DataFrame,
    bars: pl.DataFrame,
    session_close: datetime,
    config: ExitConfig = ExitConfig(),
) -> pl.DataFrame:
    """One outcome row per execution (input order kept); see the module docstring for rules.

    `executions`: SIMULATED executions of one session (a `status` column, if present, is
    used to keep only SIMULATED rows). `bars`: that session's bars (BAR_SCHEMA).
    `session_close`: timezone-aware close of the session.
    """
    if session_close.tzinfo is None:
        raise ValueError("session_close must be timezone-aware")
    trades = _prepare(executions, session_close)
    exits = _exit_bars(trades, _typed_bars(bars), config)
    return _outcomes(trades, exits)


def _prepare(executions: pl.DataFrame, session_close: datetime) -> pl.DataFrame:
    if "status" in executions.columns:
        executions = executions.filter(pl.col("status") == "SIMULATED")
    unknown = set(executions["action"].unique().to_list()) - set(PRICED_ACTIONS)
    if unknown:
        raise ValueError(f"unknown actions: {sorted(map(str, unknown))}")
    close = pl.lit(session_close).dt.convert_time_zone("UTC").cast(UTC_TS)
    hold_end = pl.col("decided_at") + pl.duration(minutes=pl.col("max_hold_minutes"))
    # Only what the walk needs: a stored execution also has a `bar_ts` (its decision's bar).
    return executions.select(TRADE_COLUMNS).with_row_index("_row").with_columns(
        pl.col("decided_at").dt.convert_time_zone("UTC").cast(UTC_TS),
        pl.col("entry_price", "qty", "stop_loss_price", "take_profit_price").cast(pl.Float64),
        is_long=pl.col("action").is_in(LONG_ACTIONS),
        # The hold expiring exactly at the close counts as MAX_HOLD.
        hold_ends_first=hold_end.dt.convert_time_zone("UTC") <= close,
        window_end=pl.min_horizontal(hold_end.dt.convert_time_zone("UTC").cast(UTC_TS), close),
    )


def _typed_bars(bars: pl.DataFrame) -> pl.DataFrame:
    # Renamed: executions carry their own `ts` (the recommendation's bar).
    return bars.select(
        "ticker",
        pl.col("ts").dt.convert_time_zone("UTC").cast(UTC_TS).alias("bar_ts"),
        *(pl.col(c).cast(pl.Float64) for c in ("open", "high", "low", "close")),
    )


def _exit_bars(trades: pl.DataFrame, bars: pl.DataFrame, config: ExitConfig) -> pl.DataFrame:
    """Per trade that saw at least one bar: its exit bar, reason and price."""
    path = (
        trades.join(bars, on="ticker", how="inner")
        .filter((pl.col("bar_ts") >= pl.col("decided_at")) & (pl.col("bar_ts") < pl.col("window_end")))
        .sort("_row", "bar_ts")
        .with_columns(bars_held=pl.col("bar_ts").cum_count().over("_row").cast(pl.Int64))
        .with_columns(**_level_columns(config))
    )
    hit = pl.col("_reason").is_not_null()
    # Keep bars up to the first touch (or all of them if nothing touched), then the last one.
    last_bar = pl.coalesce(pl.col("bars_held").filter(hit).min(), pl.col("bars_held").max()).over("_row")
    ended = path.filter(pl.col("bars_held") == last_bar)
    timeout = pl.when(pl.col("hold_ends_first")).then(pl.lit("MAX_HOLD")).otherwise(pl.lit("SESSION_CLOSE"))
    return ended.select(
        "_row",
        "bars_held",
        exit_ts=pl.col("bar_ts") + BAR_LENGTH,
        exit_reason=pl.coalesce("_reason", timeout),
        exit_price=pl.coalesce("_fill", "close"),
    )


def _level_columns(config: ExitConfig) -> dict[str, pl.Expr]:
    """_reason (STOP/TARGET/null) and _fill (price) of one bar of a trade's path."""
    long = pl.col("is_long")
    stop, target = pl.col("stop_loss_price"), pl.col("take_profit_price")
    high, low, open_ = pl.col("high"), pl.col("low"), pl.col("open")
    stop_touched = pl.when(long).then(low <= stop).otherwise(high >= stop)
    target_touched = pl.when(long).then(high >= target).otherwise(low <= target)
    stop_gap = pl.when(long).then(open_ <= stop).otherwise(open_ >= stop)
    target_gap = pl.when(long).then(open_ >= target).otherwise(open_ <= target)
    # A gap fixes the order (the open comes first); otherwise the config breaks the tie.
    stop_wins = stop_touched & (stop_gap | ~target_touched | (pl.lit(config.stop_first_when_both) & ~target_gap))
    target_wins = target_touched & ~stop_wins
    reason = pl.when(stop_wins).then(pl.lit("STOP")).when(target_wins).then(pl.lit("TARGET"))
    fill = (
        pl.when(stop_wins).then(pl.when(stop_gap).then(open_).otherwise(stop))
        .when(target_wins).then(pl.when(target_gap).then(open_).otherwise(target))
    )
    return {"_reason": reason, "_fill": fill}


def _outcomes(trades: pl.DataFrame, exits: pl.DataFrame) -> pl.DataFrame:
    entry, exit_, qty = pl.col("entry_price"), pl.col("exit_price"), pl.col("qty")
    risk = (entry - pl.col("stop_loss_price")).abs() * qty
    pnl = pl.when(pl.col("is_long")).then((exit_ - entry) * qty).otherwise((entry - exit_) * qty)
    return (
        trades.join(exits, on="_row", how="left")
        .with_columns(
            entry_ts=pl.col("decided_at"),
            exit_ts=pl.coalesce("exit_ts", "decided_at"),
            exit_price=pl.coalesce("exit_price", "entry_price"),
            exit_reason=pl.coalesce("exit_reason", pl.lit("NO_BARS")),
            bars_held=pl.coalesce("bars_held", pl.lit(0, pl.Int64)),
        )
        .with_columns(pnl=pnl)
        .with_columns(
            r_multiple=pl.when(risk > 0).then(pl.col("pnl") / risk),
            win=pl.col("pnl") > 0,
        )
        .sort("_row")
        .select(OUTCOME_COLUMNS)
    )

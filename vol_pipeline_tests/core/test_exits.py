"""Trade outcomes on hand-built bar paths: stop, target, ties, gaps, shorts, timeouts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from vol_pipeline.core.bars import BAR_SCHEMA
from vol_pipeline.core.exits import OUTCOME_COLUMNS, ExitConfig, trade_outcomes

T0 = datetime(2026, 11, 23, 14, 30, tzinfo=UTC)  # 09:30 New York
CLOSE = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)  # 16:00 New York
HALF_DAY = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)  # day after Thanksgiving
HALF_DAY_CLOSE = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # 13:00 New York


def minute(n: int, day: datetime = T0) -> datetime:
    return day + timedelta(minutes=n)


def bars_frame(rows: list[tuple]) -> pl.DataFrame:
    """rows: (ticker, ts, open, high, low, close)."""
    return pl.DataFrame(
        [(*row, 1000) for row in rows], schema=BAR_SCHEMA, orient="row"
    )


def flat_bars(ticker: str, first: int, count: int, price: float = 100.0, day: datetime = T0) -> list[tuple]:
    """Quiet bars that touch neither level of `execution`'s defaults."""
    return [(ticker, minute(first + i, day), price, price + 0.5, price - 0.5, price) for i in range(count)]


def execution(
    rec: str = "AAPL-1",
    ticker: str = "AAPL",
    decided: datetime | None = None,
    action: str = "BUY_STOCK",
    entry: float = 100.0,
    qty: float = 10,
    stop: float = 96.0,
    target: float = 108.0,
    hold: int = 240,
) -> dict:
    decided = decided or minute(1)
    return {
        "recommendation_id": rec, "ticker": ticker, "ts": decided - timedelta(minutes=1),
        "decided_at": decided, "action": action, "entry_price": entry, "qty": qty,
        "stop_loss_price": stop, "take_profit_price": target, "max_hold_minutes": hold,
    }


def executions_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "recommendation_id": pl.String, "ticker": pl.String, "ts": pl.Datetime("us", "UTC"),
            "decided_at": pl.Datetime("us", "UTC"), "action": pl.String, "entry_price": pl.Float64,
            "qty": pl.Float64, "stop_loss_price": pl.Float64, "take_profit_price": pl.Float64,
            "max_hold_minutes": pl.Int64,
        },
    )


def outcome(rows: list[dict], bars: list[tuple], close: datetime = CLOSE, **config) -> dict:
    result = trade_outcomes(executions_frame(rows), bars_frame(bars), close, ExitConfig(**config))
    assert result.height == 1
    return result.row(0, named=True)


# --- stop and target --------------------------------------------------------------------------
def test_stop_first():
    bars = flat_bars("AAPL", 1, 3) + [("AAPL", minute(4), 99.0, 99.5, 95.0, 95.5)] + flat_bars("AAPL", 5, 5, 109.0)
    out = outcome([execution()], bars)
    assert (out["exit_reason"], out["exit_price"], out["bars_held"]) == ("STOP", 96.0, 4)
    assert out["exit_ts"] == minute(5)  # end of the 14:34 bar
    assert out["pnl"] == pytest.approx(-40.0)  # (96 - 100) * 10
    assert out["r_multiple"] == pytest.approx(-1.0)
    assert out["win"] is False


def test_target_first():
    bars = flat_bars("AAPL", 1, 2) + [("AAPL", minute(3), 104.0, 108.5, 103.0, 108.0)] + flat_bars("AAPL", 4, 5, 90.0)
    out = outcome([execution()], bars)
    assert (out["exit_reason"], out["exit_price"], out["bars_held"]) == ("TARGET", 108.0, 3)
    assert out["pnl"] == pytest.approx(80.0)
    assert out["r_multiple"] == pytest.approx(2.0)
    assert out["win"] is True


def test_both_touched_in_one_bar_stop_wins():
    bars = flat_bars("AAPL", 1, 2) + [("AAPL", minute(3), 100.0, 109.0, 95.0, 101.0)]
    out = outcome([execution()], bars)
    assert (out["exit_reason"], out["exit_price"], out["bars_held"]) == ("STOP", 96.0, 3)


def test_both_touched_target_wins_when_configured():
    bars = [("AAPL", minute(1), 100.0, 109.0, 95.0, 101.0)]
    out = outcome([execution()], bars, stop_first_when_both=False)
    assert (out["exit_reason"], out["exit_price"]) == ("TARGET", 108.0)


def test_gap_through_stop_fills_at_open():
    bars = flat_bars("AAPL", 1, 2) + [("AAPL", minute(3), 93.0, 94.0, 92.0, 93.5)]
    out = outcome([execution()], bars)
    assert (out["exit_reason"], out["exit_price"]) == ("STOP", 93.0)
    assert out["pnl"] == pytest.approx(-70.0)
    assert out["r_multiple"] == pytest.approx(-1.75)


def test_gap_through_target_fills_at_open_even_if_stop_touched_later_in_bar():
    # The open is known to be the bar's first price, so the tie rule does not apply.
    bars = [("AAPL", minute(1), 110.0, 111.0, 95.0, 100.0)]
    out = outcome([execution()], bars)
    assert (out["exit_reason"], out["exit_price"]) == ("TARGET", 110.0)
    assert out["pnl"] == pytest.approx(100.0)


# --- short (BUY_PUT) ----------------------------------------------------------------------------
def put(**kw) -> dict:
    return execution(action="BUY_PUT", stop=104.0, target=92.0, **kw)


def test_short_target_when_price_falls():
    bars = flat_bars("AAPL", 1, 2) + [("AAPL", minute(3), 95.0, 95.5, 91.0, 91.5)]
    out = outcome([put()], bars)
    assert (out["exit_reason"], out["exit_price"], out["bars_held"]) == ("TARGET", 92.0, 3)
    assert out["pnl"] == pytest.approx(80.0)  # (100 - 92) * 10
    assert out["r_multiple"] == pytest.approx(2.0)
    assert out["win"] is True


def test_short_stock_walks_like_a_put():
    # A SELL_STOCK execution (allowed by config) exits on the way down at its target.
    bars = flat_bars("AAPL", 1, 2) + [("AAPL", minute(3), 95.0, 95.5, 91.0, 91.5)]
    out = outcome([execution(action="SELL_STOCK", stop=104.0, target=92.0)], bars)
    assert (out["exit_reason"], out["exit_price"], out["pnl"], out["win"]) == ("TARGET", 92.0, 80.0, True)
    rise = outcome([execution(action="SELL_STOCK", stop=104.0, target=92.0)],
                   [("AAPL", minute(1), 102.0, 104.5, 101.0, 104.0)])
    assert (rise["exit_reason"], rise["pnl"], rise["r_multiple"]) == ("STOP", -40.0, -1.0)


def test_short_stop_when_price_rises_and_ties_go_to_stop():
    rise = outcome([put()], flat_bars("AAPL", 1, 1) + [("AAPL", minute(2), 102.0, 104.5, 101.0, 104.0)])
    assert (rise["exit_reason"], rise["exit_price"], rise["pnl"], rise["r_multiple"]) == ("STOP", 104.0, -40.0, -1.0)
    tie = outcome([put()], [("AAPL", minute(1), 100.0, 105.0, 91.0, 100.0)])
    assert (tie["exit_reason"], tie["exit_price"]) == ("STOP", 104.0)


def test_short_gap_through_stop_fills_at_open():
    out = outcome([put()], [("AAPL", minute(1), 106.0, 107.0, 105.0, 106.5)])
    assert (out["exit_reason"], out["exit_price"], out["pnl"]) == ("STOP", 106.0, -60.0)


# --- timeouts -------------------------------------------------------------------------------------
def test_max_hold_exits_at_last_bar_before_hold_end():
    # Entry 14:31, hold 10 min: bars 14:31..14:40 are watched, 14:41 is not.
    bars = [("AAPL", minute(1 + i), 100.0, 100.5, 99.5, 100.0 + i * 0.1) for i in range(20)]
    out = outcome([execution(hold=10)], bars)
    assert (out["exit_reason"], out["bars_held"]) == ("MAX_HOLD", 10)
    assert out["exit_price"] == pytest.approx(100.9)
    assert out["exit_ts"] == minute(11)
    assert out["pnl"] == pytest.approx(9.0)
    assert out["r_multiple"] == pytest.approx(9.0 / 40.0)


def test_level_touched_after_max_hold_is_ignored():
    bars = flat_bars("AAPL", 1, 5) + [("AAPL", minute(6), 100.0, 100.0, 90.0, 91.0)]
    out = outcome([execution(hold=5)], bars)
    assert (out["exit_reason"], out["exit_price"], out["bars_held"]) == ("MAX_HOLD", 100.0, 5)


def test_session_close_exit():
    decided = CLOSE - timedelta(minutes=30)  # 15:30 New York, 240 min hold runs past 16:00
    bars = [("AAPL", decided + timedelta(minutes=i), 100.0, 102.6, 99.5, 100.0 + i / 10) for i in range(30)]
    out = outcome([execution(decided=decided)], bars)
    assert (out["exit_reason"], out["bars_held"], out["exit_price"]) == ("SESSION_CLOSE", 30, pytest.approx(102.9))
    assert out["exit_ts"] == CLOSE
    assert out["win"] is True


def test_session_close_on_half_day():
    decided = minute(150, HALF_DAY)  # 12:00 New York; 13:00 close comes before the 4 h hold
    bars = flat_bars("AAPL", 150, 90, day=HALF_DAY)  # a feed running past 13:00 is cut off
    out = outcome([execution(decided=decided)], bars, close=HALF_DAY_CLOSE)
    assert (out["exit_reason"], out["bars_held"]) == ("SESSION_CLOSE", 60)
    assert out["exit_ts"] == HALF_DAY_CLOSE


def test_hold_ending_exactly_at_close_is_max_hold():
    decided = CLOSE - timedelta(minutes=20)
    bars = [("AAPL", decided + timedelta(minutes=i), 100.0, 100.5, 99.5, 100.0) for i in range(20)]
    out = outcome([execution(decided=decided, hold=20)], bars)
    assert (out["exit_reason"], out["bars_held"], out["exit_ts"]) == ("MAX_HOLD", 20, CLOSE)


def test_no_later_bars():
    out = outcome([execution(decided=minute(10))], flat_bars("AAPL", 0, 10))  # all before entry
    assert out["exit_reason"] == "NO_BARS"
    assert (out["exit_price"], out["exit_ts"], out["bars_held"]) == (100.0, minute(10), 0)
    assert (out["pnl"], out["r_multiple"], out["win"]) == (0.0, 0.0, False)


def test_entry_bar_is_first_bar_at_or_after_decided_at():
    # decided 14:31:20: the 14:31 bar (a stop touch) started before, so the trade begins at 14:32.
    bars = [("AAPL", minute(1), 100.0, 100.0, 90.0, 95.0), *flat_bars("AAPL", 2, 3)]
    out = outcome([execution(decided=minute(1) + timedelta(seconds=20), hold=3)], bars)
    assert (out["exit_reason"], out["bars_held"]) == ("MAX_HOLD", 3)


# --- input handling ---------------------------------------------------------------------------------
def test_bars_of_other_tickers_ignored():
    bars = [("MSFT", minute(2), 100.0, 120.0, 80.0, 100.0)] + flat_bars("AAPL", 1, 5)
    out = outcome([execution(hold=5)], bars)
    assert (out["exit_reason"], out["exit_price"]) == ("MAX_HOLD", 100.0)


def test_zero_risk_gives_null_r_multiple():
    out = outcome([execution(stop=100.0, hold=3)], flat_bars("AAPL", 1, 3, price=101.0))
    assert out["r_multiple"] is None
    assert out["pnl"] == pytest.approx(10.0)


def test_only_simulated_rows_and_unknown_actions():
    rows = executions_frame([execution(rec="a"), execution(rec="b")]).with_columns(
        status=pl.Series(["SIMULATED", "SKIPPED"])
    )
    result = trade_outcomes(rows, bars_frame(flat_bars("AAPL", 1, 3)), CLOSE)
    assert result["recommendation_id"].to_list() == ["a"]
    with pytest.raises(ValueError, match="unknown actions"):
        trade_outcomes(executions_frame([execution(action="SELL")]), bars_frame([]), CLOSE)
    with pytest.raises(ValueError, match="timezone-aware"):
        trade_outcomes(executions_frame([execution()]), bars_frame([]), CLOSE.replace(tzinfo=None))


def test_empty_executions():
    result = trade_outcomes(executions_frame([]), bars_frame(flat_bars("AAPL", 1, 3)), CLOSE)
    assert result.is_empty() and result.columns == list(OUTCOME_COLUMNS)


# --- vectorisation ----------------------------------------------------------------------------------
def test_many_executions_match_one_at_a_time():
    rows = [
        execution(rec="aapl-stop", ticker="AAPL"),
        execution(rec="aapl-late", ticker="AAPL", decided=minute(20), hold=15),
        execution(rec="msft-put", ticker="MSFT", action="BUY_PUT", entry=200.0, stop=204.0, target=192.0),
        execution(rec="tsla-none", ticker="TSLA"),
        execution(rec="nvda-call", ticker="NVDA", action="BUY_CALL", decided=minute(380)),
    ]
    bars = (
        flat_bars("AAPL", 0, 5) + [("AAPL", minute(5), 99.0, 99.0, 95.0, 96.0)] + flat_bars("AAPL", 6, 60)
        + flat_bars("MSFT", 0, 10, 200.0) + [("MSFT", minute(10), 198.0, 198.0, 190.0, 191.0)]
        + flat_bars("NVDA", 370, 20)
    )
    frame = bars_frame(bars)
    together = trade_outcomes(executions_frame(rows), frame, CLOSE)
    alone = pl.concat([trade_outcomes(executions_frame([row]), frame, CLOSE) for row in rows])
    assert_frame_equal(together, alone)
    assert together.height == len(rows)
    assert together["recommendation_id"].to_list() == [r["recommendation_id"] for r in rows]
    assert together["exit_reason"].to_list() == ["STOP", "MAX_HOLD", "TARGET", "NO_BARS", "SESSION_CLOSE"]


def test_stored_execution_rows_with_their_own_bar_ts():
    # A stored executions row also carries bar_ts (the bar its decision used); the walk
    # must use the session's bars, not collide with that column (all trades were NO_BARS).
    stored = executions_frame([execution()]).with_columns(
        bar_ts=pl.col("ts"), bar_close=pl.col("entry_price"), status=pl.lit("SIMULATED"), gates=pl.lit("{}")
    )
    bars = flat_bars("AAPL", 1, 2) + [("AAPL", minute(3), 104.0, 108.5, 103.0, 108.0)]
    out = trade_outcomes(stored, bars_frame(bars), CLOSE).row(0, named=True)
    assert (out["exit_reason"], out["exit_price"], out["bars_held"]) == ("TARGET", 108.0, 3)

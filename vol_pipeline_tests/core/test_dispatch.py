"""Dispatch: the 5 risk gates and their boundaries, the simulated fill and sizing, idempotency and the contract."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from vol_pipeline.core.dispatch import EXECUTION_COLUMNS, GATES, DispatchConfig, dispatch
from vol_pipeline.core.recommendations import RECOMMENDATION_COLUMNS
from vol_pipeline.contracts import ContractError, EXECUTIONS_SCHEMA, check_contract
from vol_pipeline.contracts.executions import executions_schema

T0 = datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc)  # Monday 09:30 New York
UTC = pl.Datetime("us", "UTC")
SECOND = timedelta(seconds=1)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def rec(ticker: str = "AAPL", ts: datetime = T0, action: str = "BUY", instrument: str = "CALL",
        confidence: float = 0.8) -> dict:
    return {
        "id": f"{ticker}-{ts:%Y%m%dT%H%M%S}", "ticker": ticker, "ts": ts, "action": action,
        "instrument_type": instrument, "rule": "BULLISH_ENTRY", "rule_version": "test",
        "base_confidence": confidence, "volume_ratio": 1.7, "volume_mult": 1.0,
        "volume_assessment": "GOOD_VOLUME", "confidence": confidence, "reason": "{}",
    }


def recs_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema_overrides={"ts": UTC}).select(RECOMMENDATION_COLUMNS)


def bar(ticker: str = "AAPL", ts: datetime = T0, close: float = 100.0) -> dict:
    return {"ticker": ticker, "ts": ts, "open": close, "high": close, "low": close, "close": close, "volume": 1000}


def bars_frame(rows: list[dict]) -> pl.DataFrame:
    schema = {"ticker": pl.String, "ts": UTC, **{c: pl.Float64 for c in ("open", "high", "low", "close")},
              "volume": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


def feat(ticker: str = "AAPL", ts: datetime = T0, recent_vol: float | None = 0.01) -> dict:
    return {"ticker": ticker, "ts": ts, "recent_vol": recent_vol}


def features_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"ticker": pl.String, "ts": UTC, "recent_vol": pl.Float64})


def run(recs: list[dict], bars: list[dict] | None = None, feats: list[dict] | None = None,
        decided_at: datetime | None = None, prior: pl.DataFrame | None = None,
        config: DispatchConfig = DispatchConfig()) -> pl.DataFrame:
    """Dispatch with, by default, each recommendation's own bar and features row (both fresh)."""
    bars = [bar(r["ticker"], r["ts"]) for r in recs] if bars is None else bars
    feats = [feat(r["ticker"], r["ts"]) for r in recs] if feats is None else feats
    decided_at = decided_at or max(r["ts"] for r in recs) + timedelta(minutes=1)
    return dispatch(recs_frame(recs), features_frame(feats), bars_frame(bars), decided_at, prior, config)


def gates(out: pl.DataFrame, row: int = 0) -> dict:
    return json.loads(out["gates"][row])


def statuses(out: pl.DataFrame) -> list[str]:
    return out["status"].to_list()


# --- gate 1: confidence ---------------------------------------------------------------------
def test_confidence_boundary():
    out = run([rec("AAPL", confidence=0.70), rec("MSFT", confidence=0.6999)])
    assert statuses(out) == ["SIMULATED", "SKIPPED"]
    assert out["failed_gates"].to_list() == [None, "confidence"]
    assert gates(out, 1)["confidence"] == {"observed": 0.6999, "threshold": 0.7, "passed": False}


# --- gate 2: action -------------------------------------------------------------------------
def test_naming_bug_fixed_buy_actions_pass():
    out = run([rec("AAPL", instrument="CALL"), rec("MSFT", instrument="PUT"), rec("TSLA", instrument="STOCK")])
    assert out["action"].to_list() == ["BUY_CALL", "BUY_PUT", "BUY_STOCK"]
    assert statuses(out) == ["SIMULATED"] * 3
    assert gates(out)["action_allowed"]["threshold"] == ["BUY_CALL", "BUY_PUT", "BUY_STOCK"]


def test_sell_stock_is_skipped_by_the_action_gate_only():
    out = run([rec(action="SELL", instrument="STOCK")])
    assert out["action"].to_list() == ["SELL_STOCK"]
    assert out["failed_gates"].to_list() == ["action_allowed"]
    assert out.select(pl.col("entry_price").is_null()).item()


# --- gate 3: bar freshness (from the bar's END) -----------------------------------------------
@pytest.mark.parametrize(("bar_start_before", "age", "passed"), [(180, 120.0, True), (181, 121.0, False)])
def test_bar_age_boundary_measured_from_bar_end(bar_start_before, age, passed):
    decided = at(1)
    out = run([rec()], bars=[bar(ts=decided - bar_start_before * SECOND)], decided_at=decided)
    assert gates(out)["bar_freshness"] == {"observed": age, "threshold": 120.0, "passed": passed}
    assert statuses(out) == ["SIMULATED" if passed else "SKIPPED"]


def test_unclosed_bar_is_ignored_and_missing_bar_fails():
    decided = at(1)
    # The bar starting at decided_at has not ended yet: the newest closed bar is T0 (age 0).
    out = run([rec(), rec("MSFT")], bars=[bar(ts=T0, close=100.0), bar(ts=decided, close=999.0)], decided_at=decided)
    aapl, msft = gates(out, 0)["bar_freshness"], gates(out, 1)["bar_freshness"]
    assert aapl == {"observed": 0.0, "threshold": 120.0, "passed": True}
    assert out["bar_close"][0] == 100.0
    assert msft == {"observed": None, "threshold": 120.0, "passed": False}


# --- gate 4: feature freshness -------------------------------------------------------------------
@pytest.mark.parametrize(("start_before", "age", "passed"), [(360, 300.0, True), (361, 301.0, False)])
def test_feature_age_boundary(start_before, age, passed):
    decided = at(1)
    out = run([rec()], feats=[feat(ts=decided - start_before * SECOND)], decided_at=decided)
    assert gates(out)["feature_freshness"] == {"observed": age, "threshold": 300.0, "passed": passed}


def test_features_of_the_recommendations_own_bar_are_preferred():
    decided = at(3)
    out = run([rec(ts=at(0))], feats=[feat(ts=at(0), recent_vol=0.05), feat(ts=at(1), recent_vol=0.07)],
              bars=[bar(ts=at(2))], decided_at=decided)
    assert out["features_ts"][0] == at(0)
    assert out["recent_vol"][0] == 0.05
    assert gates(out)["feature_freshness"]["observed"] == 120.0


# --- gate 5: daily limit --------------------------------------------------------------------------
def test_third_execution_of_the_day_is_skipped():
    out = run([rec(ts=at(i)) for i in range(3)])
    assert statuses(out) == ["SIMULATED", "SIMULATED", "SKIPPED"]
    assert [gates(out, i)["ticker_daily_limit"]["observed"] for i in range(3)] == [0, 1, 2]
    assert out["failed_gates"][2] == "ticker_daily_limit"


def test_rows_failing_another_gate_do_not_use_the_daily_allowance():
    rows = [rec(ts=at(0), confidence=0.5), rec(ts=at(1)), rec(ts=at(2), action="SELL", instrument="STOCK"),
            rec(ts=at(3)), rec(ts=at(4)), rec(ts=at(5))]
    out = run(rows)
    assert statuses(out) == ["SKIPPED", "SIMULATED", "SKIPPED", "SIMULATED", "SKIPPED", "SKIPPED"]
    assert [gates(out, i)["ticker_daily_limit"]["observed"] for i in range(6)] == [0, 0, 1, 1, 2, 2]


def test_limit_is_per_ticker():
    out = run([rec("AAPL", at(0)), rec("MSFT", at(0)), rec("AAPL", at(1)), rec("MSFT", at(1)), rec("AAPL", at(2))])
    assert out.filter(pl.col("status") == "SKIPPED")["recommendation_id"].to_list() == [rec("AAPL", at(2))["id"]]


def prior(rows: list[tuple[str, datetime, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"ticker": pl.String, "ts": UTC, "status": pl.String}, orient="row")


def test_prior_simulated_executions_count_skipped_do_not():
    earlier = prior([("AAPL", at(-30), "SIMULATED"), ("AAPL", at(-20), "SKIPPED"), ("MSFT", at(-10), "SIMULATED")])
    out = run([rec(ts=at(0)), rec(ts=at(1))], prior=earlier)
    assert statuses(out) == ["SIMULATED", "SKIPPED"]
    assert gates(out, 1)["ticker_daily_limit"]["observed"] == 2


def test_daily_limit_uses_the_new_york_date_not_the_utc_date():
    # 2026-11-24 03:00 UTC is 22:00 on the 23rd in New York; 06:00 UTC is 01:00 on the 24th.
    night = datetime(2026, 11, 24, 3, 0, tzinfo=timezone.utc)
    two_on_the_23rd = prior([("AAPL", night, "SIMULATED"), ("AAPL", night + timedelta(minutes=5), "SIMULATED")])
    same_ny_day = night + timedelta(hours=1)  # still the 23rd in New York
    next_ny_day = night + timedelta(hours=3)  # the 24th in New York, same UTC date as the priors
    out = run([rec(ts=same_ny_day)], prior=two_on_the_23rd)
    assert out["failed_gates"].to_list() == ["ticker_daily_limit"]
    out = run([rec(ts=next_ny_day)], prior=two_on_the_23rd)
    assert statuses(out) == ["SIMULATED"]
    # And the other way: different UTC dates, same New York date (the 23rd) -> blocked.
    day = prior([("AAPL", at(0), "SIMULATED"), ("AAPL", at(1), "SIMULATED")])
    evening = datetime(2026, 11, 24, 1, 0, tzinfo=timezone.utc)  # 20:00 on the 23rd in New York
    assert run([rec(ts=evening)], prior=day)["failed_gates"].to_list() == ["ticker_daily_limit"]


# --- all gates, always ---------------------------------------------------------------------------------
def test_every_gate_is_evaluated_even_when_the_first_fails():
    out = run([rec(confidence=0.1, action="SELL", instrument="STOCK")], bars=[], feats=[])
    assert list(gates(out)) == list(GATES)
    assert out["failed_gates"].to_list() == ["confidence,action_allowed,bar_freshness,feature_freshness"]
    assert all(set(g) == {"observed", "threshold", "passed"} for g in gates(out).values())
    assert gates(out)["ticker_daily_limit"]["passed"] is True


# --- simulated fill and sizing ---------------------------------------------------------------------------
def fill(out: pl.DataFrame, row: int = 0) -> dict:
    return out.select("entry_price", "stop_loss_price", "take_profit_price", "qty", "notional",
                      "max_hold_minutes").row(row, named=True)


def test_fill_uncapped_long():
    # entry 10 * 1.0005 = 10.005; d = 10.005 * 0.2 * 2 = 4.002 (< 50% of entry); 2000 / 4.002 = 499.75 -> 500.
    out = run([rec(instrument="STOCK")], bars=[bar(close=10.0)], feats=[feat(recent_vol=0.2)])
    got = fill(out)
    assert got["entry_price"] == pytest.approx(10.005)
    assert got["stop_loss_price"] == pytest.approx(10.005 - 4.002)
    assert got["take_profit_price"] == pytest.approx(10.005 + 8.004)
    assert (got["qty"], got["max_hold_minutes"]) == (500, 240)
    assert got["notional"] == pytest.approx(5002.5)


def test_fill_put_with_notional_cap():
    # entry 50.025; d = 1.0005; risk qty round(1998.999) = 1999 -> notional ~100k > 25k -> round(499.75) = 500.
    out = run([rec(instrument="PUT")], bars=[bar(close=50.0)], feats=[feat(recent_vol=0.01)])
    got = fill(out)
    assert got["stop_loss_price"] == pytest.approx(50.025 + 1.0005)
    assert got["take_profit_price"] == pytest.approx(50.025 - 2.001)
    assert got["qty"] == 500
    assert got["notional"] == pytest.approx(500 * 50.025)


def test_short_stock_when_allowed_is_priced_short_and_passes_the_schema():
    # Reference §8: "BUY_PUT or SELL" get SL = entry + d, TP = entry - 2d.
    config = DispatchConfig(allowed_actions=("BUY_CALL", "BUY_PUT", "BUY_STOCK", "SELL_STOCK"))
    out = run([rec(action="SELL", instrument="STOCK")], bars=[bar(close=50.0)], feats=[feat(recent_vol=0.01)],
              config=config)
    got = fill(out)
    assert (out["action"].item(), out["status"].item()) == ("SELL_STOCK", "SIMULATED")
    assert got["stop_loss_price"] == pytest.approx(50.025 + 1.0005)
    assert got["take_profit_price"] == pytest.approx(50.025 - 2.001)
    check_contract(out, executions_schema(config))


@pytest.mark.parametrize("action", ["SELL_CALL", "SELL_PREMIUM", "BUY"])
def test_a_config_allowing_an_action_it_cannot_price_is_refused(action):
    with pytest.raises(ValueError, match=rf"allowed_actions: \['{action}'\] cannot be simulated"):
        DispatchConfig(allowed_actions=("BUY_CALL", action))


def test_stop_further_than_half_the_entry_sizes_to_one():
    out = run([rec()], bars=[bar(close=10.0)], feats=[feat(recent_vol=0.3)])  # d = 60% of entry
    assert fill(out)["qty"] == 1
    assert fill(out)["stop_loss_price"] == pytest.approx(10.005 * 0.4)


def test_zero_stop_distance_sizes_to_one():
    got = fill(run([rec()], bars=[bar(close=10.0)], feats=[feat(recent_vol=0.0)]))
    assert got["qty"] == 1
    assert got["stop_loss_price"] == got["entry_price"] == got["take_profit_price"]


def test_null_recent_vol_defaults_to_0_02():
    # d = 100.05 * 0.02 * 2 = 4.002 -> 500 shares -> 50,025 > 25,000 -> round(249.875) = 250.
    out = run([rec()], bars=[bar(close=100.0)], feats=[feat(recent_vol=None)])
    assert out["recent_vol"][0] == 0.02
    assert fill(out)["stop_loss_price"] == pytest.approx(100.05 - 4.002)
    assert fill(out)["qty"] == 250


@pytest.mark.parametrize(("close", "qty"), [(2000.0, 12), (10_000.0, 2)])
def test_cap_rounds_half_to_even_like_python(close, qty):
    # Without slippage, 25,000 / 2,000 = 12.5 and 25,000 / 10,000 = 2.5: Python's round gives 12 and 2.
    out = run([rec()], bars=[bar(close=close)], feats=[feat(recent_vol=0.0001)], config=DispatchConfig(slippage_bps=0))
    assert fill(out)["qty"] == qty == round(25_000 / close)


# --- idempotency -------------------------------------------------------------------------------------------
MIXED = [rec("AAPL", at(0)), rec("AAPL", at(1), instrument="PUT"), rec("AAPL", at(2)),
         rec("MSFT", at(1), confidence=0.5), rec("TSLA", at(2), action="SELL", instrument="STOCK")]


def test_same_inputs_give_an_identical_frame():
    assert_frame_equal(run(MIXED), run(MIXED))


def test_rerun_with_its_own_output_as_prior_is_identical():
    first = run(MIXED)
    assert_frame_equal(run(MIXED, prior=first), first)


def test_a_later_batch_counts_the_earlier_output():
    first = run(MIXED[:2])  # AAPL executes twice
    later = run([rec("AAPL", at(5))], prior=first)
    assert later["failed_gates"].to_list() == ["ticker_daily_limit"]


# --- bad input -----------------------------------------------------------------------------------------------
def test_bad_inputs_raise():
    with pytest.raises(ValueError, match="timezone-aware"):
        run([rec()], decided_at=datetime(2026, 11, 23, 14, 31))
    with pytest.raises(ValueError, match="not closed"):
        run([rec()], decided_at=T0 + 30 * SECOND)
    with pytest.raises(ValueError, match="duplicate id"):
        run([rec(), rec()])


def test_empty_recommendations():
    out = dispatch(recs_frame([rec()]).clear(), features_frame([]), bars_frame([]), at(1))
    assert out.is_empty() and out.columns == list(EXECUTION_COLUMNS)
    check_contract(out, EXECUTIONS_SCHEMA)


# --- contract -------------------------------------------------------------------------------------------------
def test_schema_accepts_the_output():
    out = run(MIXED + [rec("NVDA", at(2), instrument="STOCK")])
    assert set(statuses(out)) == {"SIMULATED", "SKIPPED"}
    check_contract(out, EXECUTIONS_SCHEMA)


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (lambda f: f.with_columns(qty=pl.when(pl.col("qty").is_not_null()).then(0)), "greater_than_or_equal_to"),
        (lambda f: f.with_columns(stop_loss_price=pl.col("take_profit_price")), "correct side"),
        (lambda f: f.with_columns(status=pl.lit("SIMULATED")), "non-null exactly when SIMULATED"),
        (lambda f: f.with_columns(status=pl.lit("FAILED")), "isin"),
        (lambda f: pl.concat([f, f.head(1)]), "unique"),
        (lambda f: f.with_columns(notional=pl.col("notional") + 1), "notional = qty"),
    ],
)
def test_schema_rejects_a_tampered_frame(tamper, message):
    out = run(MIXED)
    with pytest.raises(ContractError, match=message):
        check_contract(tamper(out), EXECUTIONS_SCHEMA)


# --- decided per minute (decided_at=None): a range of minutes in one call ----------------------
def test_each_row_decided_at_its_own_minute_end():
    recs = [rec("AAPL", at(0)), rec("AAPL", at(5)), rec("MSFT", at(5))]
    bars = [bar("AAPL", at(0)), bar("AAPL", at(5), close=101.0), bar("MSFT", at(3))]
    out = dispatch(recs_frame(recs), features_frame([feat(r["ticker"], r["ts"]) for r in recs]), bars_frame(bars))
    assert out["decided_at"].to_list() == [at(1), at(6), at(6)]
    # AAPL at 09:35 uses its own bar (age 0), not a later one; MSFT's newest bar ended 2 min earlier
    assert out["bar_close"].to_list() == [100.0, 101.0, 100.0]
    assert [gates(out, i)["bar_freshness"]["observed"] for i in range(3)] == [0.0, 0.0, 120.0]


def test_one_call_over_many_minutes_equals_minute_by_minute_calls():
    """A range run decides exactly as the minute runs would, prior executions included."""
    minutes = range(0, 40, 4)
    recs = [rec(t, at(m)) for m in minutes for t in ("AAPL", "MSFT")]
    bars = [bar(r["ticker"], r["ts"]) for r in recs]
    feats = [feat(r["ticker"], r["ts"]) for r in recs]
    whole = dispatch(recs_frame(recs), features_frame(feats), bars_frame(bars))
    done = None
    for m in minutes:
        batch = [r for r in recs if r["ts"] == at(m)]
        one = dispatch(recs_frame(batch), features_frame(feats), bars_frame(bars), at(m + 1), done)
        done = one if done is None else pl.concat([done, one])
    assert_frame_equal(whole, done.sort("ts", "ticker"))
    assert whole.group_by("ticker").agg((pl.col("status") == "SIMULATED").sum())["status"].to_list() == [2, 2]

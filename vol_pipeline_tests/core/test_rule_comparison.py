"""compare_rule_sets: named rule sets replayed side by side, one session at a time, with totals."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from vol_pipeline.core.calendar import MARKET_TZ, session_hours
from vol_pipeline.core.config import SignalRuleSet
from vol_pipeline.core.dispatch import DispatchConfig
from vol_pipeline.core.features import lane_features
from vol_pipeline.core.report import session_report
from vol_pipeline.core.trade_stats import trade_stats
from vol_pipeline.core.rule_comparison import (
    BUCKETS, COMPARISON_COLUMNS, COMPARISON_SCHEMA, compare_rule_sets, comparison_markdown, comparison_text,
    display_frame,
)
from vol_pipeline.core.rule_sets import DEFAULT_COMPARISON, NamedRuleSet, resolve
from vol_pipeline.core.what_if import replay_session
from vol_pipeline.sources.synthetic import SyntheticBarSource
from vol_pipeline_tests.core.feature_rows import feature_row, features_frame, minute

SESSIONS = [date(2026, 11, 20), date(2026, 11, 23), date(2026, 11, 24)]  # Friday, Monday, Tuesday
DAY = timedelta(days=1)


def ny_date(frame: pl.DataFrame) -> pl.Expr:
    return pl.col("ts").dt.convert_time_zone(MARKET_TZ).dt.date()


def session_rows(frame: pl.DataFrame, session: date) -> pl.DataFrame:
    return frame.filter(ny_date(frame) == session)


def closes() -> dict[date, object]:
    hours = session_hours(SESSIONS[0], SESSIONS[-1])
    return dict(zip(hours["session"].to_list(), hours["close"].to_list()))


@pytest.fixture(scope="module")
def stored() -> dict:
    bars = SyntheticBarSource(tickers=("AAPL", "MSFT", "TSLA")).generate(SESSIONS[0], len(SESSIONS))
    features = lane_features(bars)
    gate = NamedRuleSet("gate-0.6", SignalRuleSet(version="gate-0.6"), DispatchConfig(min_confidence=0.6))
    rule_sets = [*resolve(DEFAULT_COMPARISON), gate]
    return {"bars": bars, "features": features, "rule_sets": rule_sets,
            "table": compare_rule_sets(features, bars, rule_sets)}


def per_session(table: pl.DataFrame) -> pl.DataFrame:
    return table.filter(pl.col("session").is_not_null())


def one(table: pl.DataFrame, session: date | None, rules: str) -> dict:
    match = pl.col("session").is_null() if session is None else pl.col("session") == session
    rows = table.filter(match & (pl.col("rules") == rules))
    assert rows.height == 1, rows
    return rows.row(0, named=True)


# --- shape ----------------------------------------------------------------------------------------
def test_one_row_per_session_and_rule_set_then_a_total_per_rule_set(stored):
    table = stored["table"]
    names = ["1.0-phase12", "1.0-phase12+multiplier-off", "gate-0.6"]
    assert table.columns == list(COMPARISON_COLUMNS)
    assert table.schema == pl.Schema(COMPARISON_SCHEMA)
    assert table["session"].to_list() == [s for s in SESSIONS for _ in names] + [None] * 3
    assert table["rules"].to_list() == names * (len(SESSIONS) + 1)
    assert set(BUCKETS) == {"kill", "reduced", "normal", "boosted"} and table.columns[-4:] == list(BUCKETS)


def test_every_session_has_setups_so_the_comparison_means_something(stored):
    default = per_session(stored["table"]).filter(pl.col("rules") == "1.0-phase12")
    assert (default["recommendations"] > 0).all()
    assert default["executions"].sum() > 0


# --- each row is that session's own replay ------------------------------------------------------
def test_each_row_is_replay_session_on_that_session_alone(stored):
    """With the default rules, the row is what the minute and session assets would have stored:
    the chain run by hand on the session's rows, and the session report's numbers."""
    table, bars, features = stored["table"], stored["bars"], stored["features"]
    for session in SESSIONS:
        session_bars, session_features = session_rows(bars, session), session_rows(features, session)
        for rule_set in stored["rule_sets"]:
            replayed = replay_session(session_features, session_bars, closes()[session], rule_set.rules, rule_set.dispatch)
            row = one(table, session, rule_set.name)
            simulated = replayed.executions.filter(pl.col("status") == "SIMULATED").height
            stats = trade_stats(replayed.outcomes)
            assert row["recommendations"] == replayed.recommendations.height
            assert row["executions"] == simulated == stats["trades"] == row["trades"]
            assert row["execution_rate"] == pytest.approx(simulated / replayed.recommendations.height)
            assert (row["wins"], row["losses"], row["flat"], row["win_rate"]) == (
                stats["wins"], stats["losses"], stats["flat"], stats["win_rate"])
            assert row["pnl"] == pytest.approx(stats["pnl"])
            report = session_report(session, session_bars, session_features, replayed.signals,
                                    replayed.recommendations, replayed.executions, replayed.outcomes)
            assert {b["bucket"]: b["signals"] for b in report["multiplier_buckets"]} == {b: row[b] for b in BUCKETS}


def test_a_range_is_the_sessions_compared_one_by_one(stored):
    """Cooldown, daily limits and exits start afresh each session: comparing the range gives
    the same rows as comparing each session on its own rows only."""
    singles = [
        per_session(compare_rule_sets(session_rows(stored["features"], s), session_rows(stored["bars"], s),
                                      stored["rule_sets"], [s]))
        for s in SESSIONS
    ]
    assert_frame_equal(per_session(stored["table"]), pl.concat(singles))


def test_sessions_given_explicitly_limit_the_rows_and_the_rest_is_ignored(stored):
    table = compare_rule_sets(stored["features"], stored["bars"], stored["rule_sets"][:1], [SESSIONS[1]])
    assert table["session"].to_list() == [SESSIONS[1], None]
    assert_frame_equal(table.head(1), one_frame(stored["table"], SESSIONS[1], "1.0-phase12"))


def one_frame(table: pl.DataFrame, session: date, rules: str) -> pl.DataFrame:
    return table.filter((pl.col("session") == session) & (pl.col("rules") == rules))


# --- totals and the variants ----------------------------------------------------------------------
def test_totals_sum_the_sessions_and_recompute_the_rates(stored):
    table = stored["table"]
    for rule_set in stored["rule_sets"]:
        rows = per_session(table).filter(pl.col("rules") == rule_set.name)
        total = one(table, None, rule_set.name)
        for column in ("recommendations", "executions", "trades", "wins", "losses", "flat", *BUCKETS):
            assert total[column] == rows[column].sum(), column
        assert total["pnl"] == pytest.approx(rows["pnl"].sum())
        assert total["execution_rate"] == pytest.approx(total["executions"] / total["recommendations"])
        if total["wins"] + total["losses"]:
            assert total["win_rate"] == pytest.approx(total["wins"] / (total["wins"] + total["losses"]))


def test_multiplier_off_puts_every_directional_signal_in_the_normal_bucket(stored):
    table = stored["table"]
    for session in SESSIONS:
        on, off = one(table, session, "1.0-phase12"), one(table, session, "1.0-phase12+multiplier-off")
        assert off["kill"] == off["reduced"] == off["boosted"] == 0
        assert off["normal"] == sum(on[b] for b in BUCKETS)  # the same directional signals
        assert on["kill"] > 0 and on["reduced"] > 0


def test_a_lower_confidence_gate_keeps_the_recommendations_and_dispatches_more(stored):
    table = stored["table"]
    for session in [*SESSIONS, None]:
        default, lower = one(table, session, "1.0-phase12"), one(table, session, "gate-0.6")
        assert lower["recommendations"] == default["recommendations"]
        assert {b: lower[b] for b in BUCKETS} == {b: default[b] for b in BUCKETS}
        assert lower["executions"] >= default["executions"]
    assert one(table, None, "gate-0.6")["executions"] > one(table, None, "1.0-phase12")["executions"]


# --- a constructed case with exact numbers ---------------------------------------------------------
def bars_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        [(t, ts, o, h, lo, c, 1000) for t, ts, o, h, lo, c in rows],
        schema={"ticker": pl.String, "ts": pl.Datetime("us", "UTC"), "open": pl.Float64, "high": pl.Float64,
                "low": pl.Float64, "close": pl.Float64, "volume": pl.Int64},
        orient="row",
    )


def decided_by_volume(day: timedelta) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Base confidence 0.6375 for both tickers (see test_what_if.py): AAPL's volume ratio 2.5
    boosts it to 0.765 (passes the 0.70 gate, next bar hits the target); MSFT's 0.4 kills it."""
    features = features_frame([
        feature_row("AAPL", minute(0) + day, d20=0.005, volume_ratio=2.5),
        feature_row("MSFT", minute(0) + day, d20=0.005, volume_ratio=0.4),
    ])
    bars = bars_frame([
        ("AAPL", minute(0) + day, 100.5, 100.5, 100.5, 100.5),
        ("AAPL", minute(1) + day, 100.5, 102.0, 100.5, 101.5),
        ("MSFT", minute(0) + day, 100.5, 100.5, 100.5, 100.5),
        ("MSFT", minute(1) + day, 100.5, 100.6, 100.4, 100.5),
    ])
    return features, bars


def test_constructed_sessions_give_exact_rows():
    monday, tuesday = decided_by_volume(0 * DAY), decided_by_volume(DAY)
    features, bars = pl.concat([monday[0], tuesday[0]]), pl.concat([monday[1], tuesday[1]])
    gate = NamedRuleSet("gate-0.6", SignalRuleSet(version="gate-0.6"), DispatchConfig(min_confidence=0.6))
    table = compare_rule_sets(features, bars, [*resolve(DEFAULT_COMPARISON), gate],
                              [date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25)])
    shown = table.select("session", "rules", "recommendations", "executions", "execution_rate", "trades", "wins",
                         "win_rate", *BUCKETS)
    on, off, low = (1, 1, 1.0, 1, 1, 1.0, 1, 0, 0, 1), (2, 0, 0.0, 0, 0, None, 0, 0, 2, 0), (1, 1, 1.0, 1, 1, 1.0, 1, 0, 0, 1)
    empty = (0, 0, None, 0, 0, None, 0, 0, 0, 0)
    expected = []
    for day in (date(2026, 11, 23), date(2026, 11, 24)):
        expected += [(day, "1.0-phase12", *on), (day, "1.0-phase12+multiplier-off", *off), (day, "gate-0.6", *low)]
    expected += [(date(2026, 11, 25), name, *empty) for name in ("1.0-phase12", "1.0-phase12+multiplier-off", "gate-0.6")]
    expected += [
        (None, "1.0-phase12", 2, 2, 1.0, 2, 2, 1.0, 2, 0, 0, 2),
        (None, "1.0-phase12+multiplier-off", 4, 0, 0.0, 0, 0, None, 0, 0, 4, 0),
        (None, "gate-0.6", 2, 2, 1.0, 2, 2, 1.0, 2, 0, 0, 2),
    ]
    assert shown.rows() == expected
    pnl = table["pnl"].to_list()
    assert pnl[0] > 0 and pnl[1] == 0.0 and pnl[0] == pnl[2] == pnl[3] and pnl[-3] == pytest.approx(2 * pnl[0])


def test_no_sessions_gives_only_zero_totals():
    features, bars = decided_by_volume(0 * DAY)
    table = compare_rule_sets(features.clear(), bars.clear(), resolve(DEFAULT_COMPARISON))
    assert table["session"].to_list() == [None, None]
    assert table["recommendations"].to_list() == [0, 0] and table["execution_rate"].to_list() == [None, None]


def test_bad_arguments_are_refused():
    features, bars = decided_by_volume(0 * DAY)
    default = resolve(["1.0-phase12"])
    with pytest.raises(ValueError, match="not NYSE sessions: 2026-11-26"):  # Thanksgiving
        compare_rule_sets(features, bars, default, [date(2026, 11, 26)])
    with pytest.raises(ValueError, match="need distinct rule set names"):
        compare_rule_sets(features, bars, default * 2)
    with pytest.raises(ValueError, match="need distinct rule set names"):
        compare_rule_sets(features, bars, [])


# --- for people --------------------------------------------------------------------------------------
def test_display_shows_total_percentages_and_dashes():
    features, bars = decided_by_volume(0 * DAY)
    table = compare_rule_sets(features, bars, resolve(DEFAULT_COMPARISON))
    shown = display_frame(table)
    assert shown["session"].to_list() == ["2026-11-23", "2026-11-23", "total", "total"]
    assert shown["execution_rate"].to_list() == ["100.0%", "0.0%", "100.0%", "0.0%"]
    assert shown["win_rate"].to_list() == ["100.0%", "-", "100.0%", "-"]
    text = comparison_text(table)
    assert "total" in text and "1.0-phase12+multiplier-off" in text and "shape" not in text
    markdown = comparison_markdown(table).splitlines()
    assert markdown[0] == "| " + " | ".join(COMPARISON_COLUMNS) + " |"
    assert markdown[1] == "|" + "---|" * len(COMPARISON_COLUMNS)
    assert len(markdown) == 2 + table.height
    assert markdown[-1].startswith("| total | 1.0-phase12+multiplier-off | 2 | 0 | 0.0% | 0 | 0 | 0 | 0 | - | 0.0 | 0 | 0 | 2 | 0 |")


def test_rule_sets_keep_their_names_in_the_replayed_signals():
    """A file's rule set replays under its own name (its version), like the stored rule_version."""
    features, bars = decided_by_volume(0 * DAY)
    named = NamedRuleSet("custom", replace(SignalRuleSet(version="custom"), surge_multiplier=2.0))
    replayed = replay_session(features, bars, closes()[date(2026, 11, 23)], named.rules)
    assert replayed.signals["rule_version"].unique().to_list() == ["custom"]
    assert replayed.recommendations["rule_version"].to_list() == ["custom"]

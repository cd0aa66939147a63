"""Several named rule sets replayed side by side over a range of sessions (`vol-pipeline whatif`).

Each session is replayed on its own with `replay_session` (its lane_features and bars,
decided minute by minute, exits walked to that session's close), so the cooldown and the
per-ticker daily limit start afresh every session, as in the stored run, where both are
per New York date. With the default rule set a row therefore equals what the minute and
session assets stored for that session (a test holds it to that).

The table (COMPARISON_COLUMNS) has one row per session and rule set, ordered by session
and then the rule sets in the order given, followed by one total row per rule set whose
`session` is null (shown as "total"). Columns:

- recommendations: after the cooldown; executions: SIMULATED dispatch decisions;
  execution_rate = executions / recommendations (null without recommendations);
- trades, wins, losses, flat (P&L 0, including NO_BARS exits), win_rate = wins / (wins +
  losses) (null when nothing won or lost; core.trade_stats), pnl: the trade outcomes;
- kill / reduced / normal / boosted: the multiplier buckets (core/volume.multiplier_bucket)
  of the session's directional signals before the cooldown, the scope of the session
  report's buckets (a killed signal never becomes a recommendation).

A total row sums the counts and the P&L over the sessions and recomputes both rates from
the sums. Nothing loops over rows or tickers; the loop is over sessions x rule sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

import polars as pl

from vol_pipeline.core.calendar import MARKET_TZ, session_hours
from vol_pipeline.core.exits import ExitConfig
from vol_pipeline.core.report import EXPECTED_BUCKET_SHARES
from vol_pipeline.core.rule_sets import NamedRuleSet
from vol_pipeline.core.trade_stats import trade_stats, win_rate
from vol_pipeline.core.volume import multiplier_bucket
from vol_pipeline.core.what_if import SessionReplay, replay_session

BUCKETS: tuple[str, ...] = tuple(EXPECTED_BUCKET_SHARES)  # kill, reduced, normal, boosted
TOTAL = "total"  # how a total row's null session is shown
COUNT_COLUMNS: tuple[str, ...] = ("recommendations", "executions", "trades", "wins", "losses", "flat", *BUCKETS)
COMPARISON_SCHEMA: dict[str, pl.DataType] = {
    "session": pl.Date(),
    "rules": pl.String(),
    "recommendations": pl.Int64(),
    "executions": pl.Int64(),
    "execution_rate": pl.Float64(),
    "trades": pl.Int64(),
    "wins": pl.Int64(),
    "losses": pl.Int64(),
    "flat": pl.Int64(),
    "win_rate": pl.Float64(),
    "pnl": pl.Float64(),
    **{bucket: pl.Int64() for bucket in BUCKETS},
}
COMPARISON_COLUMNS: tuple[str, ...] = tuple(COMPARISON_SCHEMA)


def compare_rule_sets(
    features: pl.DataFrame,
    bars: pl.DataFrame,
    rule_sets: Sequence[NamedRuleSet],
    sessions: Sequence[date] | None = None,
    exit_config: ExitConfig = ExitConfig(),
) -> pl.DataFrame:
    """The comparison table (module docstring) of `rule_sets` over `sessions`.

    `features`, `bars`: the stored lane_features and bars of the sessions (any extra rows
    of other dates are ignored). `sessions`: NYSE sessions to report; None: every New York
    date that has bars. A session without rows gets a row of zeros.
    """
    names = [rule_set.name for rule_set in rule_sets]
    if not names or len(set(names)) != len(names):
        raise ValueError(f"need distinct rule set names, got {names}")
    features_by_session, bars_by_session = _by_session(features), _by_session(bars)
    wanted = sorted(set(sessions) if sessions is not None else bars_by_session)
    closes = _closes(wanted)
    rows = []
    for session in wanted:
        session_features = features_by_session.get(session, features.clear())
        session_bars = bars_by_session.get(session, bars.clear())
        for rule_set in rule_sets:
            replayed = replay_session(session_features, session_bars, closes[session], rule_set.rules,
                                      rule_set.dispatch, exit_config)
            rows.append({"session": session, "rules": rule_set.name, **_session_row(replayed)})
    per_session = pl.DataFrame(rows, schema=COMPARISON_SCHEMA)
    return pl.concat([per_session, _totals(per_session, names)])


def _by_session(frame: pl.DataFrame) -> dict[date, pl.DataFrame]:
    """Rows split by the New York date of `ts` (a session's minutes all fall on its date)."""
    keyed = frame.with_columns(_session=pl.col("ts").dt.convert_time_zone(MARKET_TZ).dt.date())
    return {key[0]: part for key, part in keyed.partition_by("_session", as_dict=True, include_key=False).items()}


def _closes(sessions: list[date]) -> dict[date, datetime]:
    if not sessions:
        return {}
    hours = session_hours(sessions[0], sessions[-1])
    closes = dict(zip(hours["session"].to_list(), hours["close"].to_list()))
    closed = [day for day in sessions if day not in closes]
    if closed:
        raise ValueError(f"not NYSE sessions: {', '.join(day.isoformat() for day in closed)}")
    return closes


def _session_row(replayed: SessionReplay) -> dict:
    recommendations = replayed.recommendations.height
    executions = replayed.executions.filter(pl.col("status") == "SIMULATED").height
    stats = trade_stats(replayed.outcomes)
    directional = replayed.signals.filter(pl.col("direction").is_not_null())
    buckets = directional.select(multiplier_bucket(pl.col("volume_mult")).alias("bucket")).group_by("bucket").len()
    counts = dict(buckets.iter_rows())  # at most 5 rows: the buckets and null
    return {
        "recommendations": recommendations,
        "executions": executions,
        "execution_rate": executions / recommendations if recommendations else None,
        "trades": stats["trades"],
        "wins": stats["wins"],
        "losses": stats["losses"],
        "flat": stats["flat"],
        "win_rate": stats["win_rate"],
        "pnl": stats["pnl"],
        **{bucket: counts.get(bucket, 0) for bucket in BUCKETS},
    }


def _totals(per_session: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    sums = per_session.group_by("rules").agg(pl.col(*COUNT_COLUMNS).sum(), pl.col("pnl").sum())
    order = pl.DataFrame({"rules": names})
    totals = order.join(sums, on="rules", how="left", maintain_order="left").with_columns(
        pl.col(*COUNT_COLUMNS).fill_null(0), pl.col("pnl").fill_null(0.0),
    )
    return totals.with_columns(
        session=pl.lit(None, pl.Date),
        execution_rate=_ratio("executions", "recommendations"),
        win_rate=win_rate(pl.col("wins"), pl.col("losses")),
    ).select(COMPARISON_COLUMNS).cast(COMPARISON_SCHEMA)


def _ratio(numerator: str, denominator: str) -> pl.Expr:
    return pl.when(pl.col(denominator) > 0).then(pl.col(numerator) / pl.col(denominator))


# --- for people: the same table with "total", percentages and rounded P&L ---------------------
def display_frame(table: pl.DataFrame) -> pl.DataFrame:
    """Strings for printing: session dates or "total", rates as percentages, P&L to the cent."""
    def percent(column: str) -> pl.Expr:
        return pl.format("{}%", (pl.col(column) * 100).round(1)).fill_null("-")

    return table.select(
        pl.col("session").cast(pl.String).fill_null(TOTAL),
        "rules", "recommendations", "executions",
        percent("execution_rate"),
        "trades", "wins", "losses", "flat",
        percent("win_rate"),
        pl.col("pnl").round(2),
        *BUCKETS,
    )


def comparison_text(table: pl.DataFrame) -> str:
    """The table as fixed-width text (the CLI's stdout)."""
    with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=240, fmt_str_lengths=60,
                   tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        return str(display_frame(table))


def comparison_markdown(table: pl.DataFrame) -> str:
    """The table as a markdown table (the Dagster UI's metadata)."""
    shown = display_frame(table).cast(pl.String).fill_null("")
    lines = ["| " + " | ".join(shown.columns) + " |", "|" + "---|" * shown.width]
    lines += ["| " + " | ".join(row) + " |" for row in shown.iter_rows()]
    return "\n".join(lines)

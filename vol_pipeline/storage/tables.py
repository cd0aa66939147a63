"""The warehouse tables: columns (from the pandera contracts) and the partition column.

Every table is written one partition window at a time: the rows whose partition column
falls in [start, end) are replaced together, which makes every write idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Sequence

import polars as pl

from vol_pipeline.core.bars import REJECTED_SCHEMA, STORED_BAR_SCHEMA
from vol_pipeline.core.dispatch import EXECUTION_COLUMNS
from vol_pipeline.core.exits import OUTCOME_COLUMNS
from vol_pipeline.core.features import FEATURE_COLUMNS
from vol_pipeline.core.recommendations import RECOMMENDATION_COLUMNS
from vol_pipeline.core.signals import SIGNAL_COLUMNS

UTC_TS = pl.Datetime("us", "UTC")
_BAR_VALUES = ("open", "high", "low", "close", "volume")
# change: 'revised' (values differ), 'added' (a bar late for a minute already stored) or
# 'removed' (a stored bar the new fetch no longer has); recorded_at: when it was replaced.
BAR_REVISION_COLUMNS = {
    "ticker": pl.String, "ts": UTC_TS, "change": pl.String,
    **{f"old_{c}": STORED_BAR_SCHEMA[c] for c in _BAR_VALUES},
    **{f"new_{c}": STORED_BAR_SCHEMA[c] for c in _BAR_VALUES},
    "old_fetched_at": UTC_TS, "new_fetched_at": UTC_TS, "feed": pl.String, "recorded_at": UTC_TS,
}
# session_start: midnight New York of the session date, in UTC (inside the daily partition's window).
SESSION_REPORT_COLUMNS = {"session_date": pl.String, "session_start": UTC_TS, "generated_at": UTC_TS, "report": pl.String}


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, pl.DataType]
    partition_column: str = "ts"
    json_columns: tuple[str, ...] = ()
    description: str = ""
    # Columns added after the table's first release: the embedded warehouse adds them to
    # an existing file (PostgreSQL has its migrations).
    added_columns: tuple[str, ...] = ()
    # Set for append-only tables written with `insert_new`: a row whose key is stored is skipped.
    key: tuple[str, ...] = ()

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.columns)


def _columns(names: tuple[str, ...], schema) -> dict[str, pl.DataType]:
    return {name: schema.columns[name].dtype.type for name in names}


def _tables() -> dict[str, Table]:
    from vol_pipeline.contracts import (
        BARS_SCHEMA, EXECUTIONS_SCHEMA, LANE_FEATURES_SCHEMA, NEWS_ITEMS_SCHEMA, NEWS_SENTIMENT_SCHEMA, OUTCOMES_SCHEMA,
        RECOMMENDATIONS_SCHEMA, SIGNALS_SCHEMA, WATCHLIST_SCHEMA,
    )
    from vol_pipeline.contracts.news import NEWS_ITEM_COLUMNS, NEWS_SENTIMENT_COLUMNS

    quarantine = {"minute_ts": UTC_TS, "source": pl.String, **REJECTED_SCHEMA}
    tables = [
        Table("bars", _columns(tuple(STORED_BAR_SCHEMA), BARS_SCHEMA), added_columns=("feed", "fetched_at"),
              description="valid 1-minute bars (UTC bar start) with their feed and fetch time"),
        Table("bars_quarantine", quarantine, partition_column="minute_ts",
              description="input rows rejected by bar validation, with the reason, kept per minute"),
        # Append-only: written by the bars write that changes stored bars (storage/revisions.py).
        Table("bar_revisions", BAR_REVISION_COLUMNS,
              description="stored bars a later fetch changed, added late or no longer returned: old and new values, when"),
        Table("lane_features", _columns(FEATURE_COLUMNS, LANE_FEATURES_SCHEMA), description="SMA, volatility and volume features per bar"),
        Table("signals", _columns(SIGNAL_COLUMNS, SIGNALS_SCHEMA), description="one signal per evaluated (ticker, minute), HOLD included"),
        Table("recommendations", _columns(RECOMMENDATION_COLUMNS, RECOMMENDATIONS_SCHEMA), json_columns=("reason",),
              description="actionable signals after the 15-minute cooldown, with the reason JSON"),
        Table("executions", _columns(EXECUTION_COLUMNS, EXECUTIONS_SCHEMA), json_columns=("gates",),
              description="one paper dispatch decision per recommendation: the 5 gates and the simulated fill"),
        Table("outcomes", _columns(OUTCOME_COLUMNS, OUTCOMES_SCHEMA), partition_column="entry_ts",
              description="each simulated execution walked forward to its exit: price, P&L, R multiple, win"),
        Table("session_report", SESSION_REPORT_COLUMNS, partition_column="session_start", json_columns=("report",),
              description="one report per trading session (JSON): rates, distributions, win rates, what-if, checklist"),
        # News is stored once per event_uid however often feeds repeat it (insert_new).
        Table("news_items", _columns(NEWS_ITEM_COLUMNS, NEWS_ITEMS_SCHEMA), partition_column="published_at",
              key=("event_uid",), description="news items as fetched: title, summary, link, feed, published and fetched times"),
        Table("news_sentiment", _columns(NEWS_SENTIMENT_COLUMNS, NEWS_SENTIMENT_SCHEMA), partition_column="known_at",
              key=("event_uid",), description="each news item's tickers and its classifier label and score, by when it was known"),
        Table("watchlist", _columns(tuple(WATCHLIST_SCHEMA.columns), WATCHLIST_SCHEMA),
              description="every 5 minutes: each ticker's watch_score, its components and rank (top 30 on the list)"),
    ]
    return {t.name: t for t in tables}


TABLES: dict[str, Table] = _tables()


def table(name: str) -> Table:
    try:
        return TABLES[name]
    except KeyError:
        raise ValueError(f"unknown table {name!r}; tables: {', '.join(TABLES)}") from None


def read_columns(tbl: Table, columns: Sequence[str] | None) -> dict[str, pl.DataType]:
    """The columns a read returns, with their types: all of the table's, or the named ones
    in the order given (each must be a column of the table)."""
    if columns is None:
        return dict(tbl.columns)
    unknown = [name for name in columns if name not in tbl.columns]
    if unknown or not columns:
        raise ValueError(f"{tbl.name} has no column(s) {unknown}; columns: {', '.join(tbl.columns)}")
    return {name: tbl.columns[name] for name in columns}


def window_rows(tbl: Table, frame: pl.DataFrame, start: datetime, end: datetime) -> pl.DataFrame:
    """`frame` in the table's columns and types; every row must be in [start, end)."""
    rows = frame.select(list(tbl.columns)).cast(tbl.columns)
    start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    column = pl.col(tbl.partition_column)
    outside = rows.filter(column.is_null() | (column < start) | (column >= end))
    if outside.height:
        raise ValueError(
            f"{tbl.name}: {outside.height} row(s) outside the partition window [{start}, {end}), "
            f"e.g. {outside.row(0, named=True)}"
        )
    return rows


def new_rows(table_name: str, frame: pl.DataFrame) -> tuple[Table, pl.DataFrame]:
    """An append-only table and `frame` in its columns, one row per key (the first)."""
    tbl = table(table_name)
    if not tbl.key:
        raise ValueError(f"{tbl.name} is written by partition window (replace), not insert_new")
    rows = frame.select(list(tbl.columns)).cast(tbl.columns)
    missing_key = rows.filter(pl.any_horizontal(pl.col(c).is_null() for c in tbl.key))
    if missing_key.height:
        raise ValueError(f"{tbl.name}: {missing_key.height} row(s) without {', '.join(tbl.key)}, "
                         f"e.g. {missing_key.row(0, named=True)}")
    return tbl, rows.unique(list(tbl.key), keep="first", maintain_order=True)

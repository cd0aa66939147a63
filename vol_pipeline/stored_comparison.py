"""The rule comparison over stored sessions: what `vol-pipeline whatif` and the
`rule_comparison` asset share (read the warehouse, then core/rule_comparison.py).

Only the NYSE sessions of the range that have stored bars are reported; the others are
listed, so a session that was never run is not mistaken for one without setups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import polars as pl

from vol_pipeline.core.calendar import MARKET_TZ, session_hours
from vol_pipeline.core.errors import BadInputError
from vol_pipeline.core.rule_comparison import compare_rule_sets
from vol_pipeline.core.rule_sets import NamedRuleSet
from vol_pipeline.storage.warehouse import Warehouse


@dataclass(frozen=True)
class StoredComparison:
    table: pl.DataFrame  # core/rule_comparison.py COMPARISON_COLUMNS
    sessions: list[date]  # the sessions reported: NYSE sessions of the range with stored bars
    without_bars: list[date]  # NYSE sessions of the range without stored bars (not reported)


def stored_comparison(
    store: Warehouse, first: date, last: date, rule_sets: Sequence[NamedRuleSet], location: str = "the warehouse",
) -> StoredComparison:
    """Replay `rule_sets` over the stored bars and lane_features of the sessions first..last.

    BadInputError (one line) when the range holds no NYSE session or none with stored bars;
    `location` names the warehouse in that message.
    """
    hours = _session_hours(first, last)
    start, end = hours["open"][0], hours["close"][-1]
    bars = store.read("bars", start, end)
    stored_days = set(bars.select(pl.col("ts").dt.convert_time_zone(MARKET_TZ).dt.date().unique()).to_series().to_list())
    sessions = hours["session"].to_list()
    reported = [day for day in sessions if day in stored_days]
    if not reported:
        raise _no_bars(first, last, location)
    features = store.read("lane_features", start, end)
    table = compare_rule_sets(features, bars, rule_sets, reported)
    return StoredComparison(table, reported, [day for day in sessions if day not in stored_days])


def check_range(store: Warehouse, first: date, last: date, location: str = "the warehouse") -> None:
    """The same BadInputErrors as stored_comparison, from one single-row read: cheap to ask
    before launching a run that would fail on them."""
    hours = _session_hours(first, last)
    if store.read("bars", hours["open"][0], hours["close"][-1], newest_first=1).is_empty():
        raise _no_bars(first, last, location)


def _session_hours(first: date, last: date) -> pl.DataFrame:
    if first > last:
        raise BadInputError(f"--from {first} is after --to {last}")
    hours = session_hours(first, last)
    if hours.is_empty():
        raise BadInputError(f"no NYSE session between {first} and {last} (weekends and holidays only)")
    return hours


def _no_bars(first: date, last: date, location: str) -> BadInputError:
    return BadInputError(
        f"no bars stored for the sessions {first}..{last} in {location}: run `vol-pipeline demo --session DATE` "
        "or `vol-pipeline replay --bars FILE` first")

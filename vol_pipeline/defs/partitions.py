"""Market-minute partitions: one key per NYSE regular-session minute, New York time.

Key `2026-11-23-09:30` is the bar from 09:30:00 to 09:30:59. The keys are a Dagster
DynamicPartitionsDefinition (`market_minutes`) that this platform fills from the NYSE
calendar: the minute sensor registers every market minute as it closes, `demo`/`replay`
register the minutes they run, the session-close schedule its session's.

Why not a TimeWindowPartitionsDefinition (the previous design; DESIGN.md "Minute
partitions" has the measurements): a minute cron with the calendar's closures as exclusions
answers every per-key question (is this a key, what is its window) by walking croniter from
the key, ~100 ms a key, and the UI asks once per check record: after one demo session the
asset graph never loaded. Even a plain weekday cron costs ~3-10 ms a key. Dynamic keys are
rows in the instance: the UI looks them up in a cached set, in microseconds.

What this costs: Dagster orders dynamic keys by when they were added, so a range
(a single-run backfill of minutes picked in the UI) means the keys added between a and b. The
sensor and the CLI add minutes oldest first, so that order is time order unless older
history is added after newer minutes; `runs.contiguous_ranges` splits runs there, and an
asset refuses a range whose keys do not run in time order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import dagster as dg

from vol_pipeline.core.calendar import MARKET_TZ

MINUTE_FORMAT = "%Y-%m-%d-%H:%M"
MINUTE_PARTITIONS = "market_minutes"


def market_minute_partitions() -> dg.DynamicPartitionsDefinition:
    return dg.DynamicPartitionsDefinition(name=MINUTE_PARTITIONS)


def partition_key(minute: datetime) -> str:
    """Partition key of the bar starting at `minute` (any timezone)."""
    return minute.astimezone(ZoneInfo(MARKET_TZ)).strftime(MINUTE_FORMAT)


def minute_of_key(key: str) -> datetime:
    """UTC bar start of a partition key (ValueError if it is not one)."""
    local = datetime.strptime(key, MINUTE_FORMAT).replace(tzinfo=ZoneInfo(MARKET_TZ))
    return local.astimezone(timezone.utc)


def register_minutes(instance: dg.DagsterInstance, minutes: Iterable[datetime]) -> list[str]:
    """Add the keys of `minutes` (market minutes, UTC) oldest first; keys already there stay
    where they are. Returns the keys."""
    from sqlalchemy.exc import IntegrityError

    keys = [partition_key(m) for m in sorted(set(minutes))]
    if not keys:
        return keys
    for attempt in range(3):
        try:
            instance.add_dynamic_partitions(MINUTE_PARTITIONS, keys)
            break
        except IntegrityError:
            # Dagster reads the stored keys, then inserts the others: a process adding the
            # same key in between fails the insert. The keys it added are then stored.
            if attempt == 2:
                raise
    return keys


def add_minutes_request(minutes: Sequence[datetime]) -> dg.AddDynamicPartitionsRequest:
    """The sensor's form of register_minutes."""
    return dg.AddDynamicPartitionsRequest(MINUTE_PARTITIONS, [partition_key(m) for m in sorted(set(minutes))])


PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
# Why a run was launched. The minute sensor's runs (a new minute, revised bars) are live:
# they decide at the wall clock.
TRIGGER_TAG = "vol_pipeline/trigger"
NEW_MINUTE, REVISED_BARS = "new_minute", "revised_bars"
LIVE_TRIGGERS = (NEW_MINUTE, REVISED_BARS)


def key_range_window(first: str, last: str) -> tuple[datetime, datetime]:
    """UTC [start, end) of the minutes first..last; a clear error for a key that is not a minute."""
    try:
        return minute_of_key(first), minute_of_key(last) + timedelta(minutes=1)
    except ValueError:
        bad = next(k for k in (first, last) if not _is_minute_key(k))
        raise dg.Failure(f"partition key {bad!r} is not a market minute: keys look like 2026-11-23-09:30 "
                         "(New York time). Remove it from the market_minutes partitions.") from None


def _is_minute_key(key: str) -> bool:
    try:
        minute_of_key(key)
    except ValueError:
        return False
    return True


def run_minute_window(tags: Mapping[str, str]) -> tuple[datetime, datetime] | None:
    """UTC [start, end) of the minute or minute range a run targets, read from its tags.
    None when the run is not over minute keys (e.g. a session partition)."""
    first, last = tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)
    if not (first and last):
        first = last = tags.get(PARTITION_TAG)
    if not first or not _is_minute_key(first):
        return None
    return key_range_window(first, last)

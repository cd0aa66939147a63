"""plan_requests, minute_fingerprints and SensorCursor: which minutes the per-minute sensor
runs, without Dagster.

A tick here is one plan_requests call with the closed minutes and fingerprints of that
moment; the cursor goes through its JSON form between ticks, as it does in Dagster.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import polars as pl
import pytest

from vol_pipeline.core.bars import BAR_SCHEMA
from vol_pipeline.core.minute_requests import (
    MinuteRequest,
    SensorCursor,
    closed,
    minute_fingerprints,
    plan_requests,
)

OPEN = datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc)  # 09:30 New York
WINDOW = 120


def minute(i: int) -> datetime:
    return OPEN + timedelta(minutes=i)


def minutes(n: int) -> list[datetime]:
    return [minute(i) for i in range(n)]


def fps(indices, tag: str = "v1") -> dict[datetime, str]:
    return {minute(i): f"{tag}-{i}" for i in indices}


def tick(closed_minutes, fingerprints, cursor: SensorCursor, max_per_tick: int = 60, window: int = WINDOW):
    """One tick; the cursor comes back through JSON as Dagster stores it."""
    requests, next_cursor = plan_requests(closed_minutes, fingerprints, cursor, max_per_tick, window)
    return requests, SensorCursor.from_json(next_cursor.to_json())


# --- new minutes ----------------------------------------------------------------------


def test_new_minutes_with_data_are_requested_once_oldest_first():
    all_minutes = minutes(10)
    # dict order scrambled: the order of the requests must not depend on it
    fingerprints = dict(reversed(list(fps(range(10)).items())))
    requests, cursor = tick(all_minutes, fingerprints, SensorCursor())
    assert [r.minute for r in requests] == all_minutes
    assert all(r.revision == 0 for r in requests)
    assert [r.fingerprint for r in requests] == [f"v1-{i}" for i in range(10)]
    assert cursor.last == minute(9)


def test_minutes_without_data_get_no_request_but_the_cursor_passes_them():
    all_minutes = minutes(10)
    with_data = [0, 1, 2, 5, 6, 8]  # 3, 4, 7 and the newest (9) have no bars
    requests, cursor = tick(all_minutes, fps(with_data), SensorCursor())
    assert [r.minute for r in requests] == [minute(i) for i in with_data]
    assert cursor.last == minute(9)


def test_nothing_closed_with_data_leaves_the_cursor_empty_handed_but_moving():
    requests, cursor = tick(minutes(5), {}, SensorCursor())
    assert requests == []
    assert cursor.last == minute(4)


def test_second_tick_with_the_same_input_requests_nothing():
    all_minutes = minutes(30)
    fingerprints = fps(range(0, 30, 2))
    first, cursor = tick(all_minutes, fingerprints, SensorCursor())
    assert len(first) == 15
    again, cursor_again = tick(all_minutes, fingerprints, cursor)
    assert again == []
    assert cursor_again.last == cursor.last


def test_a_later_tick_requests_only_the_new_minutes():
    first, cursor = tick(minutes(10), fps(range(10)), SensorCursor())
    requests, cursor = tick(minutes(15), fps(range(15)), cursor)
    assert [r.minute for r in requests] == [minute(i) for i in range(10, 15)]
    assert all(r.revision == 0 for r in requests)
    assert cursor.last == minute(14)


def test_a_minute_without_data_passed_before_is_not_requested_as_new_later():
    """The cursor passed minute 9 (no bars then); minute 10 is the only new one."""
    _, cursor = tick(minutes(10), fps(range(9)), SensorCursor())
    requests, _ = tick(minutes(11), fps(range(9)) | fps([10]), cursor)
    assert [(r.minute, r.revision) for r in requests] == [(minute(10), 0)]


# --- catch-up after downtime ----------------------------------------------------------


@pytest.mark.parametrize("max_per_tick", [1, 7, 60])
def test_catch_up_requests_every_minute_exactly_once_in_order(max_per_tick):
    # the sensor ran up to minute 19, then was down while 280 more minutes closed
    _, cursor = tick(minutes(20), fps(range(20)), SensorCursor(), max_per_tick=1000)
    gaps = {25, 26, 100, 101, 102, 250, 299}  # minutes that never get bars
    with_data = [i for i in range(300) if i not in gaps]
    fingerprints = fps(with_data)
    expected = [minute(i) for i in with_data if i >= 20]

    collected: list[datetime] = []
    for _ in range(len(expected) + 2):
        requests, cursor = tick(minutes(300), fingerprints, cursor, max_per_tick=max_per_tick)
        assert len(requests) <= max_per_tick
        assert all(r.revision == 0 for r in requests)
        if not requests:
            break
        collected.extend(r.minute for r in requests)
    else:
        pytest.fail("catch-up never finished")

    assert collected == expected  # none skipped, none twice, oldest first
    assert cursor.last == minute(299)
    assert tick(minutes(300), fingerprints, cursor, max_per_tick=max_per_tick)[0] == []


def test_catch_up_tick_count_is_the_backlog_divided_by_the_pace():
    fingerprints = fps(range(150))
    cursor = SensorCursor()
    sizes = []
    for _ in range(10):  # bounded: a broken cursor must fail, not hang
        requests, cursor = tick(minutes(150), fingerprints, cursor, max_per_tick=60)
        if not requests:
            break
        sizes.append(len(requests))
    assert sizes == [60, 60, 30]


def test_new_minutes_closing_during_catch_up_are_queued_behind_the_backlog():
    fingerprints = fps(range(200))
    requests, cursor = tick(minutes(100), fingerprints, SensorCursor(), max_per_tick=60)
    assert [r.minute for r in requests] == minutes(60)
    requests, cursor = tick(minutes(130), fingerprints, cursor, max_per_tick=60)
    assert [r.minute for r in requests] == [minute(i) for i in range(60, 120)]
    requests, cursor = tick(minutes(130), fingerprints, cursor, max_per_tick=60)
    assert [r.minute for r in requests] == [minute(i) for i in range(120, 130)]


# --- late and revised bars ------------------------------------------------------------


def test_a_late_bar_within_the_window_is_requested_as_a_revision():
    _, cursor = tick(minutes(10), fps([0, 1, 2, 4]), SensorCursor())  # minute 3 had no bars
    requests, cursor = tick(minutes(11), fps([0, 1, 2, 3, 4]), cursor)
    assert requests == [MinuteRequest(minute(3), "v1-3", revision=1)]
    # and only once
    assert tick(minutes(11), fps([0, 1, 2, 3, 4]), cursor)[0] == []


def test_a_revised_bar_is_requested_again_with_its_new_fingerprint():
    _, cursor = tick(minutes(10), fps(range(10)), SensorCursor())
    revised = fps(range(10)) | {minute(6): "v2-6"}
    requests, cursor = tick(minutes(12), revised | fps([10, 11]), cursor)
    assert [(r.minute, r.fingerprint, r.revision) for r in requests] == [
        (minute(6), "v2-6", 1),
        (minute(10), "v1-10", 0),
        (minute(11), "v1-11", 0),
    ]
    assert tick(minutes(12), revised | fps([10, 11]), cursor)[0] == []
    # revised a second time: requested again
    requests, _ = tick(minutes(12), revised | fps([10, 11]) | {minute(6): "v3-6"}, cursor)
    assert [(r.minute, r.fingerprint, r.revision) for r in requests] == [(minute(6), "v3-6", 2)]


def test_bars_disappearing_is_not_a_request():
    _, cursor = tick(minutes(10), fps(range(10)), SensorCursor())
    assert tick(minutes(10), fps(range(5)), cursor)[0] == []


def test_changes_older_than_the_revision_window_are_not_requested():
    n = 200
    _, cursor = tick(minutes(n), fps(range(n)), SensorCursor(), max_per_tick=1000)
    old, recent = n - 1 - 150, n - 1 - 10  # 150 and 10 minutes before the cursor
    changed = fps(range(n)) | {minute(old): "v2-old", minute(recent): "v2-recent"}
    requests, _ = tick(minutes(n), changed, cursor)
    assert [(r.minute, r.revision) for r in requests] == [(minute(recent), 1)]


def test_a_late_bar_older_than_the_revision_window_is_not_requested():
    n = 200
    gap = n - 1 - 150
    _, cursor = tick(minutes(n), fps(i for i in range(n) if i != gap), SensorCursor(), max_per_tick=1000)
    assert tick(minutes(n), fps(range(n)), cursor)[0] == []


def test_revisions_in_the_window_are_detected_after_a_catch_up_tick():
    """A capped tick still leaves the right fingerprints in the cursor for the minutes it passed."""
    fingerprints = fps(range(100))
    _, cursor = tick(minutes(100), fingerprints, SensorCursor(), max_per_tick=60)
    assert cursor.last == minute(59)
    changed = fingerprints | {minute(30): "v2-30"}
    requests, _ = tick(minutes(100), changed, cursor, max_per_tick=60)
    assert [(r.minute, r.revision) for r in requests] == [(minute(30), 1)] + [(minute(i), 0) for i in range(60, 100)]


# --- closed ---------------------------------------------------------------------------


def test_a_minute_is_closed_only_when_its_bar_has_ended():
    assert not closed(minute(0), minute(0))
    assert not closed(minute(0), minute(0) + timedelta(seconds=59))
    assert closed(minute(0), minute(1))


# --- cursor ---------------------------------------------------------------------------


def test_cursor_json_round_trip():
    cursor = SensorCursor(last=minute(42), seen={minute(41).isoformat(): "3-abc", minute(42).isoformat(): "1-def"})
    text = cursor.to_json()
    json.loads(text)  # plain JSON
    back = SensorCursor.from_json(text)
    assert back == cursor
    assert back.last.utcoffset() == timedelta(0)
    assert SensorCursor.from_json(back.to_json()) == cursor


@pytest.mark.parametrize("text", [None, ""])
def test_no_cursor_is_an_empty_cursor(text):
    assert SensorCursor.from_json(text) == SensorCursor()
    assert SensorCursor.from_json(SensorCursor().to_json()) == SensorCursor()


# --- fingerprints ---------------------------------------------------------------------

T0, T1 = minute(0), minute(1)
BARS = [
    {"ticker": "AAPL", "ts": T0, "open": 100.0, "high": 101.0, "low": 99.5, "close": 100.5, "volume": 1000},
    {"ticker": "MSFT", "ts": T0, "open": 300.0, "high": 302.0, "low": 299.0, "close": 301.0, "volume": 2000},
    {"ticker": "TSLA", "ts": T0, "open": 200.0, "high": 200.0, "low": 198.0, "close": 199.0, "volume": 500},
    {"ticker": "AAPL", "ts": T1, "open": 100.5, "high": 100.9, "low": 100.1, "close": 100.2, "volume": 800},
]


def frame(rows) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=BAR_SCHEMA)


def test_fingerprints_have_one_entry_per_minute_with_bars():
    prints = minute_fingerprints(frame(BARS))
    assert set(prints) == {T0, T1}
    assert prints[T0] != prints[T1]
    assert minute_fingerprints(frame([])) == {}


def test_fingerprints_are_deterministic():
    assert minute_fingerprints(frame(BARS)) == minute_fingerprints(frame([dict(r) for r in BARS]))


def test_fingerprints_do_not_change_with_row_order():
    base = minute_fingerprints(frame(BARS))
    assert minute_fingerprints(frame(list(reversed(BARS)))) == base
    assert minute_fingerprints(frame([BARS[2], BARS[3], BARS[0], BARS[1]])) == base


@pytest.mark.parametrize("row", [0, 1, 2])
@pytest.mark.parametrize(
    "column, value",
    [("ticker", "GOOGL"), ("open", 99.75), ("high", 303.5), ("low", 98.0), ("close", 199.5), ("volume", 1001)],
)
def test_fingerprint_changes_when_any_value_of_any_bar_changes(row, column, value):
    base = minute_fingerprints(frame(BARS))
    rows = [dict(r) for r in BARS]
    if rows[row][column] == value:
        value = value + 1 if not isinstance(value, str) else value + "X"
    rows[row][column] = value
    changed = minute_fingerprints(frame(rows))
    assert changed[T0] != base[T0]
    assert changed[T1] == base[T1]  # the other minute is untouched


def test_fingerprint_changes_when_a_bar_is_added_or_removed():
    base = minute_fingerprints(frame(BARS))
    extra = {"ticker": "NVDA", "ts": T0, "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1}
    assert minute_fingerprints(frame([*BARS, extra]))[T0] != base[T0]
    assert minute_fingerprints(frame(BARS[1:]))[T0] != base[T0]


def test_fingerprint_changes_when_values_are_swapped_between_bars_or_columns():
    base = minute_fingerprints(frame(BARS))[T0]
    swapped_volume = [dict(r) for r in BARS]
    swapped_volume[0]["volume"], swapped_volume[1]["volume"] = swapped_volume[1]["volume"], swapped_volume[0]["volume"]
    assert minute_fingerprints(frame(swapped_volume))[T0] != base
    swapped_columns = [dict(r) for r in BARS]
    swapped_columns[0]["open"], swapped_columns[0]["close"] = swapped_columns[0]["close"], swapped_columns[0]["open"]
    assert minute_fingerprints(frame(swapped_columns))[T0] != base


def test_fingerprints_drive_the_plan_end_to_end():
    """A changed volume in the bars frame makes plan_requests ask for that minute again."""
    _, cursor = tick([T0, T1], minute_fingerprints(frame(BARS)), SensorCursor())
    rows = [dict(r) for r in BARS]
    rows[3]["volume"] = 801
    requests, _ = tick([T0, T1], minute_fingerprints(frame(rows)), cursor)
    assert [(r.minute, r.revision) for r in requests] == [(T1, 1)]
    assert tick([T0, T1], minute_fingerprints(frame(list(reversed(BARS)))), cursor)[0] == []


def test_revisions_count_against_the_per_tick_pace():
    n = 200
    _, cursor = tick(minutes(n), fps(range(n)), SensorCursor(), max_per_tick=1000)
    # down for 100 minutes; meanwhile 30 bars of the last two hours were corrected
    changed = fps(range(n + 100)) | {minute(i): f"v2-{i}" for i in range(n - 30, n)}
    requests, cursor = tick(minutes(n + 100), changed, cursor, max_per_tick=60)
    assert len(requests) <= 60
    # the rest follows on later ticks, each change and each new minute exactly once
    all_requests = list(requests)
    while requests:
        requests, cursor = tick(minutes(n + 100), changed, cursor, max_per_tick=60)
        assert len(requests) <= 60
        all_requests += requests
    assert sorted(r.minute for r in all_requests if r.revision) == [minute(i) for i in range(n - 30, n)]
    assert sorted(r.minute for r in all_requests if not r.revision) == [minute(i) for i in range(n, n + 100)]

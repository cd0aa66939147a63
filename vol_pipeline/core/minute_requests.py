"""Which minutes the per-minute sensor should run: pure logic, no Dagster.

A minute is requested once it has closed and has bars. The cursor remembers the last
minute considered and a fingerprint of each recent minute's bars, so after downtime the
sensor resumes where it stopped (oldest first, at most `max_per_tick` runs per tick,
never skipping), and a minute whose bars arrive late or are revised within the
`revision_minutes` window is requested again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import polars as pl

from vol_pipeline.core.bars import BAR_COLUMNS

BAR_DURATION = timedelta(minutes=1)


@dataclass(frozen=True)
class SensorCursor:
    last: datetime | None = None  # newest minute already considered
    seen: dict[str, str] = field(default_factory=dict)  # minute ISO -> fingerprint requested
    revisions: dict[str, int] = field(default_factory=dict)  # minute ISO -> revisions requested

    def to_json(self) -> str:
        last = self.last.isoformat() if self.last else None
        return json.dumps({"last": last, "seen": self.seen, "revisions": self.revisions}, sort_keys=True)

    @staticmethod
    def from_json(text: str | None) -> "SensorCursor":
        if not text:
            return SensorCursor()
        data = json.loads(text)
        last = datetime.fromisoformat(data["last"]) if data.get("last") else None
        return SensorCursor(last=last, seen=dict(data.get("seen", {})), revisions=dict(data.get("revisions", {})))


@dataclass(frozen=True)
class MinuteRequest:
    minute: datetime  # UTC bar start
    fingerprint: str
    # 0 for a minute's first request, then 1, 2, ... for each re-request: a run key must be
    # new for every request (Dagster launches a run key once) and stable if a tick is retried.
    revision: int


def minute_fingerprints(bars: pl.DataFrame) -> dict[datetime, str]:
    """A fingerprint of each minute's bars: changes when any bar's values change. The
    provenance (feed, fetched_at) is left out: a re-fetch of the same values is no change."""
    if bars.is_empty():
        return {}
    per_minute = bars.group_by("ts").agg(
        pl.struct(*(c for c in BAR_COLUMNS if c != "ts")).hash(seed=0).bitwise_xor().alias("xor"),
        pl.len().alias("rows"),
    )
    return {ts: f"{rows}-{xor:016x}" for ts, xor, rows in per_minute.select("ts", "xor", "rows").iter_rows()}


def closed(minute: datetime, now: datetime) -> bool:
    return minute + BAR_DURATION <= now


def plan_requests(
    closed_minutes: list[datetime],
    fingerprints: dict[datetime, str],
    cursor: SensorCursor,
    max_per_tick: int,
    revision_minutes: int,
) -> tuple[list[MinuteRequest], SensorCursor]:
    """Requests for this tick (at most `max_per_tick`) and the next cursor.

    `closed_minutes`: the market minutes, ascending, from at least `revision_minutes`
    before cursor.last up to now, all closed. Re-requests of changed minutes go first
    (they are older); a change that does not fit this tick keeps its old fingerprint in
    the cursor, so the next tick finds it again.
    """
    already = [m for m in closed_minutes if cursor.last is not None and m <= cursor.last][-revision_minutes:]
    changed = [m for m in already if m in fingerprints and cursor.seen.get(_iso(m)) != fingerprints[m]]
    revised = changed[:max_per_tick]
    fresh = [m for m in closed_minutes if cursor.last is None or m > cursor.last]
    with_data = [m for m in fresh if m in fingerprints]
    taken = with_data[: max_per_tick - len(revised)]
    if len(with_data) > len(taken):
        last = taken[-1] if taken else cursor.last  # resume right after it next tick: nothing is skipped
    else:
        last = fresh[-1] if fresh else cursor.last

    revisions = dict(cursor.revisions)
    requests = [MinuteRequest(m, fingerprints[m], revision=0) for m in taken]
    for minute in revised:
        revisions[_iso(minute)] = revisions.get(_iso(minute), 0) + 1
        requests.append(MinuteRequest(minute, fingerprints[minute], revision=revisions[_iso(minute)]))

    considered = [m for m in closed_minutes if last is not None and m <= last][-revision_minutes:]
    seen = {_iso(m): fingerprints[m] for m in considered if m in fingerprints}
    for minute in changed[max_per_tick:]:  # not requested this tick: leave it looking changed
        old = cursor.seen.get(_iso(minute))
        if old is None:
            seen.pop(_iso(minute), None)
        else:
            seen[_iso(minute)] = old
    kept = {_iso(m) for m in considered}
    next_cursor = SensorCursor(last=last, seen=seen, revisions={k: v for k, v in revisions.items() if k in kept})
    return sorted(requests, key=lambda r: r.minute), next_cursor


def _iso(minute: datetime) -> str:
    return minute.astimezone(timezone.utc).isoformat()

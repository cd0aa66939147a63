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

BAR_DURATION = timedelta(minutes=1)


@dataclass(frozen=True)
class SensorCursor:
    last: datetime | None = None  # newest minute already considered
    seen: dict[str, str] = field(default_factory=dict)  # minute ISO -> fingerprint requested

    def to_json(self) -> str:
        return json.dumps({"last": self.last.isoformat() if self.last else None, "seen": self.seen}, sort_keys=True)

    @staticmethod
    def from_json(text: str | None) -> "SensorCursor":
        if not text:
            return SensorCursor()
        data = json.loads(text)
        last = datetime.fromisoformat(data["last"]) if data.get("last") else None
        return SensorCursor(last=last, seen=dict(data.get("seen", {})))


@dataclass(frozen=True)
class MinuteRequest:
    minute: datetime  # UTC bar start
    fingerprint: str
    revision: bool  # True when the minute was requested before with other bars


def minute_fingerprints(bars: pl.DataFrame) -> dict[datetime, str]:
    """A fingerprint of each minute's bars: changes when any bar of the minute changes."""
    if bars.is_empty():
        return {}
    per_minute = bars.group_by("ts").agg(
        pl.struct(pl.all().exclude("ts")).hash(seed=0).bitwise_xor().alias("xor"), pl.len().alias("rows")
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
    """Requests for this tick and the next cursor.

    `closed_minutes`: the market minutes, ascending, from at least `revision_minutes`
    before cursor.last up to now, all closed.
    """
    key = _iso
    fresh = [m for m in closed_minutes if cursor.last is None or m > cursor.last]
    with_data = [m for m in fresh if m in fingerprints]
    taken = with_data[:max_per_tick]
    if len(with_data) > max_per_tick:
        last = taken[-1]  # resume right after it next tick: nothing is skipped
    else:
        last = fresh[-1] if fresh else cursor.last

    requests = [MinuteRequest(m, fingerprints[m], revision=False) for m in taken]
    already = [m for m in closed_minutes if cursor.last is not None and m <= cursor.last][-revision_minutes:]
    for minute in already:
        fingerprint = fingerprints.get(minute)
        if fingerprint is not None and cursor.seen.get(key(minute)) != fingerprint:
            requests.append(MinuteRequest(minute, fingerprint, revision=True))

    considered = [m for m in closed_minutes if last is not None and m <= last][-revision_minutes:]
    seen = {key(m): fingerprints[m] for m in considered if m in fingerprints}
    return sorted(requests, key=lambda r: r.minute), SensorCursor(last=last, seen=seen)


def _iso(minute: datetime) -> str:
    return minute.astimezone(timezone.utc).isoformat()

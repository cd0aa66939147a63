"""How far the minute pipeline is behind the market clock (for `vol-pipeline doctor`).

Behind = the closed market minutes after the last minute materialized: a minute has closed
once its bar's end has passed. Minutes outside NYSE regular sessions never count, so after
the close a pipeline that finished the session is 0 behind all night.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from vol_pipeline.core.calendar import market_minutes_between

MINUTE = timedelta(minutes=1)


def closed_minutes_after(last_done: datetime, now: datetime) -> int:
    """Market minutes m with last_done < m and m + 1 min <= now."""
    end = now.replace(second=0, microsecond=0)  # minutes before it have closed
    start = last_done + MINUTE
    return len(market_minutes_between(start, end)) if start < end else 0

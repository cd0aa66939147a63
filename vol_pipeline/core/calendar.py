"""NYSE regular-session calendar (exchange-calendars XNYS): sessions and their minutes.

Imported lazily by callers that need it: exchange-calendars pulls in pandas.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import numpy as np

EXCHANGE = "XNYS"


@lru_cache(maxsize=1)
def _calendar():
    import exchange_calendars as xcals

    return xcals.get_calendar(EXCHANGE)


def sessions_from(start: date, count: int) -> list[date]:
    """The first `count` NYSE sessions on or after `start` (holidays skipped)."""
    import pandas as pd

    cal = _calendar()
    first = cal.date_to_session(pd.Timestamp(start), direction="next")
    index = cal.sessions.get_loc(first)
    return [ts.date() for ts in cal.sessions[index : index + count]]


def sessions_between(start: date, end: date) -> list[date]:
    """NYSE sessions with start <= session <= end."""
    import pandas as pd

    return [ts.date() for ts in _calendar().sessions_in_range(pd.Timestamp(start), pd.Timestamp(end))]


def session_minutes_utc(session: date) -> np.ndarray:
    """Bar-start minutes of a regular session as datetime64[us] UTC (390, or 210 on a half day)."""
    import pandas as pd

    minutes = _calendar().session_minutes(pd.Timestamp(session))
    return minutes.tz_convert("UTC").tz_localize(None).to_numpy().astype("datetime64[us]")

"""Deterministic synthetic bars for offline runs, demos, tests and benchmarks.

A bar is a pure function of (seed, ticker, session, minute): counter-based random numbers
(splitmix64 over those keys) make every ticker's data independent of which other tickers
or which time window were asked for, and generation is vectorised over tickers x minutes.

Shape of the data: NYSE regular-session minutes; a U-shaped intraday volume curve with
log-normal noise; occasional volume surges that come with a price move; sparse minutes
(no trade, no bar) as on the IEX feed; prices in cents.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

from vol_pipeline.core.bars import BAR_COLUMNS, BAR_SCHEMA
from vol_pipeline.core.calendar import session_minutes_utc, sessions_between, sessions_from
from vol_pipeline.core.config import DEFAULT_TICKERS
from vol_pipeline.sources.base import QUARANTINE_SCHEMA, with_provenance
from vol_pipeline.sources.counter_rng import normal, splitmix64, ticker_ids, uniform

BAR_LENGTH = timedelta(minutes=1)
@dataclass(frozen=True)
class SyntheticBarSource:
    """Seeded synthetic NYSE bars. `session_bars` and `generate` return BAR_SCHEMA frames;
    `fetch` adds the provenance (feed 'synthetic', fetched at the bar's close)."""

    tickers: tuple[str, ...] = DEFAULT_TICKERS
    seed: int = 7
    missing_minute_rate: float = 0.03  # IEX-like sparse minutes
    surge_rate: float = 0.02  # chance per minute of a volume surge with a price move
    name: str = "synthetic"

    def fetch(self, start: datetime, end: datetime) -> pl.DataFrame:
        sessions = sessions_between(start.date() - timedelta(days=1), end.date())
        frames = [self.session_bars(s) for s in sessions]
        bars = pl.concat(frames) if frames else pl.DataFrame(schema=BAR_SCHEMA)
        ts = pl.col("ts")
        window = bars.filter((ts >= start) & (ts < end)).sort("ticker", "ts")
        # A generated bar is "read" the moment its minute closes: deterministic provenance.
        return with_provenance(window, self.name, pl.col("ts") + BAR_LENGTH)

    def rejected(self, start: datetime, end: datetime) -> pl.DataFrame:
        """Generated bars are valid by construction: nothing to quarantine."""
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)

    def unplaced(self) -> pl.DataFrame:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)

    @property
    def key(self) -> str:
        return self.name

    def generate(self, start: date, days: int) -> pl.DataFrame:
        """Bars of `days` consecutive sessions starting on or after `start`."""
        frames = [self.session_bars(s) for s in sessions_from(start, days)]
        return pl.concat(frames).sort("ticker", "ts") if frames else pl.DataFrame(schema=BAR_SCHEMA)

    def session_bars(self, session: date) -> pl.DataFrame:
        minutes = session_minutes_utc(session)
        tickers = list(self.tickers)
        n_t, n_m = len(tickers), len(minutes)
        day_key = np.uint64(self.seed) * np.uint64(1_000_003) + np.uint64(session.toordinal())
        ticker_keys = splitmix64(ticker_ids(tickers) ^ splitmix64(np.array([day_key], dtype=np.uint64)))
        keys = ticker_keys[:, None] + np.arange(n_m, dtype=np.uint64)[None, :]  # (tickers, minutes)

        # Per-ticker character, stable across days: price level, minute volatility, liquidity.
        static = ticker_ids(tickers)
        base_price = 20.0 + 480.0 * uniform(static, 101)
        sigma = 0.0006 + 0.0012 * uniform(static, 102)
        base_volume = 2_000.0 + 40_000.0 * uniform(static, 103)
        day_open = base_price * np.exp(0.03 * normal(ticker_keys, 104))

        surge = uniform(keys, 1) < self.surge_rate
        surge_sign = np.where(uniform(keys, 2) < 0.5, -1.0, 1.0)
        returns = sigma[:, None] * normal(keys, 3) + surge * surge_sign * 2.5 * sigma[:, None]
        closes = day_open[:, None] * np.exp(np.cumsum(returns, axis=1))
        opens = np.concatenate([day_open[:, None], closes[:, :-1]], axis=1)
        wick = sigma[:, None] * np.abs(normal(keys, 4)) * 0.5
        highs = np.maximum(opens, closes) * (1 + wick)
        lows = np.minimum(opens, closes) * (1 - wick)

        position = np.linspace(-1.0, 1.0, n_m)[None, :]
        u_shape = 1.0 + 1.5 * position**2  # busy open and close, quiet lunch
        noise = np.exp(0.35 * normal(keys, 5))
        volumes = base_volume[:, None] * u_shape * noise * np.where(surge, 3.0 + 5.0 * uniform(keys, 6), 1.0)
        present = uniform(keys, 7) >= self.missing_minute_rate
        present[:, 0] = True

        rounded = {name: np.round(values, 2) for name, values in
                   (("open", opens), ("close", closes), ("high", highs), ("low", lows))}
        frame = pl.DataFrame(
            {
                "ticker": np.repeat(np.array(tickers, dtype=object), n_m),
                "ts": np.tile(minutes, n_t),
                **{name: values.ravel() for name, values in rounded.items()},
                "volume": np.round(volumes).astype(np.int64).ravel(),
                "present": present.ravel(),
            }
        )
        # Rounding to cents can cross open/close: re-impose low <= open, close <= high.
        return (
            frame.filter("present")
            .with_columns(
                high=pl.max_horizontal("open", "close", "high"),
                low=pl.min_horizontal("open", "close", "low"),
                ts=pl.col("ts").dt.replace_time_zone("UTC"),
            )
            .select(BAR_COLUMNS)
            .cast(BAR_SCHEMA)
        )

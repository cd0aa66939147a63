"""lane_features the original way: per ticker, one row at a time (the benchmark's slow baseline).

The original feature computer was a cron service: for each ticker it fetched that
ticker's recent bars, built Python lists, and computed one feature row with pandas
(reference §5). Replaying a whole session that way means doing it once per bar, which
is what `per_ticker_lane_features` does. Written for this benchmark, after the reference
text; the contract's rules (the original's float ratio and round(), zero or null volume
as missing) are kept so the rows
can be checked against the kernel.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from vol_pipeline.core.config import FeatureConfig

PRICE_SCALE = 10**8
RATIO_SCALE = 10_000


def per_ticker_lane_features(bars: pd.DataFrame, config: FeatureConfig = FeatureConfig()) -> pd.DataFrame:
    """Feature rows for every bar with >= config.min_bars history, ticker by ticker, bar by bar."""
    ordered = bars.sort_values(["ticker", "ts"], kind="stable").reset_index(drop=True)
    tickers = ordered["ticker"].to_numpy()
    starts = np.flatnonzero(np.r_[True, tickers[1:] != tickers[:-1]]) if len(tickers) else []
    ends = np.r_[starts[1:], len(ordered)]
    rows: list[dict] = []
    for start, end in zip(starts, ends):
        ticker_bars = ordered.iloc[start:end]  # the "query" for one ticker
        rows.extend(_ticker_rows(ticker_bars, config))
    return pd.DataFrame(rows)


def _ticker_rows(ticker_bars: pd.DataFrame, cfg: FeatureConfig) -> list[dict]:
    """One row per bar, each from that bar's trailing window only, as a per-minute cron would."""
    ticker = ticker_bars["ticker"].iloc[0]
    stamps = ticker_bars["ts"].tolist()
    closes = ticker_bars["close"].tolist()
    volumes = [None if pd.isna(v) else int(v) for v in ticker_bars["volume"].tolist()]
    rows = []
    for i in range(cfg.min_bars - 1, len(closes)):
        first = max(0, i + 1 - cfg.lookback_bars)
        row = {"ticker": ticker, "ts": stamps[i]}
        row.update(compute_features(closes[first:i + 1], cfg))
        row.update(compute_volume_features(volumes[first:i + 1], cfg))
        rows.append(row)
    return rows


def compute_features(closes: list[float], cfg: FeatureConfig) -> dict:
    """Price features of the newest bar in `closes` (oldest first)."""
    close = closes[-1]
    sma20 = sum(closes[-cfg.sma_short:]) / cfg.sma_short
    sma50 = sum(closes[-cfg.sma_long:]) / cfg.sma_long
    recent_vol = _return_std(closes[-cfg.recent_closes:])
    baseline_vol = _return_std(closes[-cfg.baseline_closes:])
    vol_ratio = recent_vol / baseline_vol if recent_vol is not None and baseline_vol else None
    return {
        "close": close,
        "sma20": sma20,
        "sma50": sma50,
        "recent_vol": recent_vol,
        "baseline_vol": baseline_vol,
        "vol_ratio": vol_ratio,
        "distance_sma20": (close - sma20) / sma20 if sma20 > 0 else None,
        "distance_sma50": (close - sma50) / sma50 if sma50 > 0 else None,
        "trend_state": _trend_state(closes, cfg),
    }


def _trend_state(closes: list[float], cfg: FeatureConfig) -> int:
    # Compared on integer 1e-8 units, so equal SMAs give 0 as the contract says
    # (float means would call some exact ties 1 or -1).
    units = [round(c * PRICE_SCALE) for c in closes[-cfg.sma_long:]]
    crossover = sum(units[-cfg.sma_short:]) * cfg.sma_long - sum(units) * cfg.sma_short
    return (crossover > 0) - (crossover < 0)


def _return_std(closes: list[float]) -> float | None:
    # As the original: pandas pct_change, first NaN dropped, sample std.
    returns = pd.Series(closes).pct_change().dropna()
    if len(returns) < 2:
        return None
    std = float(returns.std(ddof=1))
    return None if math.isnan(std) else std


def compute_volume_features(volumes: list[int | None], cfg: FeatureConfig) -> dict:
    """Volume features of the newest bar, the original's expressions; null features when
    the window holds a missing volume (null, or 0 as the original stored it)."""
    w = cfg.volume_window
    current = volumes[-1] or None
    window = volumes[-w - 1:-1] if cfg.volume_prior_bars else volumes[-w:]
    if current is None or not all(window):
        return {"volume_current": current, "volume_avg_20": None, "volume_ratio": None, "volume_surge": None}
    total = sum(window)
    ratio = current / (total / w)
    return {
        "volume_current": current,
        "volume_avg_20": total // w,
        "volume_ratio": round(ratio, 4),
        "volume_surge": ratio > 2.0,
    }

"""Configuration objects for the kernels: windows, thresholds and the signal rule set.

Plain frozen dataclasses so the pure layer needs no Dagster import; the Dagster layer
exposes them as resources/config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

# The seed's 7 names: the default watchlist (reference §2).
DEFAULT_TICKERS: tuple[str, ...] = ("AAPL", "MSFT", "TSLA", "GOOGL", "AMZN", "META", "NVDA")


def parse_tickers(text: str) -> tuple[str, ...]:
    """'AAPL, msft,' -> ('AAPL', 'MSFT'): a comma-separated ticker list as the environment,
    the CLI and resource config give it; stripped, upper-cased, empty entries dropped."""
    return tuple(t.strip().upper() for t in text.split(",") if t.strip())


def ticker_text(tickers: Iterable[str]) -> str:
    """Tickers as resource config: one comma-separated string, not a list. Dagster checks a
    list's config element by element every run: measured 1.5-2.0 s per run for two lists of
    5,000 tickers against 0.09 s for two strings."""
    return ",".join(tickers)


@dataclass(frozen=True)
class FeatureConfig:
    """Windows of the lane_features kernel (DESIGN §4), counted in bars, not minutes."""

    min_bars: int = 50  # a feature row needs this many bars of the ticker's history
    sma_short: int = 20
    sma_long: int = 50
    recent_closes: int = 30  # recent_vol: std of the returns of the last 30 closes
    baseline_closes: int = 120  # baseline_vol: same over up to the last 120 closes
    volume_window: int = 20
    # The original averages the last 20 volumes INCLUDING the current bar (ratio <= 20).
    # True selects the common alternative: the 20 bars before the current one.
    volume_prior_bars: bool = False

    def __post_init__(self) -> None:
        if not 2 <= self.sma_short <= self.sma_long <= self.min_bars:
            raise ValueError("need 2 <= sma_short <= sma_long <= min_bars")
        if not 3 <= self.recent_closes <= self.min_bars:
            raise ValueError("need 3 <= recent_closes <= min_bars")
        if self.baseline_closes < 3:
            raise ValueError("baseline_closes must be >= 3")
        if not 1 <= self.volume_window < self.min_bars:
            raise ValueError("need 1 <= volume_window < min_bars")

    @property
    def lookback_bars(self) -> int:
        """Bars per ticker the per-minute path needs to reproduce the full recompute."""
        volume_span = self.volume_window + (1 if self.volume_prior_bars else 0)
        return max(self.min_bars, self.sma_long, self.baseline_closes, volume_span)


@dataclass(frozen=True)
class VolumeTier:
    """One row of the volume multiplier table: ratios below `below` get `multiplier`."""

    below: float
    multiplier: float
    assessment: str


# Phase 12 table (strict "<" boundaries); ratios >= the last `below` get SURGE_MULTIPLIER.
PHASE12_VOLUME_TIERS: tuple[VolumeTier, ...] = (
    VolumeTier(0.5, 0.0, "VOLUME_TOO_LOW"),
    VolumeTier(1.2, 0.3, "WEAK_VOLUME"),
    VolumeTier(1.5, 0.6, "BELOW_AVG_VOLUME"),
    VolumeTier(2.0, 1.0, "GOOD_VOLUME"),
    VolumeTier(3.0, 1.2, "STRONG_VOLUME"),
)


@dataclass(frozen=True)
class SignalRuleSet:
    """The signal rules of reference §9.2 (Phase 12, v1), versioned and configurable.

    Every value here is recorded through `version` in each signal's reason JSON, so a
    changed rule set must get a new version string.
    """

    version: str = "1.0-phase12"
    # Sentiment gate of v1: |avg directional score| > 0.5 required for a direction.
    # Off in this default set: without a news source every ticker scores 0 and the gate
    # would turn every signal into HOLD. SENTIMENT_RULES (below) turns it on.
    sentiment_gate: bool = False
    sentiment_threshold: float = 0.5
    max_abs_distance_sma20: float = 0.02  # |distance_sma20| must be below this
    # Base confidence weights: sentiment strength, trend alignment, setup, volatility.
    weight_sentiment: float = 0.30
    weight_trend: float = 0.25
    weight_setup: float = 0.25
    weight_volatility: float = 0.20
    setup_scale: float = 0.02  # setup_quality = 1 - min(|d20| / setup_scale, 1)
    vol_normal_low: float = 0.8  # vol_ratio regime bounds: compressed < low <= normal <= high
    vol_normal_high: float = 1.3
    appropriateness_normal: float = 1.0
    appropriateness_compressed: float = 0.7
    appropriateness_high: float = 0.5
    appropriateness_unknown: float = 0.5  # vol_ratio null (flat baseline)
    volume_tiers: tuple[VolumeTier, ...] = PHASE12_VOLUME_TIERS
    surge_multiplier: float = 1.3
    surge_assessment: str = "VOLUME_SURGE"
    null_volume_multiplier: float = 0.5  # "graceful degradation" for a null ratio
    null_volume_assessment: str = "NO_VOLUME_DATA"
    cooldown_minutes: int = 15  # per-ticker gap between recommendations
    weights_sum_tolerance: float = field(default=1e-9, repr=False)

    def __post_init__(self) -> None:
        total = self.weight_sentiment + self.weight_trend + self.weight_setup + self.weight_volatility
        if abs(total - 1.0) > self.weights_sum_tolerance:
            raise ValueError(f"confidence weights must sum to 1.0, got {total}")
        bounds = [tier.below for tier in self.volume_tiers]
        if bounds != sorted(bounds) or len(set(bounds)) != len(bounds):
            raise ValueError("volume tiers must have strictly increasing bounds")


# The rule set with the original's sentiment gate and weights (reference §9.2 v1): the
# minute assets use it whenever a news source is configured (Settings.news_on).
SENTIMENT_RULES = SignalRuleSet(version="1.0-phase12-sentiment", sentiment_gate=True)


def signal_rules(news_on: bool) -> SignalRuleSet:
    """The rule set the minute assets run: gated by sentiment when news flows in."""
    return SENTIMENT_RULES if news_on else SignalRuleSet()

"""lane_features kernel (DESIGN §4): every column against an independent reference.

The reference below is written from the contract alone, row by row in plain Python with
exact arithmetic (Decimal at 60 digits for prices and returns, int/Fraction for volumes),
so it shares no code and no technique (fixed-point cumulative sums) with the kernel.
"""

from __future__ import annotations

import math
import statistics
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal, localcontext
from fractions import Fraction
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import pytest
import talib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from vol_pipeline.core.bars import BAR_SCHEMA, validate_bars
from vol_pipeline.core.config import FeatureConfig
from vol_pipeline.core.features import (
    FEATURE_COLUMNS,
    lane_features,
    lane_features_at,
    lane_features_between,
    trailing_bars,
)
from vol_pipeline.core.volume import volume_multiplier
from vol_pipeline.sources.synthetic import SyntheticBarSource
from vol_pipeline_tests.core.feature_rows import LANE_FEATURES_COLUMNS

PRIOR = FeatureConfig(volume_prior_bars=True)
T0 = datetime(2026, 11, 23, 14, 30, tzinfo=timezone.utc)  # Monday 09:30 New York
DAY2_OPEN = datetime(2026, 11, 24, 14, 30, tzinfo=timezone.utc)
# Floats: the kernel works on fixed-point prices/returns, the reference on exact decimals.
# (Returns are kept at 1e-15: a $700k name moving by cents gets ~1e-8 relative on vols,
# so price walks below are drawn up to $10k, where 1e-9 holds.)
REL_TOL, ABS_TOL = 1e-9, 1e-12
# Columns that must match the reference exactly (integers, booleans, the 4-dp ratio).
EXACT_COLUMNS = ["ticker", "ts", "close", "trend_state", "volume_current", "volume_avg_20",
                 "volume_ratio", "volume_surge"]


# --- independent reference ---------------------------------------------------------------
def _mean(values: list[Decimal]) -> Decimal:
    return sum(values) / len(values)


def _return_std(closes: list[Decimal]) -> Decimal:
    """Sample std (ddof 1) of the simple returns between consecutive closes, clipped."""
    returns = [min(max((b - a) / a, Decimal(-1)), Decimal(10)) for a, b in zip(closes, closes[1:])]
    mean = _mean(returns)
    return (sum((r - mean) ** 2 for r in returns) / (len(returns) - 1)).sqrt()


def _volume_features(current: int | None, window: list[int | None]) -> tuple:
    """(volume_avg_20, volume_ratio, volume_surge) from the 20 volumes of the average.

    The original's own expressions on Python floats: avg = sum / 20, ratio =
    round(current / avg, 4), surge = current / avg > 2.0. A volume of 0 is missing, as the
    original stored it (NULL). A missing current volume nulls all three under the prior-20
    option too: no ratio without it, and the three stay null together."""
    if not current or not all(window):
        return None, None, None
    avg = sum(window) / len(window)
    ratio = current / avg
    return math.trunc(Fraction(sum(window), len(window))), round(ratio, 4), ratio > 2.0


def _reference_row(ticker: str, ts: datetime, closes: list[Decimal], volumes: list, i: int, prior: bool) -> dict:
    close = closes[i]
    sma20, sma50 = _mean(closes[i - 19 : i + 1]), _mean(closes[i - 49 : i + 1])
    recent = _return_std(closes[i - 29 : i + 1])
    baseline = _return_std(closes[max(0, i - 119) : i + 1])
    window = volumes[i - 20 : i] if prior else volumes[i - 19 : i + 1]
    avg20, ratio, surge = _volume_features(volumes[i], window)
    return {
        "ticker": ticker,
        "ts": ts,
        "close": float(close),
        "sma20": float(sma20),
        "sma50": float(sma50),
        "recent_vol": float(recent),
        "baseline_vol": float(baseline),
        "vol_ratio": float(recent / baseline) if baseline > 0 else None,
        "distance_sma20": float((close - sma20) / sma20),
        "distance_sma50": float((close - sma50) / sma50),
        "trend_state": (sma20 > sma50) - (sma20 < sma50),
        "volume_current": volumes[i] or None,
        "volume_avg_20": avg20,
        "volume_ratio": ratio,
        "volume_surge": surge,
    }


def reference_features(bars: pl.DataFrame, prior: bool = False) -> pl.DataFrame:
    """The contract, row by row: one row per bar from the 50th of its ticker on."""
    rows = []
    with localcontext(prec=60):
        for (ticker,), group in bars.sort("ticker", "ts").group_by("ticker", maintain_order=True):
            # repr gives the decimal a price was written as (e.g. 101.37), not its binary value.
            closes = [Decimal(repr(c)) for c in group["close"]]
            volumes, stamps = group["volume"].to_list(), group["ts"].to_list()
            rows += [_reference_row(ticker, stamps[i], closes, volumes, i, prior) for i in range(49, len(closes))]
    return pl.DataFrame(rows, schema=LANE_FEATURES_COLUMNS, orient="row")


def assert_matches_reference(actual: pl.DataFrame, expected: pl.DataFrame) -> None:
    actual, expected = actual.sort("ticker", "ts"), expected.sort("ticker", "ts")
    assert_frame_equal(actual.select(EXACT_COLUMNS), expected.select(EXACT_COLUMNS), check_exact=True)
    assert_frame_equal(actual, expected, rel_tol=REL_TOL, abs_tol=ABS_TOL)


# --- bars ----------------------------------------------------------------------------------
def make_bars(ticker: str, closes: list[float], volumes: list | None = None, *,
              start: datetime = T0, minutes: list[int] | None = None) -> pl.DataFrame:
    """One ticker's bars, one per minute from `start` unless `minutes` (offsets) are given."""
    n = len(closes)
    volumes = [1000] * n if volumes is None else volumes
    minutes = list(range(n)) if minutes is None else minutes
    return pl.DataFrame(
        {"ticker": [ticker] * n, "ts": [start + timedelta(minutes=m) for m in minutes],
         "open": closes, "high": closes, "low": closes, "close": closes, "volume": volumes},
        schema=BAR_SCHEMA,
    )


def bars_with_volume_window(previous_19: list[int], current: int) -> pl.DataFrame:
    """50 bars whose last 20 volumes are `previous_19` + `current` (earlier ones differ)."""
    volumes = [7] * 30 + previous_19 + [current]
    return make_bars("VOL", [100.0 + (i % 3) for i in range(50)], volumes)


def last_row(features: pl.DataFrame) -> dict:
    return features.sort("ts").row(-1, named=True)


@pytest.fixture(scope="module")
def two_sessions() -> pl.DataFrame:
    """Synthetic bars over two sessions: sparse minutes, a ticker that only trades on day 2,
    a few null volumes and a zero volume (as a feed without volume would give)."""
    regular = SyntheticBarSource(tickers=("AAPL", "MSFT", "TSLA", "NVDA"), seed=11).generate(date(2026, 11, 23), 2)
    late = SyntheticBarSource(tickers=("LATE",), seed=5).generate(date(2026, 11, 24), 1)
    holes = {("TSLA", T0 + timedelta(minutes=100)): None, ("TSLA", DAY2_OPEN + timedelta(minutes=3)): None,
             ("NVDA", T0 + timedelta(minutes=200)): 0, ("LATE", DAY2_OPEN + timedelta(minutes=70)): None}
    bars = pl.concat([regular, late]).sort("ticker", "ts")
    for (ticker, ts), volume in holes.items():
        hit = (pl.col("ticker") == ticker) & (pl.col("ts") == ts)
        assert bars.filter(hit).height == 1, (ticker, ts)
        bars = bars.with_columns(volume=pl.when(hit).then(pl.lit(volume, pl.Int64)).otherwise("volume"))
    assert validate_bars(bars).rejected.is_empty()
    return bars


@pytest.fixture(scope="module")
def full_features(two_sessions: pl.DataFrame) -> pl.DataFrame:
    return lane_features(two_sessions)


# --- 1. reference: hand-checked cases --------------------------------------------------------
def test_output_has_the_contract_columns_and_types(full_features):
    assert list(full_features.columns) == list(FEATURE_COLUMNS)
    assert dict(full_features.schema) == LANE_FEATURES_COLUMNS
    assert dict(lane_features(make_bars("AAPL", [1.0] * 10)).schema) == LANE_FEATURES_COLUMNS


def test_rising_ramp_has_hand_computed_values():
    features = lane_features(make_bars("RAMP", [100.0 + i for i in range(60)]))
    first = features.row(0, named=True)  # bar 50: closes 100..149
    assert first["close"] == 149.0
    assert first["sma20"] == 139.5 and first["sma50"] == 124.5
    assert first["distance_sma20"] == pytest.approx(9.5 / 139.5, rel=REL_TOL)
    assert first["distance_sma50"] == pytest.approx(24.5 / 124.5, rel=REL_TOL)
    assert first["trend_state"] == 1
    # Return from close c to c + 1 is 1/c: 29 recent returns, 49 baseline returns (all there are).
    recent = statistics.stdev([1 / c for c in range(120, 149)])
    baseline = statistics.stdev([1 / c for c in range(100, 149)])
    assert first["recent_vol"] == pytest.approx(recent, rel=REL_TOL)
    assert first["baseline_vol"] == pytest.approx(baseline, rel=REL_TOL)
    assert first["vol_ratio"] == pytest.approx(recent / baseline, rel=REL_TOL)
    assert (first["volume_current"], first["volume_avg_20"], first["volume_ratio"], first["volume_surge"]) == (
        1000, 1000, 1.0, False)
    last = features.row(-1, named=True)  # bar 60: baseline over all 59 returns
    assert last["baseline_vol"] == pytest.approx(statistics.stdev([1 / c for c in range(100, 159)]), rel=REL_TOL)


def test_baseline_uses_at_most_120_closes():
    closes = [100.0 + (i % 7) * (1 + i // 50) for i in range(200)]
    features = lane_features(make_bars("LONG", closes))
    last = features.row(-1, named=True)
    tail = closes[-120:]
    assert last["baseline_vol"] == pytest.approx(statistics.stdev([b / a - 1 for a, b in zip(tail, tail[1:])]), rel=1e-9)
    assert_matches_reference(features, reference_features(make_bars("LONG", closes)))


EQUAL_SMAS = [
    10.32, 10.26, 10.82, 10.05, 10.27, 10.79, 10.18, 10.13, 10.25, 10.58, 10.48, 10.46, 10.69, 10.19, 10.13,
    10.76, 10.62, 10.18, 10.72, 10.51, 10.81, 10.87, 10.54, 10.66, 10.63, 10.86, 10.41, 10.63, 10.63, 9.85,
    10.28, 10.33, 10.74, 10.99, 10.21, 10.55, 10.24, 10.45, 10.14, 10.08, 10.89, 10.03, 10.67, 10.57, 10.96,
    10.86, 10.25, 10.15, 10.63, 10.5,
]


@pytest.mark.parametrize(("closes", "trend"), [
    ([100.0 + i for i in range(50)], 1),
    ([200.0 - i for i in range(50)], -1),
    ([42.17] * 50, 0),
    # SMAs equal as decimals, but float rolling means (polars, plain sums) differ by 1e-15.
    (EQUAL_SMAS, 0),
], ids=["rising", "falling", "flat", "equal-smas-inexact-floats"])
def test_trend_state_is_the_exact_sign_of_sma20_minus_sma50(closes, trend):
    row = last_row(lane_features(make_bars("T", closes)))
    assert row["trend_state"] == trend


def test_flat_prices_have_zero_volatility_and_null_vol_ratio():
    row = last_row(lane_features(make_bars("FLAT", [42.17] * 55)))
    assert (row["sma20"], row["sma50"], row["distance_sma20"], row["distance_sma50"]) == (42.17, 42.17, 0.0, 0.0)
    assert (row["recent_vol"], row["baseline_vol"], row["vol_ratio"]) == (0.0, 0.0, None)


def test_returns_above_1000_percent_are_clipped():
    # 49 bars at 1.00, then 20.00: a +1900% return counts as +1000% (DESIGN.md).
    row = last_row(lane_features(make_bars("JUMP", [1.0] * 49 + [20.0])))
    # 28 zeros and one 10: var = (100 - 100/29) / 28 = 100/29; baseline 48 zeros: 100/49.
    assert row["recent_vol"] == pytest.approx(10 / math.sqrt(29), rel=REL_TOL)
    assert row["baseline_vol"] == pytest.approx(10 / 7, rel=REL_TOL)
    assert row["vol_ratio"] == pytest.approx(7 / math.sqrt(29), rel=REL_TOL)
    assert (row["sma20"], row["sma50"]) == (pytest.approx(1.95), pytest.approx(1.38))


VOLUME_CASES = {
    # name: (previous 19 volumes, current, volume_avg_20, volume_ratio, volume_surge)
    "avg-exact-12346": ([10000, 14692] * 9 + [12346], 12346, 12346, 1.0, False),  # sum 246920
    "avg-truncated-not-rounded": ([10000, 14692] * 9 + [12365], 12346, 12346, 0.9999, False),  # 12346.95
    # Exact 4-dp ties: the original's float lands on either side of the tie.
    "tie-1.23455-float-above-rounds-up": ([19753] * 18 + [19755], 24691, 20000, 1.2346, False),
    "tie-1.23445-float-below-rounds-down": ([19753] * 18 + [19757], 24689, 20000, 1.2345, False),
    "tie-1.99995-float-below-rounds-down": ([18947] * 18 + [18955], 39999, 20000, 1.9999, False),
    "ratio-exactly-2-is-no-surge": ([18000] * 19, 38000, 19000, 2.0, False),
    "ratio-above-2-is-surge": ([18000] * 19, 40000, 19100, 2.0942, True),
    # 2.0000473...: rounds to 2.0 but the unrounded ratio is above 2.
    "ratio-just-above-2-surges-though-shown-as-2.0": ([18000] * 19, 38001, 19000, 2.0, True),
    "one-share-bars-ratio-1": ([1] * 19, 1, 1, 1.0, False),
    # A volume of 0 is missing (the original stored NULL): null features, multiplier 0.5.
    "current-zero-is-missing": ([100] * 19, 0, None, None, None),
    "earlier-zero-is-missing": ([100] * 18 + [0], 100, None, None, None),
    "only-current-traded": ([0] * 19, 500, None, None, None),
    "all-zero": ([0] * 19, 0, None, None, None),
}


@pytest.mark.parametrize("case", VOLUME_CASES.values(), ids=VOLUME_CASES.keys())
def test_volume_features_hand_cases(case):
    previous, current, avg, ratio, surge = case
    bars = bars_with_volume_window(previous, current)
    row = last_row(lane_features(bars))
    assert (row["volume_current"], row["volume_avg_20"], row["volume_ratio"], row["volume_surge"]) == (
        current or None, avg, ratio, surge)
    assert_matches_reference(lane_features(bars), reference_features(bars))


# Exact 4-dp ties next to every volume-multiplier threshold (20-bar sum 400,000, so the true
# ratio is current / 20,000): the value and multiplier the original's float arithmetic gave.
THRESHOLD_TIES = [
    # current, true ratio, stored ratio, multiplier
    (9999, "0.49995", 0.5, 0.3),
    (10001, "0.50005", 0.5, 0.3),
    (23999, "1.19995", 1.2, 0.6),
    (24001, "1.20005", 1.2001, 0.6),
    (29999, "1.49995", 1.4999, 0.6),  # half-up on the exact ratio gave 1.5 (x1.0)
    (30001, "1.50005", 1.5001, 1.0),
    (39999, "1.99995", 1.9999, 1.0),  # half-up gave 2.0 (x1.2, STRONG_VOLUME)
    (40001, "2.00005", 2.0, 1.2),
    (59999, "2.99995", 3.0, 1.3),
    (60001, "3.00005", 3.0, 1.3),
]


@pytest.mark.parametrize(("current", "true_ratio", "stored", "multiplier"), THRESHOLD_TIES,
                         ids=[tie[1] for tie in THRESHOLD_TIES])
def test_ties_at_the_multiplier_thresholds_round_as_the_original(current, true_ratio, stored, multiplier):
    previous = [18000] * 18 + [400_000 - current - 18000 * 18]
    bars = bars_with_volume_window(previous, current)
    assert Fraction(current * 20, 400_000) == Fraction(true_ratio)
    full = lane_features(bars).filter(pl.col("ts") == bars["ts"].max())
    assert full["volume_ratio"].to_list() == [stored] == [round(current / (400_000 / 20), 4)]
    assert full.select(volume_multiplier(pl.col("volume_ratio"))).item() == multiplier
    assert_frame_equal(lane_features_at(bars, bars["ts"].max()), full, check_exact=True)


def test_matches_reference_on_synthetic_two_sessions(two_sessions, full_features):
    assert_matches_reference(full_features, reference_features(two_sessions))


# --- 2. TA-Lib -----------------------------------------------------------------------------
def test_sma20_and_sma50_match_talib(two_sessions, full_features):
    for (ticker,), group in two_sessions.group_by("ticker"):
        closes = group.sort("ts")["close"].to_numpy()
        rows = full_features.filter(pl.col("ticker") == ticker).sort("ts")
        for column, period in (("sma20", 20), ("sma50", 50)):
            np.testing.assert_allclose(rows[column].to_numpy(), talib.SMA(closes, period)[49:], rtol=REL_TOL)


# --- 3. row gating -----------------------------------------------------------------------------
@pytest.mark.parametrize(("n_bars", "n_rows"), [(1, 0), (49, 0), (50, 1), (60, 11)])
def test_a_row_from_the_50th_bar_of_a_ticker_on(n_bars, n_rows):
    bars = make_bars("GATE", [100.0 + i % 5 for i in range(n_bars)])
    features = lane_features(bars)
    assert features["ts"].to_list() == bars["ts"].to_list()[49:]
    assert features.height == n_rows


def test_tickers_are_independent_when_interleaved():
    a = make_bars("AAA", [50.0 + (i * 7 % 11) for i in range(70)], [100 + i for i in range(70)])
    b_volumes = [300 + (i * 13 % 17) for i in range(60)]
    b_volumes[52] = None
    b = make_bars("BBB", [20.0 + (i * 3 % 5) / 4 for i in range(60)], b_volumes, minutes=list(range(1, 120, 2)))
    interleaved = pl.concat([a, b]).sort("ts", "ticker")
    together = lane_features(interleaved)
    assert_frame_equal(together, pl.concat([lane_features(a), lane_features(b)]), check_exact=True)
    assert_matches_reference(together, reference_features(interleaved))


def test_sparse_minutes_count_bars_not_minutes():
    # A bar every other minute: bar 50 is at minute 98, its SMA20 spans 40 minutes.
    bars = make_bars("SPRS", [float(i) for i in range(1, 56)], minutes=list(range(0, 110, 2)))
    features = lane_features(bars)
    first = features.row(0, named=True)
    assert first["ts"] == T0 + timedelta(minutes=98)
    assert (first["sma20"], first["sma50"]) == (40.5, 25.5)
    assert_matches_reference(features, reference_features(bars))


def test_history_spans_sessions():
    # Last 30 minutes of day 1 (closes 1..30), first 30 of day 2 (31..60).
    day1 = make_bars("XSES", [float(i) for i in range(1, 31)], start=T0 + timedelta(minutes=360))
    day2 = make_bars("XSES", [float(i) for i in range(31, 61)], start=DAY2_OPEN)
    bars = pl.concat([day1, day2])
    first = lane_features(bars).row(0, named=True)
    assert first["ts"] == DAY2_OPEN + timedelta(minutes=19)  # the 50th bar overall
    assert (first["sma20"], first["sma50"]) == (40.5, 25.5)


def test_synthetic_second_session_opens_with_rows(two_sessions, full_features):
    at_open = full_features.filter(pl.col("ts") == DAY2_OPEN)
    assert sorted(at_open["ticker"]) == ["AAPL", "MSFT", "NVDA", "TSLA"]  # LATE has no history yet
    late_first = full_features.filter(pl.col("ticker") == "LATE")["ts"].min()
    assert late_first == two_sessions.filter(pl.col("ticker") == "LATE")["ts"].sort()[49]


# --- 4. null volumes ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("null_bar", "null_rows"), [(10, []), (40, range(50, 60)), (56, range(56, 76))])
def test_a_null_volume_nulls_the_averages_of_exactly_the_windows_holding_it(null_bar, null_rows):
    volumes = [1000 + 37 * i for i in range(80)]
    volumes[null_bar - 1] = None
    bars = make_bars("NULL", [100.0 + (i % 4) for i in range(80)], volumes)
    features = lane_features(bars).with_columns(bar=pl.int_range(50, 81))
    trio_null = features.filter(pl.col("volume_avg_20").is_null())
    assert trio_null["bar"].to_list() == list(null_rows)
    for column in ("volume_ratio", "volume_surge"):
        assert features[column].is_null().to_list() == features["volume_avg_20"].is_null().to_list()
    # volume_current is the bar's own volume; price features are untouched.
    assert features["volume_current"].to_list() == volumes[49:]
    price_columns = ["sma20", "sma50", "recent_vol", "baseline_vol", "vol_ratio", "distance_sma20", "trend_state"]
    assert features.select(price_columns).null_count().sum_horizontal().item() == 0
    assert_matches_reference(features.drop("bar"), reference_features(bars))


def test_a_ticker_without_any_volume_still_gets_price_features():
    bars = make_bars("NOVOL", [100.0 + (i % 4) for i in range(55)], [None] * 55)
    features = lane_features(bars)
    assert features.height == 6
    assert features.select("volume_current", "volume_avg_20", "volume_ratio", "volume_surge").null_count().row(0) == (6,) * 4
    assert features["sma20"].null_count() == 0


# --- 5. zero volumes -----------------------------------------------------------------------------------
def test_a_zero_volume_counts_as_missing_for_exactly_the_windows_holding_it():
    # The original stored a volume of 0 as NULL; bar 60's 0 nulls the rows of bars 60..79.
    volumes = [1000 + 37 * i for i in range(80)]
    volumes[59] = 0
    features = lane_features(make_bars("ZERO", [100.0 + (i % 4) for i in range(80)], volumes))
    features = features.with_columns(bar=pl.int_range(50, 81))
    assert features.filter(pl.col("volume_ratio").is_null())["bar"].to_list() == list(range(60, 80))
    assert features.filter(pl.col("bar") == 60)["volume_current"].to_list() == [None]


def test_all_zero_volumes_give_null_volume_features_not_a_kill():
    features = lane_features(make_bars("ZERO", [100.0 + (i % 4) for i in range(60)], [0] * 60))
    assert features.select("volume_current", "volume_avg_20", "volume_ratio", "volume_surge").unique().rows() == [
        (None, None, None, None)]
    assert features["sma20"].null_count() == 0


# --- 6. prior-20 option ----------------------------------------------------------------------------------
def test_prior_option_averages_the_20_bars_before_the_current_one():
    bars = make_bars("PRIO", [100.0 + (i % 3) for i in range(50)], [7] * 29 + [19000] * 20 + [38000])
    prior = last_row(lane_features(bars, PRIOR))  # bars 30..49: 20 x 19000
    assert (prior["volume_avg_20"], prior["volume_ratio"], prior["volume_surge"]) == (19000, 2.0, False)
    inclusive = last_row(lane_features(bars))  # bars 31..50: 19 x 19000 + 38000 = 399000
    assert (inclusive["volume_avg_20"], inclusive["volume_ratio"], inclusive["volume_surge"]) == (19950, 1.9048, False)


def test_prior_option_with_zero_volumes_before_gives_null_features():
    bars = make_bars("PRIO", [100.0 + (i % 3) for i in range(50)], [7] * 29 + [0] * 20 + [100])
    row = last_row(lane_features(bars, PRIOR))
    assert (row["volume_current"], row["volume_avg_20"], row["volume_ratio"], row["volume_surge"]) == (
        100, None, None, None)


def test_prior_option_matches_reference(two_sessions):
    assert_matches_reference(lane_features(two_sessions, PRIOR), reference_features(two_sessions, prior=True))


def test_prior_option_null_pattern():
    volumes = [1000 + 37 * i for i in range(80)]
    volumes[55] = None  # bar 56: its own row (current null) and the 20 rows after it
    bars = make_bars("NULL", [100.0 + (i % 4) for i in range(80)], volumes)
    features = lane_features(bars, PRIOR).with_columns(bar=pl.int_range(50, 81))
    assert features.filter(pl.col("volume_ratio").is_null())["bar"].to_list() == list(range(56, 77))
    assert_matches_reference(features.drop("bar"), reference_features(bars, prior=True))


# --- 7. properties on random bars ------------------------------------------------------------------------
@st.composite
def random_bars(draw) -> pl.DataFrame:
    """One or two tickers of 50-75 bars on sparse minutes. Prices are either independent
    draws up to the 1,000,000 limit (big jumps, clipped returns) or a cent-step walk up
    to $10,000; volumes mix nulls, zeros, small and huge values."""
    frames = []
    for ticker in draw(st.sampled_from([("AAA",), ("AAA", "BBB")])):
        n = draw(st.integers(50, 75))
        if draw(st.booleans()):
            cents = draw(st.lists(st.integers(1, 10**8), min_size=n, max_size=n))
        else:
            start = draw(st.integers(100, 10**6))
            steps = draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n))
            cents = [max(1, start + sum(steps[: i + 1])) for i in range(n)]
        volume = st.one_of(st.none(), st.just(0), st.integers(0, 50), st.integers(0, 10**12))
        volumes = draw(st.lists(volume, min_size=n, max_size=n))
        minutes = sorted(draw(st.sets(st.integers(0, 2 * n), min_size=n, max_size=n)))
        frames.append(make_bars(ticker, [c / 100 for c in cents], volumes, minutes=minutes))
    return pl.concat(frames)


PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(bars=random_bars(), prior=st.booleans())
def test_random_bars_match_reference(bars, prior):
    config = PRIOR if prior else FeatureConfig()
    assert_matches_reference(lane_features(bars, config), reference_features(bars, prior))


@PROPERTY_SETTINGS
@given(bars=random_bars())
def test_volume_properties_on_random_bars(bars):
    features = lane_features(bars)
    for (ticker,), group in bars.group_by("ticker"):
        volumes = group.sort("ts")["volume"].to_list()
        rows = features.filter(pl.col("ticker") == ticker).sort("ts").rows(named=True)
        assert len(rows) == len(volumes) - 49
        for i, row in zip(range(49, len(volumes)), rows):
            window, current = volumes[i - 19 : i + 1], volumes[i]
            assert row["volume_current"] == (current or None)
            if not all(window):  # a null or a zero volume is missing
                assert (row["volume_avg_20"], row["volume_ratio"], row["volume_surge"]) == (None, None, None)
                continue
            total = sum(window)
            assert row["volume_avg_20"] == total // 20
            assert 0.0 <= row["volume_ratio"] <= 20.0  # the current bar is in its own average
            assert row["volume_surge"] == (current / (total / 20) > 2.0)
            assert -Decimal(repr(row["volume_ratio"])).as_tuple().exponent <= 4
            assert abs(Fraction(row["volume_ratio"]) - Fraction(current * 20, total)) <= Fraction(1, 20000) + Fraction(1, 10**12)


@PROPERTY_SETTINGS
@given(bars=random_bars(), prior=st.booleans(), pick=st.integers(0, 10**6))
def test_minute_path_equals_full_recompute_on_random_bars(bars, prior, pick):
    config = PRIOR if prior else FeatureConfig()
    full = lane_features(bars, config)
    stamps = bars["ts"].unique().sort()
    for minute in (stamps[-1], stamps[pick % len(stamps)]):
        expected = full.filter(pl.col("ts") == minute).sort("ticker")
        assert_frame_equal(lane_features_at(bars, minute, config), expected, check_exact=True)


# --- 8. per-minute path -----------------------------------------------------------------------------------
def gap_minutes(bars: pl.DataFrame) -> list[datetime]:
    """Day-1 minutes after every ticker has 50 bars where some (not all) tickers have no bar."""
    per_minute = bars.group_by("ts").agg(pl.len()).sort("ts")
    day1_late = (pl.col("ts") > T0 + timedelta(minutes=60)) & (pl.col("ts") < DAY2_OPEN)
    return per_minute.filter(day1_late, pl.col("len") < 4)["ts"].to_list()[:3]


def interesting_minutes(bars: pl.DataFrame, full: pl.DataFrame) -> list[datetime]:
    first_rows = full.group_by("ticker").agg(pl.col("ts").min())["ts"].to_list()
    gaps = gap_minutes(bars)
    day1_close = T0 + timedelta(minutes=389)
    return sorted({
        *first_rows, *(m - timedelta(minutes=1) for m in first_rows),
        *gaps,
        day1_close, DAY2_OPEN, DAY2_OPEN + timedelta(minutes=1), DAY2_OPEN + timedelta(minutes=3),
        T0 + timedelta(minutes=100), T0 + timedelta(minutes=119), T0 + timedelta(minutes=120),  # TSLA's null
        T0 + timedelta(minutes=200), DAY2_OPEN + timedelta(minutes=70), DAY2_OPEN + timedelta(minutes=389),
        T0 + timedelta(hours=12),  # overnight: no bars at all
    })


def test_minute_path_equals_full_recompute_bit_for_bit(two_sessions, full_features):
    for config in (FeatureConfig(), PRIOR):
        full = full_features if config == FeatureConfig() else lane_features(two_sessions, config)
        for minute in interesting_minutes(two_sessions, full):
            expected = full.filter(pl.col("ts") == minute).sort("ticker")
            tail = trailing_bars(two_sessions, minute, config)
            assert tail.group_by("ticker").len()["len"].max() <= config.lookback_bars
            assert_frame_equal(lane_features_at(tail, minute, config), expected, check_exact=True)
            assert_frame_equal(lane_features_at(two_sessions, minute, config), expected, check_exact=True)


def test_minute_path_edge_minutes_are_real_edge_cases(two_sessions, full_features):
    # Guards the selection above: these minutes really are the edge cases named there.
    first_late = full_features.filter(pl.col("ticker") == "LATE")["ts"].min()
    assert "LATE" in lane_features_at(two_sessions, first_late)["ticker"]
    assert "LATE" not in lane_features_at(two_sessions, first_late - timedelta(minutes=1))["ticker"]
    gaps = gap_minutes(two_sessions)
    assert gaps and all(0 < lane_features_at(two_sessions, m).height < 4 for m in gaps)
    assert lane_features_at(two_sessions, DAY2_OPEN).height == 4  # history from day 1
    assert lane_features_at(two_sessions, T0 + timedelta(hours=12)).is_empty()


def test_minute_in_another_time_zone_means_the_same_instant(two_sessions, full_features):
    new_york = ZoneInfo("America/New_York")
    minute = DAY2_OPEN + timedelta(minutes=5)
    expected = full_features.filter(pl.col("ts") == minute).sort("ticker")
    local = minute.astimezone(new_york)  # 09:35 New York, as a partition key reads
    assert_frame_equal(lane_features_at(two_sessions, local), expected, check_exact=True)
    assert_frame_equal(trailing_bars(two_sessions, local), trailing_bars(two_sessions, minute), check_exact=True)
    window = lane_features_between(two_sessions, local, local + timedelta(minutes=10))
    assert_frame_equal(window, full_features.filter(pl.col("ts") >= minute, pl.col("ts") < minute + timedelta(minutes=10)),
                       check_exact=True)


def test_between_window_equals_full_recompute(two_sessions, full_features):
    start = DAY2_OPEN - timedelta(hours=18)
    end = DAY2_OPEN + timedelta(minutes=10)
    expected = full_features.filter((pl.col("ts") >= start) & (pl.col("ts") < end))
    assert_frame_equal(lane_features_between(two_sessions, start, end), expected, check_exact=True)
    one = lane_features_between(two_sessions, DAY2_OPEN, DAY2_OPEN + timedelta(minutes=1))
    assert_frame_equal(one, full_features.filter(pl.col("ts") == DAY2_OPEN).sort("ticker"), check_exact=True)


def test_long_history_at_the_price_and_volume_limits():
    # 2 x 50,000 bars at 999,999.99: the kernel's cumulative sums pass the Int64 range.
    n = 50_000
    price, volume = 999_999.99, 10**12
    bars = pl.concat([make_bars(t, [price] * n, [volume] * n) for t in ("BIG1", "BIG2")])
    features = lane_features(bars)
    assert features.height == 2 * (n - 49)
    values = features.select("sma20", "sma50", "distance_sma20", "recent_vol", "volume_avg_20", "volume_ratio").unique()
    assert values.rows() == [(price, price, 0.0, 0.0, volume, 1.0)]
    last = bars["ts"].max()
    assert_frame_equal(lane_features_at(bars, last), features.filter(pl.col("ts") == last), check_exact=True)


# --- 9. input order -------------------------------------------------------------------------------------------
def test_row_order_of_the_input_does_not_matter(two_sessions, full_features):
    shuffled = two_sessions.sample(fraction=1.0, shuffle=True, seed=3)
    by_time = two_sessions.sort("ts", "ticker")
    for bars in (shuffled, by_time, shuffled.lazy()):
        assert_frame_equal(lane_features(bars), full_features, check_exact=True)
    minute = DAY2_OPEN + timedelta(minutes=5)
    assert_frame_equal(lane_features_at(shuffled, minute), lane_features_at(two_sessions, minute), check_exact=True)

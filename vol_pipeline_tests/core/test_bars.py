"""validate_bars: every rejection kind, every documented normalisation, conservation of rows,
and agreement with the pandera BARS_SCHEMA built from the same BAR_ROW_CHECKS.

The CLI and the replay source (file reading, fetch windows) are tested elsewhere; here the
validation function is called directly, mostly on all-string frames as a CSV yields them.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from vol_pipeline.core.bars import (
    BAR_COLUMNS,
    BAR_ROW_CHECKS,
    BAR_SCHEMA,
    MAX_PRICE,
    MAX_VOLUME,
    REJECTED_SCHEMA,
    BarValidation,
    failure,
    validate_bars,
)
from vol_pipeline.core.errors import BadInputError
from vol_pipeline.contracts import BARS_SCHEMA, ContractError, check_contract
from vol_pipeline.sources.base import with_provenance

UNIQUE_CONFLICT = "ticker, ts failed 'unique' (duplicate bar with conflicting values)"
UNIQUE_COPY = "ticker, ts failed 'unique' (exact copy of an earlier row, kept once)"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def bar(minute: int = 0, ticker: str | None = "AAPL", **values) -> dict[str, str | None]:
    """One good bar as CSV text, at 2026-11-23 14:30 UTC + `minute`; `values` override cells."""
    ts = (utc(2026, 11, 23, 14, 30) + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")
    row = {"ticker": ticker, "ts": ts, "open": "100", "high": "101", "low": "99", "close": "100.5", "volume": "1000"}
    row.update(values)
    return row


def text_frame(rows: list[dict]) -> pl.DataFrame:
    """All-string columns, as a CSV read without schema inference gives them."""
    return pl.DataFrame(rows, schema={c: pl.String for c in BAR_COLUMNS})


def typed_bars(n: int = 4) -> pl.DataFrame:
    """A valid typed frame (as validate_bars returns it) with n bars of one ticker, with the
    provenance a source adds before storing: the stored bars contract."""
    return stored(validate_bars(text_frame([bar(i) for i in range(n)])).valid)


def stored(valid: pl.DataFrame) -> pl.DataFrame:
    return with_provenance(valid, "replay", utc(2026, 11, 24, 0, 0))


def reasons_by_row(result: BarValidation) -> dict[int, str]:
    return dict(result.rejected.select("source_row", "reason").iter_rows())


def assert_only_row_2_rejected(overrides: dict, reason: str) -> BarValidation:
    """Row 2 of three gets `overrides`; it alone is rejected, with exactly `reason`."""
    rows = [bar(0), bar(1, **overrides), bar(2)]
    result = validate_bars(text_frame(rows))
    assert reasons_by_row(result) == {2: reason}
    rejected = result.rejected.row(0, named=True)
    for column, value in overrides.items():
        assert rejected[column] == value  # the raw value is kept, as text
    # The other rows are valid and untouched.
    assert result.valid.select("ticker", "ts").rows() == [("AAPL", utc(2026, 11, 23, 14, 30)),
                                                         ("AAPL", utc(2026, 11, 23, 14, 32))]
    assert result.valid.height + result.rejected.height == 3
    return result


# --- 1. one test per rejection kind ------------------------------------------------------------
REJECTIONS = {
    # id: (cells of row 2, exact reason)
    "negative_volume": ({"volume": "-5"}, "volume failed '>= 0'"),
    "hugely_negative_volume": ({"volume": "-1e20"}, "volume failed '>= 0'"),
    "fractional_volume": ({"volume": "1.5"}, "volume failed 'is a whole number'"),
    "text_volume": ({"volume": "12x"}, "volume failed 'is a number'"),
    "text_price": ({"close": "abc"}, "close failed 'is a number'"),
    "nan_price": ({"open": "nan"}, "open failed 'finite'"),
    "inf_price": ({"high": "inf"}, "high failed 'finite'"),
    "minus_inf_price": ({"low": "-inf"}, "low failed 'finite'"),
    "overflowing_price": ({"close": "1e400"}, "close failed 'finite'"),
    "zero_price": ({"low": "0"}, "low failed '> 0'"),
    "negative_price": ({"low": "-1"}, "low failed '> 0'"),
    "zero_close_also_below_low": ({"close": "0"}, "close failed '> 0'; low failed 'low <= open, close'"),
    "price_above_maximum": ({"high": "1000000.5"}, "high failed '<= 1,000,000'"),
    "volume_above_maximum": ({"volume": str(MAX_VOLUME + 1)}, "volume failed '<= 1e+12'"),
    # Beyond Int64: once cast to null and so silently accepted as "no volume".
    "volume_beyond_int64": ({"volume": "1e20"}, "volume failed '<= 1e+12'"),
    # NaN/inf volume: once cast to null and so silently accepted as "no volume".
    "nan_volume": ({"volume": "nan"}, "volume failed 'finite'"),
    "inf_volume": ({"volume": "inf"}, "volume failed 'finite'"),
    "high_below_low": ({"open": "100", "close": "100", "high": "99", "low": "101"},
                       "low failed 'low <= open, close'; high failed 'high >= open, close'"),
    "low_above_open": ({"low": "100.2"}, "low failed 'low <= open, close'"),
    "high_below_close": ({"close": "101.5"}, "high failed 'high >= open, close'"),
    "ts_with_seconds": ({"ts": "2026-11-23T14:31:15Z"}, "ts failed 'on the minute'"),
    "ts_with_sub_seconds": ({"ts": "2026-11-23T14:31:00.5Z"}, "ts failed 'on the minute'"),
    "ts_with_microseconds": ({"ts": "2026-11-23T14:31:00.000001Z"}, "ts failed 'on the minute'"),
    # Below the stored microsecond: once truncated away, so the bar passed as on the minute.
    "ts_with_nanoseconds": ({"ts": "2026-11-23T14:31:00.000000001Z"}, "ts failed 'on the minute'"),
    "naive_ts": ({"ts": "2026-11-23T14:31:00"}, "ts failed 'has a UTC offset'"),
    "naive_ts_without_seconds": ({"ts": "2026-11-23 14:31"}, "ts failed 'has a UTC offset'"),
    "unparseable_ts": ({"ts": "garbage"}, "ts failed 'is a datetime'"),
    "date_only_ts": ({"ts": "2026-11-23"}, "ts failed 'is a datetime'"),
    "impossible_ts": ({"ts": "2026-11-23T25:31:00Z"}, "ts failed 'is a datetime'"),
    # A blank ticker is both missing and empty; both are named.
    "empty_ticker": ({"ticker": ""}, "ticker failed 'not empty'; ticker failed 'not null'"),
    "blank_ticker": ({"ticker": "   "}, "ticker failed 'not empty'; ticker failed 'not null'"),
}


@pytest.mark.parametrize("overrides, reason", list(REJECTIONS.values()), ids=list(REJECTIONS))
def test_bad_row_is_rejected_with_its_reason_and_others_stay_valid(overrides, reason):
    assert_only_row_2_rejected(overrides, reason)


# A blank ticker is also 'not empty': see REJECTIONS["empty_ticker"].
MISSING_REQUIRED = [(c, m) for c in ("ticker", "ts", "open", "high", "low", "close") for m in (None, "", " ")
                    if not (c == "ticker" and m is not None)]


@pytest.mark.parametrize("column, missing", MISSING_REQUIRED, ids=[f"{c}={m!r}" for c, m in MISSING_REQUIRED])
def test_missing_required_value_is_rejected(column, missing):
    assert_only_row_2_rejected({column: missing}, failure(column, "not null"))


@pytest.mark.parametrize("missing", [None, "", "  "], ids=["null", "empty", "blank"])
def test_missing_volume_is_valid_as_null(missing):
    result = validate_bars(text_frame([bar(0), bar(1, volume=missing)]))
    assert result.rejected.is_empty()
    assert result.valid["volume"].to_list() == [1000, None]


@pytest.mark.parametrize(
    "overrides",
    [{"high": "1000000", "open": "1000000", "close": "1000000"}, {"volume": str(MAX_VOLUME)}, {"volume": "0"},
     {"volume": "1e3"}, {"open": "99", "close": "99"}, {"open": "101", "close": "101"}],
    ids=["price_at_maximum", "volume_at_maximum", "zero_volume", "volume_in_exponent_form",
         "open_close_at_low", "open_close_at_high"],
)
def test_boundary_values_are_valid(overrides):
    result = validate_bars(text_frame([bar(0, **overrides)]))
    assert result.rejected.is_empty(), result.rejected["reason"].to_list()
    expected = {c: float(v) if c != "volume" else int(float(v)) for c, v in overrides.items()}
    assert {c: result.valid[c][0] for c in overrides} == expected


def test_conflicting_duplicates_are_all_rejected():
    rows = [bar(0), bar(1, volume="1000"), bar(1, volume="1001"), bar(2), bar(1, volume="1000")]
    result = validate_bars(text_frame(rows))
    # Two of the three 14:31 copies agree, but the third disagrees: none can be trusted.
    assert reasons_by_row(result) == {2: UNIQUE_CONFLICT, 3: UNIQUE_CONFLICT, 5: UNIQUE_CONFLICT}
    assert result.valid["ts"].to_list() == [utc(2026, 11, 23, 14, 30), utc(2026, 11, 23, 14, 32)]


def test_exact_duplicate_is_kept_once_and_copies_are_rejected():
    # Copies after normalisation: same ticker modulo case/space, same instant in another offset.
    rows = [bar(0), bar(1, volume=None), bar(1, volume=""),
            bar(0, ticker=" aapl ", ts="2026-11-23T09:30:00-05:00"), bar(0)]
    result = validate_bars(text_frame(rows))
    assert reasons_by_row(result) == {3: UNIQUE_COPY, 4: UNIQUE_COPY, 5: UNIQUE_COPY}
    assert result.valid.rows() == [
        ("AAPL", utc(2026, 11, 23, 14, 30), 100.0, 101.0, 99.0, 100.5, 1000),
        ("AAPL", utc(2026, 11, 23, 14, 31), 100.0, 101.0, 99.0, 100.5, None),
    ]
    assert result.rejected.filter(pl.col("source_row") == 4)["ticker"].to_list() == [" aapl "]  # raw text


def test_invalid_copy_does_not_make_a_duplicate():
    # Only valid rows can collide: the bad copy goes for its own reason, the good one stays.
    result = validate_bars(text_frame([bar(0), bar(0, volume="-1")]))
    assert reasons_by_row(result) == {2: "volume failed '>= 0'"}
    assert result.valid["volume"].to_list() == [1000]


def test_same_minute_for_different_tickers_is_not_a_duplicate():
    result = validate_bars(text_frame([bar(0, ticker="AAPL"), bar(0, ticker="MSFT")]))
    assert result.rejected.is_empty()
    assert result.valid["ticker"].to_list() == ["AAPL", "MSFT"]


def test_several_failures_on_one_row_are_joined_in_one_reason():
    rows = [bar(0), bar(1, ts="2026-11-23T14:31:30Z", close="abc", volume="-5", ticker="")]
    result = validate_bars(text_frame(rows))
    assert result.rejected.height == 1
    reason = result.rejected["reason"][0]
    assert sorted(reason.split("; ")) == sorted([
        "ticker failed 'not empty'", "ticker failed 'not null'", "ts failed 'on the minute'",
        "close failed 'is a number'", "volume failed '>= 0'",
    ])
    assert result.valid.height == 1


def test_watchlist_rejects_other_tickers_after_normalisation():
    rows = [bar(0, ticker="AAPL"), bar(0, ticker="MSFT"), bar(1, ticker=" aapl "), bar(0, ticker="GOOG")]
    result = validate_bars(text_frame(rows), allowed_tickers=frozenset({"AAPL", "GOOG"}))
    assert reasons_by_row(result) == {2: "ticker failed 'in the watchlist'"}
    assert result.valid.select("ticker", "ts").rows() == [
        ("AAPL", utc(2026, 11, 23, 14, 30)), ("AAPL", utc(2026, 11, 23, 14, 31)), ("GOOG", utc(2026, 11, 23, 14, 30)),
    ]
    # Without a watchlist every ticker is accepted.
    assert validate_bars(text_frame(rows)).rejected.is_empty()


# --- 2. normalisations --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "2026-11-23T14:30:00Z",
        "2026-11-23T14:30:00z",
        "2026-11-23T14:30:00+00:00",
        "2026-11-23T09:30:00-05:00",
        "2026-11-23T09:30:00-0500",
        "2026-11-23T19:30:00+05",
        "2026-11-23T20:00:00+05:30",
        "2026-11-23 14:30:00Z",  # space instead of 'T'
        "2026-11-23T14:30Z",  # no seconds
        "2026-11-23T14:30:00.000Z",  # zero fraction
        " 2026-11-23T14:30:00Z ",
    ],
)
def test_any_utc_offset_lands_on_the_same_utc_instant(text):
    result = validate_bars(text_frame([bar(0, ts=text)]))
    assert result.rejected.is_empty(), result.rejected["reason"].to_list()
    assert result.valid["ts"].to_list() == [utc(2026, 11, 23, 14, 30)]
    assert result.valid.schema["ts"] == pl.Datetime("us", "UTC")


def typed_frame(ts: list[datetime], time_unit: str = "us", time_zone: str | None = "UTC") -> pl.DataFrame:
    """A Parquet-like frame: typed columns, a Datetime ts in the given unit and zone."""
    n = len(ts)
    frame = pl.DataFrame({
        "ticker": ["AAPL"] * n, "ts": ts, "open": [100] * n, "high": [101.0] * n, "low": [99.0] * n,
        "close": [100.5] * n, "volume": list(range(1000, 1000 + n)),
    })
    column = pl.col("ts").dt.cast_time_unit(time_unit)
    return frame.with_columns(column.dt.replace_time_zone(time_zone) if time_zone else column)


@pytest.mark.parametrize("time_unit", ["ms", "us", "ns"])
def test_timezone_aware_datetime_column_is_converted_to_utc(time_unit):
    local = typed_frame([datetime(2026, 11, 23, 9, 30), datetime(2026, 7, 1, 9, 30)], time_unit, "America/New_York")
    result = validate_bars(local)
    assert result.rejected.is_empty()
    assert dict(result.valid.schema) == BAR_SCHEMA
    # Standard time (UTC-5) and daylight time (UTC-4).
    assert result.valid["ts"].to_list() == [utc(2026, 7, 1, 13, 30), utc(2026, 11, 23, 14, 30)]


def test_nanosecond_datetime_column_off_the_minute_is_rejected():
    frame = typed_frame([datetime(2026, 11, 23, 14, 30), datetime(2026, 11, 23, 14, 31)], "ns")
    frame = frame.with_columns(pl.col("ts") + pl.duration(nanoseconds=pl.Series([0, 1])))
    result = validate_bars(frame)
    assert reasons_by_row(result) == {2: "ts failed 'on the minute'"}
    assert result.valid["ts"].to_list() == [utc(2026, 11, 23, 14, 30)]


def test_naive_datetime_column_rejects_every_row():
    naive = typed_frame([datetime(2026, 11, 23, 14, 30), datetime(2026, 11, 23, 14, 31)], time_zone=None)
    result = validate_bars(naive)
    assert result.valid.is_empty()
    assert reasons_by_row(result) == {1: "ts failed 'has a UTC offset'", 2: "ts failed 'has a UTC offset'"}
    assert result.rejected["ts"].to_list() == ["2026-11-23 14:30:00.000000", "2026-11-23 14:31:00.000000"]


def test_typed_columns_are_checked_like_text():
    frame = typed_frame([datetime(2026, 11, 23, 14, 30 + i) for i in range(4)]).with_columns(
        volume=pl.Series([1000.0, float("nan"), 1e20, 2.5])
    )
    result = validate_bars(frame)
    assert reasons_by_row(result) == {
        2: "volume failed 'finite'",
        3: "volume failed '<= 1e+12'",
        4: "volume failed 'is a whole number'",
    }
    assert result.valid.rows() == [("AAPL", utc(2026, 11, 23, 14, 30), 100.0, 101.0, 99.0, 100.5, 1000)]
    assert result.rejected["volume"].to_list() == ["NaN", "1e+20", "2.5"]  # raw values as text


def test_column_names_in_any_case_and_datetime_alias():
    frame = text_frame([bar(0), bar(1)]).rename(
        {"ticker": "Ticker", "ts": "DateTime", "open": "OPEN", "high": " High ", "close": "Close", "volume": "VOLUME"}
    )
    result = validate_bars(frame)
    assert result.rejected.is_empty()
    assert result.ignored_columns == []
    assert_frame_equal(result.valid, validate_bars(text_frame([bar(0), bar(1)])).valid)


def test_tickers_are_stripped_and_upper_cased():
    result = validate_bars(text_frame([bar(0, ticker=" aapl "), bar(0, ticker="Msft\t")]))
    assert result.rejected.is_empty()
    assert result.valid["ticker"].to_list() == ["AAPL", "MSFT"]


def test_rows_in_any_order_give_valid_sorted_by_ticker_and_ts():
    rows = [bar(m, ticker=t, volume=str(1000 + 10 * m + len(t))) for t in ("MSFT", "AAPL", "GOOG") for m in range(5)]
    order = [7, 0, 13, 2, 11, 4, 9, 14, 1, 6, 12, 3, 8, 10, 5]
    shuffled = validate_bars(text_frame([rows[i] for i in order]))
    in_order = validate_bars(text_frame(rows))
    assert shuffled.rejected.is_empty()
    assert_frame_equal(shuffled.valid, in_order.valid)
    keys = shuffled.valid.select("ticker", "ts").rows()
    assert keys == sorted(keys)
    assert shuffled.valid.height == 15


def test_extra_columns_are_ignored_and_reported():
    frame = text_frame([bar(0)]).with_columns(vwap=pl.lit("100.2"), Trades=pl.lit("17"))
    result = validate_bars(frame)
    assert result.rejected.is_empty()
    assert result.valid.columns == list(BAR_COLUMNS)
    assert [c.lower() for c in result.ignored_columns] == ["vwap", "trades"]


def test_result_frames_have_the_documented_types():
    result = validate_bars(text_frame([bar(0), bar(1, volume="-1")]))
    assert dict(result.valid.schema) == BAR_SCHEMA
    assert dict(result.rejected.schema) == REJECTED_SCHEMA
    assert result.rejected.row(0, named=True) == {**bar(1, volume="-1"), "source_row": 2, "reason": "volume failed '>= 0'"}


# --- 3. conservation: nothing is dropped, valid rows meet the pandera contract ----------------
TS_FORMS = (
    lambda t: t.strftime("%Y-%m-%dT%H:%M:%SZ"),
    lambda t: t.strftime("%Y-%m-%d %H:%M:%S+00:00"),
    lambda t: (t - timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M:%S-05:00"),
    lambda t: (t + timedelta(hours=9)).strftime("%Y-%m-%dT%H:%M+0900"),
)
TICKER_FORMS = {"AAPL": ["AAPL", " aapl "], "MSFT": ["MSFT", "msft"]}
GOOD_VOLUMES = ["0", "1000", "1000.0", None, "", str(MAX_VOLUME)]
BAD_CELLS = {
    "ticker": ["", "   ", None],
    "ts": ["2026-11-23T14:30:30Z", "2026-11-23T14:30:00", "garbage", None, "", "2026-11-23T14:30:00.000000001Z"],
    "open": ["abc", "nan", "inf", "-inf", "0", "-3", "2000000", None, ""],
    "high": ["abc", "nan", "0.5", "", None],  # "0.5" is below every generated low
    "low": ["abc", "-inf", "1000", None],  # "1000" is above open and close
    "close": ["x", "nan", "0", "5000", None],  # "5000" is above high
    "volume": ["-5", "1.5", "12x", "nan", "inf", "1e13", "1e20"],
}


@st.composite
def bar_rows(draw):
    """(text rows, per row: None if deliberately broken, else its normalised key and values)."""
    rows, truth = [], []
    for _ in range(draw(st.integers(0, 25))):
        ticker = draw(st.sampled_from(sorted(TICKER_FORMS)))
        minute = utc(2026, 11, 23, 14, 30) + timedelta(minutes=draw(st.integers(0, 3)))
        low = draw(st.sampled_from([1.0, 99.5, 250.25]))
        o, c, h = (low + draw(st.sampled_from([0.0, 0.5, 1.0])) for _ in range(3))
        high = max(o, c) + h - low
        volume = draw(st.sampled_from(GOOD_VOLUMES))
        row = {"ticker": draw(st.sampled_from(TICKER_FORMS[ticker])), "ts": draw(st.sampled_from(TS_FORMS))(minute),
               "open": repr(o), "high": repr(high), "low": repr(low), "close": repr(c), "volume": volume}
        values = (o, high, low, c, None if volume in (None, "") else int(float(volume)))
        if draw(st.booleans()):
            column = draw(st.sampled_from(sorted(BAD_CELLS)))
            row[column] = draw(st.sampled_from(BAD_CELLS[column]))
            truth.append(None)
        else:
            truth.append(((ticker, minute), values))
        rows.append(row)
    return rows, truth


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(bar_rows())
def test_every_row_is_valid_or_rejected_with_a_reason(case):
    rows, truth = case
    result = validate_bars(text_frame(rows))
    n = len(rows)
    assert result.valid.height + result.rejected.height == n == result.input_rows

    rejected_rows = result.rejected["source_row"].to_list()
    assert len(set(rejected_rows)) == len(rejected_rows)
    assert all(1 <= r <= n for r in rejected_rows)
    assert all(reason for reason in result.rejected["reason"].to_list())

    check_contract(stored(result.valid), BARS_SCHEMA)
    assert dict(result.valid.schema) == BAR_SCHEMA
    assert result.valid.select("ticker", "ts").rows() == sorted(result.valid.select("ticker", "ts").rows())

    # Broken rows are always rejected; good rows only ever for a duplicate key.
    reasons = reasons_by_row(result)
    for row_no, known in enumerate(truth, start=1):
        if known is None:
            assert row_no in reasons
        elif row_no in reasons:
            assert reasons[row_no] in (UNIQUE_CONFLICT, UNIQUE_COPY)
    # A key is valid exactly when all its good copies agree; it is kept once, with those values.
    by_key: dict[tuple, set] = {}
    for known in filter(None, truth):
        by_key.setdefault(known[0], set()).add(known[1])
    expected = sorted((*key, *next(iter(v))) for key, v in by_key.items() if len(v) == 1)
    assert result.valid.rows() == expected


# --- 4. summary --------------------------------------------------------------------------------
def test_summary_names_count_column_check_and_an_example_row():
    result = validate_bars(text_frame([bar(0), bar(1, volume="-5"), bar(2, close="abc")]))
    summary = result.summary()
    assert summary.startswith("2 of 3 rows rejected; e.g. row 2: volume failed '>= 0' (")
    assert "ticker=AAPL" in summary and "ts=2026-11-23T14:31:00Z" in summary and "volume=-5" in summary


def test_summary_without_rejections_counts_valid_bars():
    assert validate_bars(text_frame([bar(0), bar(1)])).summary() == "2 bars valid"


# --- 5. unusable frames --------------------------------------------------------------------------
@pytest.mark.parametrize("column", BAR_COLUMNS)
def test_missing_column_raises_naming_it(column):
    frame = text_frame([bar(0)]).drop(column).with_columns(extra=pl.lit("x"))
    with pytest.raises(BadInputError, match=f"missing column '{column}'"):
        validate_bars(frame)


def test_colliding_column_names_raise():
    frame = text_frame([bar(0)]).with_columns(Close=pl.lit("100.5"))
    with pytest.raises(BadInputError, match="collide") as info:
        validate_bars(frame)
    assert "'Close'" in str(info.value) and "'close'" in str(info.value)


# --- 6. empty input ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "frame",
    [text_frame([]), pl.DataFrame(schema=BAR_SCHEMA), pl.DataFrame({c: [] for c in BAR_COLUMNS})],
    ids=["text_columns", "typed_columns", "null_columns"],
)
def test_empty_frame_gives_empty_results(frame):
    result = validate_bars(frame)
    assert result.valid.is_empty() and result.rejected.is_empty()
    assert dict(result.valid.schema) == BAR_SCHEMA
    assert dict(result.rejected.schema) == REJECTED_SCHEMA
    assert result.summary() == "0 bars valid"


# --- 7. the pandera schema agrees with validate_bars ---------------------------------------------
def breaking(check) -> dict:
    """Typed cell values that break `check` (a BAR_ROW_CHECKS entry) on a 100/101/99/100.5 bar."""
    column, name = check.column, check.name
    if name == "not empty":
        return {"ticker": ""}
    if name == "on the minute":
        return {"ts": utc(2026, 11, 23, 14, 31, 30)}
    if name == "finite":
        return {column: float("nan")}
    if name == "> 0":
        return {c: -1.0 for c in ("open", "high", "low", "close")}
    if name == f"<= {MAX_PRICE:,.0f}":
        return {c: 2 * MAX_PRICE for c in ("open", "high", "low", "close")}
    if name == "low <= open, close":
        return {"low": 100.2}
    if name == "high >= open, close":
        return {"high": 100.2}
    if name == ">= 0":
        return {"volume": -1}
    if name == f"<= {MAX_VOLUME:.0e}":
        return {"volume": MAX_VOLUME + 1}
    raise AssertionError(f"no breaking values for {check}")


def replace_row(frame: pl.DataFrame, index: int, values: dict) -> pl.DataFrame:
    at = pl.int_range(pl.len()) == index
    return frame.with_columns(
        pl.when(at).then(pl.lit(v, dtype=frame.schema[c])).otherwise(pl.col(c)).alias(c) for c, v in values.items()
    )


def test_valid_output_satisfies_the_pandera_schema():
    valid = typed_bars()
    assert_frame_equal(check_contract(valid, BARS_SCHEMA), valid)


@pytest.mark.parametrize("check", BAR_ROW_CHECKS, ids=[f"{c.column}: {c.name}" for c in BAR_ROW_CHECKS])
def test_schema_and_validate_bars_reject_the_same_row_for_the_same_check(check):
    tampered = replace_row(typed_bars(), 1, breaking(check))
    with pytest.raises(ContractError) as info:
        check_contract(tampered, BARS_SCHEMA)
    message = str(info.value)
    assert message.startswith("bars: ")
    assert f"'{check.column}: {check.name}'" in message

    result = validate_bars(tampered)
    assert list(reasons_by_row(result)) == [2]
    assert failure(check.column, check.name) in reasons_by_row(result)[2].split("; ")


def test_schema_rejects_a_high_below_low_row_inserted_into_valid_bars():
    valid = typed_bars()
    bad = stored(pl.DataFrame([("AAPL", utc(2026, 11, 23, 15, 0), 100.0, 99.0, 101.0, 100.0, 10)],
                              schema=BAR_SCHEMA, orient="row"))
    frame = pl.concat([valid, bad])
    with pytest.raises(ContractError) as info:
        check_contract(frame, BARS_SCHEMA)
    assert "'low: low <= open, close'" in str(info.value)
    assert "'high: high >= open, close'" in str(info.value)
    assert reasons_by_row(validate_bars(frame)) == {
        5: "low failed 'low <= open, close'; high failed 'high >= open, close'"
    }


def test_schema_rejects_a_duplicate_key_like_validate_bars():
    valid = typed_bars()
    frame = pl.concat([valid, replace_row(valid.head(1), 0, {"volume": 7})])
    with pytest.raises(ContractError, match="uniqueness"):
        check_contract(frame, BARS_SCHEMA)
    assert reasons_by_row(validate_bars(frame)) == {1: UNIQUE_CONFLICT, 5: UNIQUE_CONFLICT}

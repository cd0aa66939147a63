-- 1-minute bars (the original's lane_telemetry: same columns and types) and the quarantine
-- of rejected input rows. Keyed (ts, ticker): the per-minute replace deletes by ts.
CREATE TABLE IF NOT EXISTS bars (
    ticker TEXT NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    open DOUBLE PRECISION NOT NULL,
    high DOUBLE PRECISION NOT NULL,
    low DOUBLE PRECISION NOT NULL,
    close DOUBLE PRECISION NOT NULL,
    volume BIGINT,
    PRIMARY KEY (ts, ticker)
);
CREATE INDEX IF NOT EXISTS idx_bars_ticker_ts ON bars (ticker, ts DESC);

-- Readers written for the original keep working.
CREATE OR REPLACE VIEW lane_telemetry AS
    SELECT ticker, ts, open, high, low, close, volume FROM bars;

CREATE TABLE IF NOT EXISTS bars_quarantine (
    minute_ts TIMESTAMPTZ,  -- null: the row could not be placed in any minute
    source TEXT NOT NULL,
    source_row BIGINT,
    ticker TEXT,
    ts TEXT,
    open TEXT,
    high TEXT,
    low TEXT,
    close TEXT,
    volume TEXT,
    reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_bars_quarantine_minute ON bars_quarantine (minute_ts);
CREATE INDEX IF NOT EXISTS idx_bars_quarantine_source ON bars_quarantine (source) WHERE minute_ts IS NULL;

-- One paper dispatch decision per recommendation: the 5 gates as JSON, the simulated fill.
CREATE TABLE IF NOT EXISTS executions (
    recommendation_id TEXT PRIMARY KEY,  -- one decision per recommendation (idempotency key)
    ticker TEXT NOT NULL,
    ts TIMESTAMPTZ NOT NULL,
    decided_at TIMESTAMPTZ NOT NULL,
    action TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('SIMULATED', 'SKIPPED')),
    failed_gates TEXT,
    gates JSONB NOT NULL,
    bar_ts TIMESTAMPTZ,
    bar_close DOUBLE PRECISION,
    features_ts TIMESTAMPTZ,
    recent_vol DOUBLE PRECISION,
    entry_price DOUBLE PRECISION,
    stop_loss_price DOUBLE PRECISION,
    take_profit_price DOUBLE PRECISION,
    qty BIGINT,
    notional DOUBLE PRECISION,
    max_hold_minutes BIGINT
);
CREATE INDEX IF NOT EXISTS idx_executions_ts ON executions (ts);
CREATE INDEX IF NOT EXISTS idx_executions_ticker_ts ON executions (ticker, ts DESC);

-- Per session: each simulated trade's exit, and the session report (one JSON document).
CREATE TABLE IF NOT EXISTS outcomes (
    recommendation_id TEXT PRIMARY KEY,
    ticker TEXT NOT NULL,
    action TEXT NOT NULL,
    entry_ts TIMESTAMPTZ NOT NULL,
    entry_price DOUBLE PRECISION NOT NULL,
    exit_ts TIMESTAMPTZ NOT NULL,
    exit_price DOUBLE PRECISION NOT NULL,
    exit_reason TEXT NOT NULL,
    bars_held BIGINT NOT NULL,
    pnl DOUBLE PRECISION NOT NULL,
    r_multiple DOUBLE PRECISION,
    win BOOLEAN NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_outcomes_entry_ts ON outcomes (entry_ts);

CREATE TABLE IF NOT EXISTS session_report (
    session_date TEXT PRIMARY KEY,
    session_start TIMESTAMPTZ NOT NULL,
    generated_at TIMESTAMPTZ NOT NULL,
    report JSONB NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_session_report_start ON session_report (session_start);
